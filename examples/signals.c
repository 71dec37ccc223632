// signals.c - POSIX signal semantics, printed so that a run in Ember can be
// compared with a native run of the same binary:
//   handlers with SA_SIGINFO (si_code of raise/kill), masks and
//   rt_sigpending, deferral vs SA_NODEFER, SA_RESETHAND, sigaltstack with
//   SA_ONSTACK, the vector state (MXCSR) a handler sees and gets back,
//   rt_sigsuspend woken by another thread's tgkill, rt_sigtimedwait,
//   queued real-time signals, ignored signals, EPIPE with SIGPIPE ignored; then the mode's ending:
//   (none): exit 0;  abort: abort() (SIGABRT's default action);
//   term: raise(SIGTERM) with the default action; pipe: a write to a pipe
//   without readers (SIGPIPE's default action).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile int g_order[16];
static volatile int g_norder;
static volatile int g_code, g_pid_ok, g_on_alt, g_alt_flag;
static volatile unsigned g_handler_mxcsr;
static char g_alt[64 * 1024];
static pid_t g_main_tid;

static unsigned get_mxcsr(void) {
    unsigned v;
    __asm__ volatile("stmxcsr %0" : "=m"(v));
    return v;
}
static void set_mxcsr(unsigned v) { __asm__ volatile("ldmxcsr %0" : : "m"(v)); }

static void info_handler(int sig, siginfo_t* si, void* uc) {
    (void)uc;
    g_order[g_norder++] = sig;
    g_code = si->si_code;
    g_pid_ok = si->si_pid == getpid() && si->si_signo == sig;
}

static void nested_handler(int sig) {
    g_order[g_norder++] = sig;
    if (g_norder == 1) raise(sig);  // deferred unless SA_NODEFER
    g_order[g_norder++] = -sig;
}

static void alt_handler(int sig) {
    (void)sig;
    char local;
    g_on_alt = &local >= g_alt && &local < g_alt + sizeof g_alt;
    stack_t cur;
    sigaltstack(NULL, &cur);
    g_alt_flag = cur.ss_flags;
}

static void fpu_handler(int sig) {
    (void)sig;
    g_handler_mxcsr = get_mxcsr() & 0x6000;        // rounding control
    set_mxcsr((get_mxcsr() & ~0x6000u) | 0x2000);  // round down, undone at return
}

static void count_handler(int sig) { g_order[g_norder++] = sig; }

static volatile int g_rt[8], g_nrt;
static void rt_handler(int sig, siginfo_t* si, void* uc) {
    (void)sig;
    (void)uc;
    if (g_nrt < 8) g_rt[g_nrt++] = si->si_value.sival_int;
}

static void set_handler(int sig, void (*h)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = flags;
    sigaction(sig, &sa, NULL);
}

static void print_order(const char* what) {
    printf("%s:", what);
    for (int i = 0; i < g_norder; i++) printf(" %d", g_order[i]);
    printf("\n");
    g_norder = 0;
}

static void* kicker(void* arg) {
    (void)arg;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    syscall(SYS_tgkill, getpid(), g_main_tid, SIGUSR1);
    return NULL;
}

