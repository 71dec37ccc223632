// kernel_shim.cpp - the guest kernel API used by src/kernel/fs, on the host.
//
// Only kernel headers here (see kernel_shim.h); the few libc functions the
// shim needs are declared by hand.
#include "kernel_shim.h"

#include <stdarg.h>

#include "kernel.h"
#include "mm_maps.h"

extern "C" {
void* calloc(size_t count, size_t size);
void* aligned_alloc(size_t align, size_t size);
void free(void* p);
int vsnprintf(char* out, size_t cap, const char* fmt, va_list ap);
[[noreturn]] void abort();
}

namespace {
k::SyscallFn g_table[k::kMaxSyscall];
bool g_registered;
int64_t g_alloc_budget = -1;  // < 0: unlimited
ember_boot_info g_boot;
int64_t g_clock = 1700000000ll * 1000000000ll;
uint64_t g_rng = 0x9e3779b97f4a7c15ull;

uint64_t g_alloc_calls;

bool alloc_allowed() {
    g_alloc_calls++;
    if (g_alloc_budget < 0) return true;
    if (g_alloc_budget == 0) return false;
    g_alloc_budget--;
    return true;
}
}  // namespace

namespace k {

// One thread on the host: a pipe wait that only another thread could end
// fails as in a single-threaded guest (sched/sched.cpp).
int64_t block_for_others() { return -EDEADLK; }

size_t strnlen(const char* s, size_t max) {
    size_t n = 0;
    while (n < max && s[n]) n++;
    return n;
}
int strcmp(const char* a, const char* b) {
    while (*a && *a == *b) a++, b++;
    return static_cast<unsigned char>(*a) - static_cast<unsigned char>(*b);
}
int strncmp(const char* a, const char* b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i] || !a[i])
            return static_cast<unsigned char>(a[i]) - static_cast<unsigned char>(b[i]);
    }
    return 0;
}

void klog(const char* fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    shim::log_line(line);
}

void panic(const char* msg) {
    shim::log_line(msg);
    abort();
}

ember_boot_info* boot() { return &g_boot; }

void* kmalloc(size_t n) { return alloc_allowed() ? calloc(1, n ? n : 1) : nullptr; }
void* kcalloc(size_t count, size_t size) {
    if (size && count > ~size_t{0} / size) return nullptr;
    return kmalloc(count * size);
}
void kfree(void* p) { free(p); }

uint64_t pages_alloc(uint64_t npages) {
    if (npages == 0 || npages > (1ull << 20) || !alloc_allowed()) return 0;
    void* p = aligned_alloc(EMBER_PAGE_SIZE, npages * EMBER_PAGE_SIZE);
    if (!p) return 0;
    memset(p, 0, npages * EMBER_PAGE_SIZE);
    return reinterpret_cast<uint64_t>(p);
}
void pages_free(uint64_t addr, uint64_t) { free(reinterpret_cast<void*>(addr)); }
uint64_t mem_free_bytes() { return 256ull << 20; }

bool user_ok(uint64_t addr, uint64_t len) {
    return addr >= shim::kUserMin && len <= (1ull << 47) && addr + len >= addr;
}
bool user_ok_write(uint64_t addr, uint64_t len) { return user_ok(addr, len); }

int64_t user_strncpy(char* out, uint64_t src, size_t cap) {
    if (!user_ok(src, 1)) return -EFAULT;
    const char* s = reinterpret_cast<const char*>(src);
    for (size_t i = 0; i < cap; i++) {
        out[i] = s[i];
        if (!s[i]) return static_cast<int64_t>(i);
    }
    return -ENAMETOOLONG;
}

uint64_t monotonic_ns() { return static_cast<uint64_t>(g_clock += 1000); }
int64_t realtime_ns() { return g_clock += 1000; }

void random_fill(void* buf, size_t len) {
    auto* p = static_cast<uint8_t*>(buf);
    for (size_t i = 0; i < len; i++) {
        g_rng ^= g_rng << 13;
        g_rng ^= g_rng >> 7;
        g_rng ^= g_rng << 17;
        p[i] = static_cast<uint8_t>(g_rng);
    }
}

void console_write(int fd, const void* buf, size_t len) { shim::console_write(fd, buf, len); }
void console_flush() {}
int64_t stdin_read(void* buf, size_t len, bool nonblock) {
    return shim::stdin_read(buf, len, nonblock);
}
bool stdin_readable() { return shim::stdin_readable(); }

