// signal_timer.c - timers that send signals, compared with a native run:
//   alarm's return value; setitimer(ITIMER_REAL) waking pause(); a periodic
//   ITIMER_REAL interrupting a thread that spins (no syscall); getitimer;
//   timer_create with SIGEV_SIGNAL (si_code SI_TIMER, si_value),
//   SIGEV_THREAD_ID (raw syscalls: the signal goes to the chosen thread),
//   SIGEV_NONE (no signal, timer_gettime sees it expire); timer_delete.
//   Mode "alarm": an ITIMER_REAL with SIGALRM's default action ends the
//   process (status 142 in a shell).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile int g_alrm, g_usr1, g_usr2;
static volatile int g_code, g_value;
static volatile pid_t g_usr2_tid, g_helper_tid;

static void on_alrm(int sig) {
    (void)sig;
    g_alrm++;
}
static void on_usr1(int sig, siginfo_t* si, void* uc) {
    (void)sig;
    (void)uc;
    g_usr1++;
    g_code = si->si_code;
    g_value = si->si_value.sival_int;
}
static void on_usr2(int sig) {
    (void)sig;
    g_usr2++;
    g_usr2_tid = (pid_t)syscall(SYS_gettid);
}

static void install(int sig, void (*h)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sigaction(sig, &sa, NULL);
}

// struct sigevent as the kernel reads it (libcs differ in how they name
// the thread-id field).
struct ksigevent {
    union sigval value;
    int signo, notify, tid, pad[11];
};

static void* helper(void* arg) {
    (void)arg;
    g_helper_tid = (pid_t)syscall(SYS_gettid);
    while (!g_usr2) pause();
    return NULL;
}

int main(int argc, char** argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "alarm") == 0) {
        struct itimerval it = {{0, 0}, {0, 50000}};
        printf("arming a 50 ms ITIMER_REAL with the default action\n");
        setitimer(ITIMER_REAL, &it, NULL);
        for (;;) pause();
    }

    alarm(5);
    printf("alarm: previous=%u\n", alarm(0));

    install(SIGALRM, on_alrm);
    struct itimerval it = {{0, 0}, {0, 50000}};
    setitimer(ITIMER_REAL, &it, NULL);
    errno = 0;
    int r = pause();
    printf("pause: r=%d errno=%d alarms=%d\n", r, errno, g_alrm);

    // A periodic timer interrupts a loop that makes no syscall.
    g_alrm = 0;
    struct itimerval per = {{0, 20000}, {0, 20000}};
    setitimer(ITIMER_REAL, &per, NULL);
    while (g_alrm < 3) {
    }
    struct itimerval off = {{0, 0}, {0, 0}}, was;
    setitimer(ITIMER_REAL, &off, &was);
    struct itimerval now;
    getitimer(ITIMER_REAL, &now);
    printf("periodic: at least 3 ticks while spinning=%d interval=%ldus now=%ld.%06ld\n",
           g_alrm >= 3, (long)was.it_interval.tv_usec, (long)now.it_value.tv_sec,
           (long)now.it_value.tv_usec);

    // timer_create, SIGEV_SIGNAL with a value.
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    ev.sigev_value.sival_int = 42;
    timer_t t;
    if (timer_create(CLOCK_MONOTONIC, &ev, &t) != 0) perror("timer_create");
    struct itimerspec ts = {{0, 0}, {0, 30 * 1000 * 1000}};
    timer_settime(t, 0, &ts, NULL);
    while (!g_usr1) pause();
    struct itimerspec left;
    timer_gettime(t, &left);
    printf("SIGEV_SIGNAL: ran=%d code_is_timer=%d value=%d left=%ld\n", g_usr1, g_code == SI_TIMER,
           g_value, (long)left.it_value.tv_nsec);
    timer_delete(t);
    errno = 0;
    r = timer_gettime(t, &left);
    printf("after timer_delete: r=%d errno=%d\n", r, errno);

    // SIGEV_NONE: nothing is sent; the timer still expires.
    ev.sigev_notify = SIGEV_NONE;
    timer_create(CLOCK_MONOTONIC, &ev, &t);
    struct itimerspec ten = {{0, 0}, {0, 10 * 1000 * 1000}};
    timer_settime(t, 0, &ten, NULL);
    timer_gettime(t, &left);
    const int armed = left.it_value.tv_nsec > 0;
    struct timespec nap = {0, 40 * 1000 * 1000};
    nanosleep(&nap, NULL);
    timer_gettime(t, &left);
    printf("SIGEV_NONE: armed=%d then left=%ld signals=%d\n", armed, (long)left.it_value.tv_nsec,
           g_usr1);
    timer_delete(t);

    // SIGEV_THREAD_ID: the signal goes to the helper thread.
    install(SIGUSR2, on_usr2);
    pthread_t th;
    pthread_create(&th, NULL, helper, NULL);
    while (!g_helper_tid) sched_yield();
    struct ksigevent kev;
    memset(&kev, 0, sizeof kev);
    kev.signo = SIGUSR2;
    kev.notify = 4;  // SIGEV_THREAD_ID
    kev.tid = g_helper_tid;
    int kid = -1;
    if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &kev, &kid) != 0) perror("timer_create tid");
    struct itimerspec soon = {{0, 0}, {0, 20 * 1000 * 1000}};
    syscall(SYS_timer_settime, kid, 0, &soon, NULL);
    pthread_join(th, NULL);
    printf("SIGEV_THREAD_ID: ran=%d in_helper=%d\n", g_usr2, g_usr2_tid == g_helper_tid);
    syscall(SYS_timer_delete, kid);
    return 0;
}
