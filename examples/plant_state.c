// plant_state.c - a hostile application for the per-request isolation test
// (tests/vm/isolation_test.cpp). It serves one command per line of stdin and
// blocks on stdin in between, where Ember snapshots it:
//   report  prints, as key=value, the state a previous instance could have
//           left behind: memory (heap, stack, .data, .bss, the kernel's
//           image), the GS base, the vector registers (x87, SSE, AVX upper
//           halves, MXCSR) as they are when the instance resumes, and, read
//           at CPL 0, the debug registers, CR0/CR4/CR8 and some MSRs;
//   plant   changes all of them, then exits at once with the planted vector
//           state and control registers still live;
//   spin0   enters CPL 0 and spins there until the host stops the instance.
// CPL 0 is reached as any Ember application can reach it: by rewriting the
// kernel's syscall entry stub (MSR_LSTAR, found in the kernel header) to
// jump to code of ours, which ends with sysretq; the stub is put back.
//
// Only meaningful inside an Ember microVM: it refuses to run without
// --in-ember.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi/ember_abi.h"

#define NMSR 8
// Read by `report`; the first five are also planted (each MSR here is in
// KVM's list on the hosts measured, so rdmsr at CPL 0 does not fault).
const uint32_t msr_index[NMSR] = {
    0x174,       // SYSENTER_CS
    0x175,       // SYSENTER_ESP
    0x176,       // SYSENTER_EIP
    0xc0000102,  // KERNEL_GS_BASE
    0x3b,        // TSC_ADJUST
    0x277,       // PAT
    0xc0000080,  // EFER
    0x1d9,       // DEBUGCTL
};

// Shared with the CPL-0 code below (offsets are hard-coded there).
struct cpl0_args {
    uint64_t mode;       // 0: read into the fields, 1: plant from them, 2: spin
    uint64_t dr[6];      // 8: DR0-DR3, DR6, DR7
    uint64_t cr[3];      // 56: CR0, CR4, CR8 (read only)
    uint64_t msr[NMSR];  // 80
};
struct cpl0_args cpl0_args;

void cpl0_entry(void);
// Entered by `syscall` through the rewritten stub: CPL 0, rcx = the return
// address, r11 = the flags, on the caller's stack (not used).
__asm__(
    ".text\n"
    ".globl cpl0_entry\n"
    "cpl0_entry:\n"
    "  mov %rcx, %r10\n"  // rdmsr/wrmsr need rcx
    "  mov %r11, %r9\n"
    "  lea cpl0_args(%rip), %rsi\n"
    "  lea msr_index(%rip), %rdi\n"
    "  cmpq $2, 0(%rsi)\n"
    "  je 5f\n"
    "  cmpq $1, 0(%rsi)\n"
    "  je 3f\n"
    "  mov %dr0, %rax\n  mov %rax, 8(%rsi)\n"
    "  mov %dr1, %rax\n  mov %rax, 16(%rsi)\n"
    "  mov %dr2, %rax\n  mov %rax, 24(%rsi)\n"
    "  mov %dr3, %rax\n  mov %rax, 32(%rsi)\n"
    "  mov %dr6, %rax\n  mov %rax, 40(%rsi)\n"
    "  mov %dr7, %rax\n  mov %rax, 48(%rsi)\n"
    "  mov %cr0, %rax\n  mov %rax, 56(%rsi)\n"
    "  mov %cr4, %rax\n  mov %rax, 64(%rsi)\n"
    "  mov %cr8, %rax\n  mov %rax, 72(%rsi)\n"
    "  lea 80(%rsi), %r8\n"
    "  mov $8, %ebx\n"
    "1:\n"
    "  mov (%rdi), %ecx\n"
    "  rdmsr\n"
    "  shl $32, %rdx\n"
    "  or %rdx, %rax\n"
    "  mov %rax, (%r8)\n"
    "  add $4, %rdi\n"
    "  add $8, %r8\n"
    "  dec %ebx\n"
    "  jnz 1b\n"
    "  jmp 9f\n"
    "3:\n"
    "  mov 8(%rsi), %rax\n  mov %rax, %dr0\n"
    "  mov 16(%rsi), %rax\n  mov %rax, %dr1\n"
    "  mov 24(%rsi), %rax\n  mov %rax, %dr2\n"
    "  mov 32(%rsi), %rax\n  mov %rax, %dr3\n"
    "  mov 40(%rsi), %rax\n  mov %rax, %dr6\n"
    "  mov 48(%rsi), %rax\n  mov %rax, %dr7\n"
    "  lea 80(%rsi), %r8\n"
    "  mov $5, %ebx\n"
    "4:\n"
    "  mov (%rdi), %ecx\n"
    "  mov (%r8), %rax\n"
    "  mov %rax, %rdx\n"
    "  shr $32, %rdx\n"
    "  wrmsr\n"
    "  add $4, %rdi\n"
    "  add $8, %r8\n"
    "  dec %ebx\n"
    "  jnz 4b\n"
    "  jmp 9f\n"
    "5:\n"
    "  jmp 5b\n"
    "9:\n"
    "  mov %r10, %rcx\n"
    "  mov %r9, %r11\n"
    "  sysretq\n");