int main(int argc, char** argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    g_main_tid = (pid_t)syscall(SYS_gettid);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = info_handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    raise(SIGUSR1);
    printf("raise: ran=%d code=%d pid_ok=%d\n", g_norder, g_code, g_pid_ok);
    g_norder = 0;
    kill(getpid(), SIGUSR2);
    printf("kill: ran=%d code=%d pid_ok=%d\n", g_norder, g_code, g_pid_ok);
    g_norder = 0;

    // A blocked signal stays pending until unblocked.
    sigset_t set, old, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &old);
    raise(SIGUSR1);
    sigpending(&pend);
    printf("blocked: ran=%d pending=%d\n", g_norder, sigismember(&pend, SIGUSR1));
    sigprocmask(SIG_SETMASK, &old, NULL);
    sigpending(&pend);
    printf("unblocked: ran=%d pending=%d\n", g_norder, sigismember(&pend, SIGUSR1));
    g_norder = 0;

    // The handler's own signal is deferred until it returns, unless SA_NODEFER.
    set_handler(SIGUSR2, nested_handler, 0);
    raise(SIGUSR2);
    print_order("deferred");
    set_handler(SIGUSR2, nested_handler, SA_NODEFER);
    raise(SIGUSR2);
    print_order("nodefer");

    // SA_RESETHAND: once, then the default action again.
    set_handler(SIGUSR2, count_handler, SA_RESETHAND);
    raise(SIGUSR2);
    struct sigaction now;
    sigaction(SIGUSR2, NULL, &now);
    print_order("resethand");
    printf("resethand: now default=%d\n", now.sa_handler == SIG_DFL);

    // sigaltstack and SA_ONSTACK.
    stack_t ss = {.ss_sp = g_alt, .ss_size = sizeof g_alt, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) perror("sigaltstack");
    set_handler(SIGUSR2, alt_handler, SA_ONSTACK);
    raise(SIGUSR2);
    printf("altstack: on=%d flags_onstack=%d\n", g_on_alt, g_alt_flag == SS_ONSTACK);
    set_handler(SIGUSR2, alt_handler, 0);
    raise(SIGUSR2);
    printf("no SA_ONSTACK: on=%d\n", g_on_alt);
    stack_t small = {.ss_sp = g_alt, .ss_size = 100, .ss_flags = 0};
    errno = 0;
    int tiny = sigaltstack(&small, NULL);
    printf("tiny altstack: %d errno=%d\n", tiny, errno);

    // The handler starts with the default vector state; the interrupted
    // code gets its own back.
    set_mxcsr((get_mxcsr() & ~0x6000u) | 0x4000);  // round up
    set_handler(SIGUSR2, fpu_handler, 0);
    raise(SIGUSR2);
    printf("mxcsr: handler rc=%#x, after rc=%#x\n", g_handler_mxcsr, get_mxcsr() & 0x6000);
    set_mxcsr(get_mxcsr() & ~0x6000u);

    // rt_sigsuspend: SIGUSR1 blocked, another thread's tgkill wakes us.
    set_handler(SIGUSR1, count_handler, 0);
    sigprocmask(SIG_BLOCK, &set, &old);
    pthread_t th;
    pthread_create(&th, NULL, kicker, NULL);
    sigset_t none;
    sigemptyset(&none);
    errno = 0;
    int r = sigsuspend(&none);
    sigset_t after;
    sigprocmask(SIG_SETMASK, NULL, &after);
    printf("sigsuspend: r=%d errno=%d ran=%d still_blocked=%d\n", r, errno, g_norder,
           sigismember(&after, SIGUSR1));
    pthread_join(th, NULL);
    g_norder = 0;

    // rt_sigtimedwait takes a pending blocked signal without its handler.
    raise(SIGUSR1);
    siginfo_t si;
    r = sigtimedwait(&set, &si, NULL);
    printf("sigtimedwait: r=%d signo=%d code=%d ran=%d\n", r, si.si_signo, si.si_code, g_norder);
    struct timespec ten_ms = {0, 10 * 1000 * 1000};
    errno = 0;
    r = sigtimedwait(&set, &si, &ten_ms);
    printf("sigtimedwait timeout: r=%d errno=%d\n", r, errno);
    sigprocmask(SIG_SETMASK, &old, NULL);

    // Real-time signals queue (each with its value, in order); a standard
    // one sent three times while blocked is delivered once.
    const int rt = SIGRTMIN + 2;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = rt_handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(rt, &sa, NULL);
    set_handler(SIGUSR1, count_handler, 0);
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, rt);
    sigaddset(&both, SIGUSR1);
    sigprocmask(SIG_BLOCK, &both, &old);
    for (int i = 1; i <= 3; i++) {
        sigqueue(getpid(), rt, (union sigval){.sival_int = i});
        raise(SIGUSR1);
    }
    g_norder = 0;
    g_nrt = 0;
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("queued: SIGUSR1 ran %d time(s); rt values:", g_norder);
    for (int i = 0; i < g_nrt; i++) printf(" %d", g_rt[i]);
    printf("\n");
    g_norder = 0;

    // Ignored, explicitly and by default.
    signal(SIGUSR2, SIG_IGN);
    raise(SIGUSR2);
    raise(SIGCHLD);
    raise(SIGWINCH);
    printf("ignored: still here\n");

    // A write to a pipe without readers: EPIPE with SIGPIPE ignored, else
    // SIGPIPE's default action (mode "pipe").
    int fds[2];
    if (pipe(fds) != 0) perror("pipe");
    close(fds[0]);
    signal(SIGPIPE, SIG_IGN);
    errno = 0;
    r = (int)write(fds[1], "x", 1);
    printf("write to a closed pipe, SIGPIPE ignored: r=%d errno=%d\n", r, errno);
    signal(SIGPIPE, SIG_DFL);

    const char* mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "pipe") == 0) {
        printf("writing to a closed pipe\n");
        r = (int)write(fds[1], "x", 1);
        printf("not reached: %d\n", r);
    }
    if (strcmp(mode, "abort") == 0) {
        printf("aborting\n");
        abort();
    }
    if (strcmp(mode, "term") == 0) {
        printf("raising SIGTERM\n");
        raise(SIGTERM);
        printf("not reached\n");
    }
    return 0;
}
