// signal_fault.c - synchronous signals from CPU exceptions, with the
// siginfo Linux gives, caught by handlers that siglongjmp out (or return,
// for int3). Modes:
//   (none): a write and a read through unmapped addresses (SIGSEGV,
//           SEGV_MAPERR, si_addr), ud2 (SIGILL, ILL_ILLOPN, si_addr = rip),
//           integer division by zero (SIGFPE, FPE_INTDIV), an unmasked SSE
//           division by zero (SIGFPE, FPE_FLTDIV), int3 (SIGTRAP,
//           returns after the int3), a handler that skips the faulting
//           instruction by editing the ucontext's RIP, a fault that repeats
//           in a loop (nested siglongjmp); exits 0.
//   segv-default: a null write without a handler (killed by SIGSEGV).
//   segv-blocked: a null write with SIGSEGV blocked (killed, as Linux).
//   ill-default, fpe-default, trap-default: ud2, a division by zero, int3
//           without a handler (killed by SIGILL, SIGFPE, SIGTRAP).
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

static sigjmp_buf g_jmp;
static volatile int g_sig, g_code;
static volatile uintptr_t g_addr;
static volatile uintptr_t g_trap_rip;

static void jump_handler(int sig, siginfo_t* si, void* uc) {
    (void)uc;
    g_sig = sig;
    g_code = si->si_code;
    g_addr = (uintptr_t)si->si_addr;
    siglongjmp(g_jmp, 1);
}

static void trap_handler(int sig, siginfo_t* si, void* uc) {
    g_sig = sig;
    g_code = si->si_code;
    g_trap_rip = (uintptr_t)((ucontext_t*)uc)->uc_mcontext.gregs[REG_RIP];
}

// The faulting instruction is `mov %eax,(%rdx)` (2 bytes): skip it.
static void skip_handler(int sig, siginfo_t* si, void* uc) {
    g_sig = sig;
    g_addr = (uintptr_t)si->si_addr;
    ((ucontext_t*)uc)->uc_mcontext.gregs[REG_RIP] += 2;
}

static void install(int sig, void (*h)(int, siginfo_t*, void*)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = h;
    sa.sa_flags = SA_SIGINFO;
    sigaction(sig, &sa, NULL);
}

static void report(const char* what, uintptr_t want_addr) {
    printf("%s: sig=%d code=%d addr_ok=%d\n", what, g_sig, g_code, g_addr == want_addr);
    g_sig = g_code = 0;
    g_addr = 0;
}

extern char ud2_site[];

// Addresses through a volatile, so the compiler neither warns nor assumes.
static volatile int* bad(uintptr_t a) {
    static volatile uintptr_t v;
    v = a;
    return (volatile int*)v;
}

int main(int argc, char** argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    const char* mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "segv-default") == 0) {
        printf("writing through null\n");
        *bad(0) = 1;
        return 0;
    }
    if (strcmp(mode, "ill-default") == 0) {
        printf("executing ud2\n");
        __asm__ volatile("ud2");
        return 0;
    }
    if (strcmp(mode, "fpe-default") == 0) {
        printf("dividing by zero\n");
        static volatile int zero;
        return 1 / zero;
    }
    if (strcmp(mode, "trap-default") == 0) {
        printf("executing int3\n");
        __asm__ volatile("int3");
        return 0;
    }
    if (strcmp(mode, "segv-blocked") == 0) {
        install(SIGSEGV, jump_handler);
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGSEGV);
        sigprocmask(SIG_BLOCK, &s, NULL);
        printf("writing through null with SIGSEGV blocked\n");
        *bad(0) = 1;
        return 0;
    }

    install(SIGSEGV, jump_handler);
    install(SIGILL, jump_handler);
    install(SIGFPE, jump_handler);
    install(SIGTRAP, trap_handler);

    if (sigsetjmp(g_jmp, 1) == 0) *bad(0) = 1;
    report("null write", 0);
    if (sigsetjmp(g_jmp, 1) == 0) (void)*bad(0x18);
    report("read at 0x18", 0x18);
    const uintptr_t far = (uintptr_t)1 << 46;  // unmapped in both
    if (sigsetjmp(g_jmp, 1) == 0) (void)*bad(far);
    report("read far above memory", far);
    for (volatile int i = 0; i < 3; i++) {
        if (sigsetjmp(g_jmp, 1) == 0) *bad(8) = i;
    }
    report("three faults in a row", 8);

    if (sigsetjmp(g_jmp, 1) == 0) __asm__ volatile("ud2_site: ud2");
    report("ud2", (uintptr_t)ud2_site);

    volatile int zero = 0, num = 7;
    if (sigsetjmp(g_jmp, 1) == 0) printf("%d\n", num / zero);
    printf("divide by zero: sig=%d code=%d\n", g_sig, g_code);
    g_sig = g_code = 0;

    // An unmasked SSE divide-by-zero: #XM, SIGFPE with FPE_FLTDIV.
    unsigned mxcsr, saved;
    __asm__ volatile("stmxcsr %0" : "=m"(saved));
    mxcsr = saved & ~(1u << 9);  // unmask ZE
    if (sigsetjmp(g_jmp, 1) == 0) {
        volatile double one = 1.0, zero_d = 0.0, q;
        __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
        q = one / zero_d;
        (void)q;
    }
    __asm__ volatile("ldmxcsr %0" : : "m"(saved));
    printf("sse divide by zero: sig=%d code=%d\n", g_sig, g_code);
    g_sig = g_code = 0;

    uintptr_t after;
    __asm__ volatile("int3\n1:\tlea 1b(%%rip), %0" : "=r"(after));
    printf("int3: sig=%d code=%d rip_after_int3=%d\n", g_sig, g_code, g_trap_rip == after);
    g_sig = g_code = 0;

    install(SIGSEGV, skip_handler);
    int v = 5;
    __asm__ volatile("mov %%eax, (%%rdx)" : : "a"(v), "d"((uintptr_t)16) : "memory");
    printf("skipped the faulting write: sig=%d addr_ok=%d\n", g_sig, g_addr == 16);
    return 0;
}