static volatile uint64_t zero;  // loaded into rax so no syscall site here is patched

// Runs cpl0_entry at CPL 0 with cpl0_args.mode = mode.
static void at_cpl0(uint64_t mode) {
    const struct ember_kernel_header* kh = (const struct ember_kernel_header*)EMBER_GPA_KERNEL;
    volatile uint8_t* stub = (volatile uint8_t*)kh->syscall_entry;
    uint8_t saved[14], jmp[14] = {0xff, 0x25, 0, 0, 0, 0};  // jmp *0(%rip); .quad target
    const uint64_t target = (uint64_t)cpl0_entry;
    memcpy(jmp + 6, &target, 8);
    for (int i = 0; i < 14; i++) saved[i] = stub[i];
    cpl0_args.mode = mode;
    for (int i = 0; i < 14; i++) stub[i] = jmp[i];
    __asm__ volatile("syscall"
                     :
                     : "a"(zero)
                     : "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
    for (int i = 0; i < 14; i++) stub[i] = saved[i];
}

// ---- vector state ------------------------------------------------------------

static int have_avx;
static uint8_t fxsave_area[512] __attribute__((aligned(64)));
static uint8_t ymm_high[16][16] __attribute__((aligned(32)));

// read(0, buf, 1) by a raw syscall; with `capture`, the vector registers
// are saved right after it returns, before any compiled code can use them
// (the Ember kernel uses none), so they are what the instance resumed with.
static long read_byte(char* buf, int capture) {
    long r;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(zero), "D"(0), "S"(buf), "d"(1)
                     : "rcx", "r11", "memory");
    if (!capture) return r;
    __asm__ volatile("fxsave64 %0" : "=m"(fxsave_area));
    if (have_avx)
        __asm__ volatile(
            "vextractf128 $1, %%ymm0, 0(%0)\n vextractf128 $1, %%ymm1, 16(%0)\n"
            "vextractf128 $1, %%ymm2, 32(%0)\n vextractf128 $1, %%ymm3, 48(%0)\n"
            "vextractf128 $1, %%ymm4, 64(%0)\n vextractf128 $1, %%ymm5, 80(%0)\n"
            "vextractf128 $1, %%ymm6, 96(%0)\n vextractf128 $1, %%ymm7, 112(%0)\n"
            "vextractf128 $1, %%ymm8, 128(%0)\n vextractf128 $1, %%ymm9, 144(%0)\n"
            "vextractf128 $1, %%ymm10, 160(%0)\n vextractf128 $1, %%ymm11, 176(%0)\n"
            "vextractf128 $1, %%ymm12, 192(%0)\n vextractf128 $1, %%ymm13, 208(%0)\n"
            "vextractf128 $1, %%ymm14, 224(%0)\n vextractf128 $1, %%ymm15, 240(%0)\n"
            :
            : "r"(ymm_high)
            : "memory");
    return r;
}

static uint64_t fnv(const void* p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t*)p)[i]) * 0x100000001b3ull;
    return h;
}

static const uint64_t kPattern = 0x5a5a5a5aa5a5a5a5ull;

// Fills every vector register, MXCSR (flush-to-zero, denormals-are-zero)
// and the x87 control word (single precision), then exits: nothing runs
// after that could overwrite them.
static void plant_vectors_and_exit(void) {
    static const uint32_t mxcsr = 0x9fc0, fcw = 0x007f;
    __asm__ volatile("fldcw %0\n ldmxcsr %1" : : "m"(fcw), "m"(mxcsr));
    if (have_avx)
        __asm__ volatile(
            "vbroadcastsd %0, %%ymm0\n vmovaps %%ymm0, %%ymm1\n vmovaps %%ymm0, %%ymm2\n"
            "vmovaps %%ymm0, %%ymm3\n vmovaps %%ymm0, %%ymm4\n vmovaps %%ymm0, %%ymm5\n"
            "vmovaps %%ymm0, %%ymm6\n vmovaps %%ymm0, %%ymm7\n vmovaps %%ymm0, %%ymm8\n"
            "vmovaps %%ymm0, %%ymm9\n vmovaps %%ymm0, %%ymm10\n vmovaps %%ymm0, %%ymm11\n"
            "vmovaps %%ymm0, %%ymm12\n vmovaps %%ymm0, %%ymm13\n vmovaps %%ymm0, %%ymm14\n"
            "vmovaps %%ymm0, %%ymm15\n"
            :
            : "m"(kPattern));
    else
        __asm__ volatile(
            "movq %0, %%xmm0\n movddup %%xmm0, %%xmm0\n movaps %%xmm0, %%xmm15\n"
            "movaps %%xmm0, %%xmm8\n"
            :
            : "m"(kPattern));
    __asm__ volatile("mov $231, %%eax\n xor %%edi, %%edi\n syscall"
                     :
                     :
                     : "rax", "rdi", "rcx", "r11");
    __builtin_unreachable();
}

