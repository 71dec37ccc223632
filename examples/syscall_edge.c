// syscall_edge: syscall sites that a syscall fast path must leave exactly as
// Linux runs them. Every case prints what it saw, so a run in Ember (with and
// without syscall patching) can be compared byte for byte with a native run.
// Each site runs several times: in Ember the first run traps and may patch
// the site, the later runs take whatever path the patch made.
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

// long sys_write_at(const char* p, long n): write(1, p, n) through a
// `mov $1,%eax; syscall` window, position-independent (copyable).
// long sys_raw(long nr): a `mov $nr,%eax; syscall` window per big number.
// long sys_multi(long nr, const char* p, long n): with nr == 0, write(1, p, n)
// through a window; otherwise jumps straight to the window's `syscall` with
// rax = nr, as compiled code merging two paths may do.
__asm__(
    ".text\n"
    ".globl sys_write_at, sys_write_at_end\n"
    "sys_write_at:\n"
    "  mov %rsi, %rdx\n"
    "  mov %rdi, %rsi\n"
    "  mov $1, %edi\n"
    "  mov $1, %eax\n"
    "  syscall\n"
    "  ret\n"
    "sys_write_at_end:\n"
    ".globl sys_big_x32, sys_big_1000, sys_big_f00, sys_big_max\n"
    "sys_big_x32:\n"
    "  mov $0x400001f4, %eax\n"
    "  syscall\n"
    "  ret\n"
    "sys_big_1000:\n"
    "  mov $1000, %eax\n"
    "  syscall\n"
    "  ret\n"
    "sys_big_f00:\n"
    "  mov $0xf00, %eax\n"
    "  syscall\n"
    "  ret\n"
    "sys_big_max:\n"
    "  mov $-1, %rax\n"
    "  syscall\n"
    "  ret\n"
    ".globl sys_multi\n"
    "sys_multi:\n"
    "  test %rdi, %rdi\n"
    "  jz 1f\n"
    "  mov %rdi, %rax\n"
    "  jmp 2f\n"
    "1:\n"
    "  mov $1, %edi\n"
    "  mov $1, %eax\n"
    "2:\n"
    "  syscall\n"
    "  ret\n"
    // Windows with register moves between the mov of the number and the
    // syscall (glibc's pthread_create and start_thread have such sites):
    // the last one, a 7-byte lea, a rip-relative lea or a 5-byte mov, is
    // what a patch replaces. sys_lea_multi(nr, p, n) is sys_multi for the
    // first: with nr != 0 it jumps to the lea with rax = nr.
    ".globl sys_lea_multi, sys_lea_rip, sys_mov5\n"
    "sys_lea_multi:\n"
    "  mov %rdx, %r8\n"
    "  test %rdi, %rdi\n"
    "  jz 1f\n"
    "  mov %rdi, %rax\n"
    "  mov %r8, %rdx\n"
    "  jmp 2f\n"
    "1:\n"
    "  mov %r8, %rdx\n"
    "  mov $1, %eax\n"
    "  mov $1, %edi\n"
    "2:\n"
    "  .byte 0x48, 0x8d, 0xb6, 0, 0, 0, 0\n"  // lea 0x0(%rsi),%rsi with a 32-bit displacement
    "  syscall\n"
    "  ret\n"
    "sys_lea_rip:\n"  // (n): writes the first n bytes of lea_rip_text
    "  mov %rdi, %rdx\n"
    "  mov $1, %eax\n"
    "  xor %edi, %edi\n"
    "  mov $1, %edi\n"
    "  lea lea_rip_text(%rip), %rsi\n"
    "  syscall\n"
    "  ret\n"
    "sys_mov5:\n"  // (p, n): write(1, p, n)
    "  mov $1, %eax\n"
    "  mov %rsi, %rdx\n"
    "  mov %rdi, %rsi\n"
    "  mov $1, %edi\n"
    "  syscall\n"
    "  ret\n"
    ".section .rodata\n"
    "lea_rip_text: .ascii \"rip-relative lea window\\n\"\n"
    ".text\n");

long sys_write_at(const char* p, long n);
extern const char sys_write_at_end[];
long sys_big_x32(void);
long sys_big_1000(void);
long sys_big_f00(void);
long sys_big_max(void);
long sys_multi(long nr, const char* p, long n);
long sys_lea_multi(long nr, const char* p, long n);
long sys_lea_rip(long n);
long sys_mov5(const char* p, long n);

// A leaf function whose array lives in the red zone below %rsp while the
// syscall runs: a fast path that pushes a return address corrupts it.
__attribute__((noinline)) static long red_zone_leaf(int round) {
    char buf[24];
    for (int i = 0; i < 23; i++) buf[i] = (char)('a' + (i + round) % 26);
    buf[23] = '\n';
    long r;
    __asm__ volatile("mov $1, %%eax\n\tsyscall"
                     : "=a"(r)
                     : "D"(1), "S"(buf), "d"(24L)
                     : "rcx", "r11", "memory");
    // Read the array again after the syscall: it must be unchanged.
    long sum = 0;
    for (int i = 0; i < 24; i++) sum += buf[i];
    return r * 100000 + sum;
}

static void red_zone(void) {
    for (int round = 0; round < 4; round++) {
        const long v = red_zone_leaf(round);
        printf("red zone %d: %ld\n", round, v);
        fflush(stdout);
    }
}

static void big_numbers(void) {
    for (int round = 0; round < 3; round++) {
        printf("big numbers %d: %ld %ld %ld %ld\n", round, sys_big_x32(), sys_big_1000(),
               sys_big_f00(), sys_big_max());
    }
    fflush(stdout);
}

static void different_rax(void) {
    for (int round = 0; round < 3; round++) {
        const long w = sys_multi(0, "multi write\n", 12);
        const long e = sys_multi(0x40000abcL, "", 0);
        const long g = sys_multi(1, "via jump\n", 9);  // rax = 1 = write, rdi kept = 1
        printf("different rax %d: %ld %ld %ld\n", round, w, e, g);
        fflush(stdout);
    }
}

static void copied_code(void) {
    const size_t len = (size_t)(sys_write_at_end - (const char*)sys_write_at);
    // Run the original first, so that in Ember its site is patched before
    // the copy is made: the copy then carries the patched bytes.
    for (int i = 0; i < 2; i++) sys_write_at("original\n", 9);
    unsigned char* copy =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (copy == MAP_FAILED) {
        printf("mmap failed\n");
        return;
    }
    memcpy(copy + 100, (const void*)sys_write_at, len);
    long (*fn)(const char*, long) = (long (*)(const char*, long))(copy + 100);
    for (int i = 0; i < 3; i++) printf("copy returned %ld\n", fn("from the copy\n", 14));
    fflush(stdout);
    for (int i = 0; i < 2; i++) sys_write_at("original again\n", 15);
    munmap(copy, 4096);
}

static void register_windows(void) {
    for (int round = 0; round < 3; round++) {
        const long w = sys_lea_multi(0, "lea window\n", 11);
        const long e = sys_lea_multi(0x40000abcL, "", 0);
        const long g = sys_lea_multi(1, "lea via jump\n", 13);
        const long r = sys_lea_rip(24);
        const long m = sys_mov5("mov5 window\n", 12);
        printf("register windows %d: %ld %ld %ld %ld %ld\n", round, w, e, g, r, m);
        fflush(stdout);
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    red_zone();
    big_numbers();
    different_rax();
    copied_code();
    register_windows();
    printf("done\n");
    return 0;
}
