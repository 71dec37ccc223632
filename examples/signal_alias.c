// signal_alias: rt_sigaction and rt_sigprocmask called with the same pointer
// for the new and the old value (and with a bad new-value pointer). Linux
// reads the new value before it writes the old one; the output is compared
// byte for byte with a native run. Raw syscalls: the C libraries' wrappers
// copy through separate buffers and would hide the aliasing.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

// The kernel's struct sigaction on x86-64 (not the C library's).
struct ksigaction {
    uint64_t handler, flags, restorer, mask;
};

#define KSA_RESTART 0x10000000ull
#define KSA_SIGINFO 0x4ull
#define BIT(sig) (1ull << ((sig)-1))
#define BAD_PTR ((void*)8)  // unmapped in both worlds

static void on_signal(int sig) { (void)sig; }

static const char* handler_name(uint64_t h) {
    if (h == (uint64_t)SIG_DFL) return "default";
    if (h == (uint64_t)SIG_IGN) return "ignore";
    if (h == (uint64_t)(uintptr_t)on_signal) return "on_signal";
    return "other";
}

static long ret(long r) { return r < 0 ? -errno : r; }

static void print_action(const char* what, const struct ksigaction* a) {
    printf("%s: handler=%s flags=%#llx mask=%#llx\n", what, handler_name(a->handler),
           (unsigned long long)a->flags, (unsigned long long)a->mask);
}

static void actions(void) {
    struct ksigaction first = {(uint64_t)SIG_IGN, KSA_RESTART, 0, BIT(SIGUSR2)};
    long r = ret(syscall(SYS_rt_sigaction, SIGUSR1, &first, NULL, 8));
    printf("set: %ld\n", r);

    struct ksigaction both = {(uint64_t)(uintptr_t)on_signal, KSA_SIGINFO, 0, BIT(SIGTERM)};
    r = ret(syscall(SYS_rt_sigaction, SIGUSR1, &both, &both, 8));
    printf("same pointer: %ld\n", r);
    print_action("  old", &both);
    struct ksigaction now = {0};
    printf("query: %ld\n", ret(syscall(SYS_rt_sigaction, SIGUSR1, NULL, &now, 8)));
    print_action("  now", &now);

    struct ksigaction untouched = {7, 7, 0, 7};
    r = ret(syscall(SYS_rt_sigaction, SIGUSR1, BAD_PTR, &untouched, 8));
    printf("bad new pointer: %ld\n", r);
    print_action("  old", &untouched);
}

static void print_mask(const char* what) {
    uint64_t m = 0;
    long r = ret(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &m, 8));
    printf("%s: %ld mask=%#llx\n", what, r, (unsigned long long)m);
}

static void masks(void) {
    uint64_t set = BIT(SIGUSR1);
    printf("setmask: %ld\n", ret(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &set, NULL, 8)));

    uint64_t both = BIT(SIGUSR2);
    long r = ret(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &both, &both, 8));
    printf("block, same pointer: %ld old=%#llx\n", r, (unsigned long long)both);
    print_mask("  now");

    both = BIT(SIGTERM);
    r = ret(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &both, &both, 8));
    printf("setmask, same pointer: %ld old=%#llx\n", r, (unsigned long long)both);
    print_mask("  now");

    uint64_t untouched = 7;
    r = ret(syscall(SYS_rt_sigprocmask, SIG_SETMASK, BAD_PTR, &untouched, 8));
    printf("bad new pointer: %ld old=%#llx\n", r, (unsigned long long)untouched);
    print_mask("  now");

    set = 0;
    printf("unblock all: %ld\n", ret(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &set, NULL, 8)));
}

int main(void) {
    actions();
    masks();
    printf("done\n");
    return 0;
}