// ---- memory --------------------------------------------------------------------

static uint64_t data_marker = 0x2e646174612e2e2eull;  // .data
static uint64_t bss_marker;                           // .bss
static uint64_t* heap_marker;
// The last word of the kernel's 1 MiB region (past its image, unused).
static volatile uint64_t* const kernel_marker = (volatile uint64_t*)(EMBER_GPA_KERNEL_END - 8);

static uint64_t rdgsbase(void) {
    uint64_t v;
    __asm__ volatile("rdgsbase %0" : "=r"(v));
    return v;
}

static void report(volatile uint64_t* stack_marker) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    const uint64_t xcr0 = ((uint64_t)hi << 32) | lo;
    uint16_t fcw;
    uint32_t mxcsr;
    memcpy(&fcw, fxsave_area, 2);
    memcpy(&mxcsr, fxsave_area + 24, 4);
    // x87 + XMM registers (bytes 0-415 of the FXSAVE image) and YMM upper halves.
    printf("heap=%llx data=%llx bss=%llx stack=%llx kernel=%llx gsbase=%llx\n",
           (unsigned long long)*heap_marker, (unsigned long long)data_marker,
           (unsigned long long)bss_marker, (unsigned long long)*stack_marker,
           (unsigned long long)*kernel_marker, (unsigned long long)rdgsbase());
    printf("fcw=%x mxcsr=%x fxsave=%llx ymmh=%llx xcr0=%llx\n", fcw, mxcsr,
           (unsigned long long)fnv(fxsave_area, 416),
           (unsigned long long)fnv(ymm_high, sizeof ymm_high), (unsigned long long)xcr0);
    at_cpl0(0);
    printf("dr0=%llx dr1=%llx dr2=%llx dr3=%llx dr6=%llx dr7=%llx cr0=%llx cr4=%llx cr8=%llx\n",
           (unsigned long long)cpl0_args.dr[0], (unsigned long long)cpl0_args.dr[1],
           (unsigned long long)cpl0_args.dr[2], (unsigned long long)cpl0_args.dr[3],
           (unsigned long long)cpl0_args.dr[4], (unsigned long long)cpl0_args.dr[5],
           (unsigned long long)cpl0_args.cr[0], (unsigned long long)cpl0_args.cr[1],
           (unsigned long long)cpl0_args.cr[2]);
    for (int i = 0; i < NMSR; i++)
        printf("%smsr%x=%llx", i ? " " : "", msr_index[i], (unsigned long long)cpl0_args.msr[i]);
    printf("\n");
    fflush(stdout);
}

static void plant(volatile uint64_t* stack_marker) {
    const uint64_t planted = 0x706c616e74656421ull;  // "planted!"
    *heap_marker = planted;
    data_marker = planted;
    bss_marker = planted;
    *stack_marker = planted;
    *kernel_marker = planted;
    __asm__ volatile("wrgsbase %0" : : "r"(planted & 0x7fffffffffffull));
    at_cpl0(0);                   // the current MSR values, to plant changed ones
    cpl0_args.dr[0] = 0x7777000;  // an execute breakpoint nothing here reaches
    cpl0_args.dr[1] = 0x7777100;
    cpl0_args.dr[2] = 0x7777200;
    cpl0_args.dr[3] = 0x7777300;
    cpl0_args.dr[4] = 0xffff0ff1;  // DR6.B0
    cpl0_args.dr[5] = 0x401;       // DR7.L0
    cpl0_args.msr[0] = 0x10;
    cpl0_args.msr[1] = 0x7777400;
    cpl0_args.msr[2] = 0x7777500;
    cpl0_args.msr[3] = 0x7777600;
    cpl0_args.msr[4] += 12345;
    at_cpl0(1);
    printf("planted\n");
    fflush(stdout);
    plant_vectors_and_exit();
}

int main(int argc, char** argv) {
    if (argc < 2 || strcmp(argv[1], "--in-ember") != 0) {
        fprintf(stderr, "plant_state: runs only inside an Ember microVM (pass --in-ember)\n");
        return 2;
    }
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    have_avx = (lo & 6) == 6;
    heap_marker = malloc(64);
    *heap_marker = 0x2e2e2e686561702eull;
    volatile uint64_t stack_marker = 0x2e2e2e737461636bull;
    bss_marker = 0;
    printf("ready\n");
    fflush(stdout);
    char line[32];
    for (;;) {
        size_t n = 0;
        char c;
        long r;
        while ((r = read_byte(&c, n == 0)) == 1 && c != '\n')
            if (n + 1 < sizeof line) line[n++] = c;
        line[n] = 0;
        if (r <= 0 && n == 0) return 0;
        if (strcmp(line, "report") == 0)
            report(&stack_marker);
        else if (strcmp(line, "plant") == 0)
            plant(&stack_marker);
        else if (strcmp(line, "spin0") == 0)
            at_cpl0(2);
        else
            printf("unknown command %s\n", line);
        fflush(stdout);
    }
}