// /proc's view of the process: one thread (the mappings are mm_maps.cpp's).
uint32_t thread_list(ThreadInfo* out, uint32_t cap) {
    if (cap) out[0] = {kProcessId, 'R'};
    return 1;
}
int32_t current_tid() { return kProcessId; }
uint32_t thread_list_all(ThreadInfo* out, uint32_t cap) { return thread_list(out, cap); }
void signal_sets(int32_t, SignalSets* out) { *out = SignalSets{}; }
int32_t current_pid() { return kProcessId; }
uint32_t process_pids(int32_t* out, uint32_t cap) {
    if (cap) out[0] = kProcessId;
    return 1;
}
bool process_info(int32_t pid, ProcessInfo* out) {
    if (pid != kProcessId) return false;
    *out = ProcessInfo{};
    out->pid = out->pgid = out->sid = kProcessId;
    out->exit_signal = 17;
    const char* base = g_boot.execfn;
    for (const char* p = g_boot.execfn; *p; p++)
        if (*p == '/') base = p + 1;
    memcpy(out->comm, base, strnlen(base, sizeof out->comm - 1));
    out->exe = g_boot.execfn;
    return true;
}
bool process_view_begin(int32_t pid, bool) { return pid == kProcessId; }
void process_view_end() {}

void syscall_register(uint32_t nr, const char*, SyscallFn fn) {
    KCHECK(nr < kMaxSyscall);
    g_table[nr] = fn;
}

}  // namespace k

namespace shim {

bool fs_init(const void* archive, uint64_t size) {
    if (!g_registered) {
        k::register_fs_syscalls();
        g_registered = true;
    }
    // A program's text page and a two-page heap, as /proc/self/maps shows.
    k::maps::reset();
    k::maps::set(0x400000, 0x1000, k::MapKind::kImage, k::PROT_READ | k::PROT_EXEC, false);
    k::maps::set(0x402000, 0x2000, k::MapKind::kHeap, k::PROT_READ | k::PROT_WRITE, false);
    g_boot.mem_size = 1ull << 30;
    g_boot.rootfs_size = size;
    return k::fs_init(static_cast<const uint8_t*>(archive), size);
}

int64_t call(unsigned nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
             uint64_t a5) {
    if (nr >= k::kMaxSyscall || !g_table[nr]) return -k::ENOSYS;
    return g_table[nr](a0, a1, a2, a3, a4, a5);
}

bool registered(unsigned nr) { return nr < k::kMaxSyscall && g_table[nr]; }

int64_t pread_for_mmap(int fd, void* dst, uint64_t len, uint64_t off) {
    return k::fs_pread_for_mmap(fd, dst, len, off);
}

void fail_allocs_after(int64_t n) { g_alloc_budget = n; }
uint64_t alloc_calls() { return g_alloc_calls; }

void map(uint64_t addr, uint64_t len, int kind, uint64_t prot, bool shared, int fd, uint64_t off) {
    k::maps::set(addr, len, static_cast<k::MapKind>(kind), prot, shared, fd, off);
}
void map_protect(uint64_t addr, uint64_t len, uint64_t prot) { k::maps::protect(addr, len, prot); }
void map_clear(uint64_t addr, uint64_t len) { k::maps::clear(addr, len); }
void map_prepare() { k::maps::prepare(); }
void map_move(uint64_t dst, uint64_t src, uint64_t old_len, uint64_t new_len) {
    k::maps::move(dst, src, old_len, new_len);
}

bool map_any_in(uint64_t addr, uint64_t len) { return k::maps::any_in(addr, len); }
bool map_covers(uint64_t addr, uint64_t len) { return k::maps::covers(addr, len); }
uint64_t map_find_gap(uint64_t lo, uint64_t hi, uint64_t len) {
    return k::maps::find_gap(lo, hi, len);
}

int64_t clock_ns() { return g_clock; }
void advance_clock(int64_t ns) { g_clock += ns; }

void set_execfn(const char* path) {
    size_t n = k::strnlen(path, EMBER_BOOT_EXECFN_MAX - 1);
    memcpy(g_boot.execfn, path, n);
    g_boot.execfn[n] = 0;
}

}  // namespace shim
