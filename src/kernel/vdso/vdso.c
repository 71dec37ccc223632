/* vdso.c - the guest's vDSO: clock_gettime, gettimeofday, time, clock_getres
 * and getcpu without a syscall, as Linux's vDSO gives them to every process
 * (glibc, musl and Go look it up through AT_SYSINFO_EHDR). Built as a small
 * position-independent shared object (vdso.lds) and embedded in the kernel
 * image (vdso_blob.S), which every address space maps at the same place.
 *
 * The clock is the kernel's own (io.cpp monotonic_ns/realtime_ns): the TSC
 * against the base in the boot info, read under boot_info.clock_seq, which
 * the kernel bumps around every base change it causes, so a read that a
 * preemption split around another thread's clock sync is done again. What
 * needs the kernel (a wall-clock base over a second old, CPU-time clocks,
 * unknown ids) goes to the syscall. That syscall sits after a register move,
 * never `mov $nr,%eax`, so the kernel never patches a site in this page,
 * which every process shares. */
#include <stdint.h>

#include "abi/ember_abi.h"

struct vdso_timespec {
    long tv_sec, tv_nsec;
};
struct vdso_timeval {
    long tv_sec, tv_usec;
};

long vdso_syscall2(long nr, long a, long b);
__asm__(
    ".text\n"
    ".globl vdso_syscall2\n"
    ".hidden vdso_syscall2\n"
    ".type vdso_syscall2,@function\n"
    "vdso_syscall2:\n"
    "    mov %rdi, %rax\n"
    "    mov %rsi, %rdi\n"
    "    mov %rdx, %rsi\n"
    "    syscall\n"
    "    ret\n"
    ".size vdso_syscall2, .-vdso_syscall2\n");

#define BOOT ((const volatile struct ember_boot_info*)EMBER_GPA_BOOT_INFO)
enum { kNrGettimeofday = 96, kNrTime = 201, kNrClockGettime = 228, kNrClockGetres = 229 };

static inline uint64_t rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* Monotonic (realtime = 0) or wall-clock ns into *out; 0 when the kernel
 * must answer (a base it has to refresh first, or a read that kept
 * racing). */
static int read_clock(int realtime, int64_t* out) {
    for (int tries = 0; tries < 4; tries++) {
        const uint32_t seq = BOOT->clock_seq;
        if (seq & 1) return 0;
        __asm__ volatile("" ::: "memory");
        const uint64_t khz = BOOT->tsc_khz, base = BOOT->tsc_base;
        const int64_t mono = BOOT->mono_base_ns, wall = BOOT->wall_base_ns;
        const uint64_t t = rdtsc();
        __asm__ volatile("" ::: "memory");
        if (BOOT->clock_seq != seq) continue;
        const uint64_t mult = (1000000ull << 32) / (khz ? khz : 1000000);
        const uint64_t delta = t > base ? t - base : 0;
        const uint64_t ns = (uint64_t)(((unsigned __int128)delta * mult) >> 32);
        if (!realtime) {
            *out = mono + (int64_t)ns;
            return 1;
        }
        if (ns > 1000000000ull) return 0; /* the kernel re-syncs with the host */
        *out = wall + (int64_t)ns;
        return 1;
    }
    return 0;
}

/* Which clock an id reads, as the kernel's clock_now: 1 wall, 0 monotonic,
 * -1 the kernel's to answer. */
static int clock_kind(long id) {
    switch (id) {
        case 0:  /* CLOCK_REALTIME */
        case 5:  /* CLOCK_REALTIME_COARSE */
        case 11: /* CLOCK_TAI */
            return 1;
        case 1: /* CLOCK_MONOTONIC */
        case 4: /* CLOCK_MONOTONIC_RAW */
        case 6: /* CLOCK_MONOTONIC_COARSE */
        case 7: /* CLOCK_BOOTTIME */
            return 0;
        default:
            return -1;
    }
}

int __vdso_clock_gettime(long id, struct vdso_timespec* ts) {
    const int kind = clock_kind(id);
    int64_t ns;
    if (kind < 0 || !read_clock(kind, &ns))
        return (int)vdso_syscall2(kNrClockGettime, id, (long)ts);
    ts->tv_sec = ns / 1000000000;
    ts->tv_nsec = ns % 1000000000;
    return 0;
}

int __vdso_gettimeofday(struct vdso_timeval* tv, void* tz) {
    int64_t ns;
    if (tv) {
        if (!read_clock(1, &ns)) return (int)vdso_syscall2(kNrGettimeofday, (long)tv, (long)tz);
        tv->tv_sec = ns / 1000000000;
        tv->tv_usec = (ns % 1000000000) / 1000;
    }
    if (tz) { /* struct timezone: UTC, no DST, as the syscall says */
        ((int*)tz)[0] = 0;
        ((int*)tz)[1] = 0;
    }
    return 0;
}

long __vdso_time(long* t) {
    int64_t ns;
    if (!read_clock(1, &ns)) return vdso_syscall2(kNrTime, (long)t, 0);
    const long s = ns / 1000000000;
    if (t) *t = s;
    return s;
}

int __vdso_clock_getres(long id, struct vdso_timespec* res) {
    if (clock_kind(id) < 0) return (int)vdso_syscall2(kNrClockGetres, id, (long)res);
    if (res) {
        res->tv_sec = 0;
        res->tv_nsec = 1;
    }
    return 0;
}

/* One vCPU: always CPU 0, node 0. */
int __vdso_getcpu(unsigned* cpu, unsigned* node, void* unused) {
    (void)unused;
    if (cpu) *cpu = 0;
    if (node) *node = 0;
    return 0;
}

int clock_gettime(long, struct vdso_timespec*) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct vdso_timeval*, void*) __attribute__((weak, alias("__vdso_gettimeofday")));
long time(long*) __attribute__((weak, alias("__vdso_time")));
int clock_getres(long, struct vdso_timespec*) __attribute__((weak, alias("__vdso_clock_getres")));
int getcpu(unsigned*, unsigned*, void*) __attribute__((weak, alias("__vdso_getcpu")));
