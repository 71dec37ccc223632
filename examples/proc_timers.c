// proc_timers.c - interval and POSIX timers belong to the process that
// made them: a fork child has none of its parent's (getitimer says
// disarmed, the parent's timer id is EINVAL), parent and child each arm
// their own and each gets only its own signals; exec keeps the interval
// timers and deletes the POSIX ones. The child prints as it goes, the
// parent once the child is done. Exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int g_alrm, g_usr1, g_usr2;
static volatile long g_value;

static void on_sig(int sig, siginfo_t* si, void* uc) {
    (void)uc;
    if (sig == SIGALRM) g_alrm++;
    if (sig == SIGUSR1) g_usr1++;
    if (sig == SIGUSR2) {
        g_usr2++;
        g_value = si->si_value.sival_int;
    }
}

static void handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sig;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
}

static void itimer_ms(int ms) {
    struct itimerval v = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &v, NULL);
}

static timer_t posix_timer(int sig, int value, int ms) {
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = sig;
    ev.sigev_value.sival_int = value;
    timer_t id;
    if (timer_create(CLOCK_MONOTONIC, &ev, &id)) printf("timer_create: %s\n", strerror(errno));
    struct itimerspec its = {{0, 0}, {ms / 1000, (ms % 1000) * 1000000L}};
    timer_settime(id, 0, &its, NULL);
    return id;
}

// Sleeps in sigsuspend until *a and *b are both set.
static void wait_for(volatile int* a, volatile int* b) {
    sigset_t none;
    sigemptyset(&none);
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    while (!*a || !*b) sigsuspend(&none);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
}

static int exec_image(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    handlers();
    struct itimerval v;
    getitimer(ITIMER_REAL, &v);
    printf("exec'd: interval timer kept: %s\n",
           v.it_value.tv_sec || v.it_value.tv_usec ? "yes" : "no");
    struct itimerspec its;
    printf("exec'd: POSIX timer 0: %s\n",
           timer_gettime((timer_t)0, &its) < 0 && errno == EINVAL ? "EINVAL" : "present");
    int one = 1;
    wait_for(&g_alrm, &one);
    printf("exec'd: SIGALRM %d\n", g_alrm);
    return 0;
}

int main(int argc, char** argv) {
    (void)argv;
    if (argc > 1) return exec_image();
    setvbuf(stdout, NULL, _IONBF, 0);
    handlers();
    itimer_ms(400);
    timer_t parent_timer = posix_timer(SIGUSR1, 1, 500);

    pid_t c = fork();
    if (c == 0) {
        struct itimerval v;
        getitimer(ITIMER_REAL, &v);
        printf("child: inherited interval timer: %s\n",
               v.it_value.tv_sec || v.it_value.tv_usec ? "armed" : "none");
        struct itimerspec its;
        printf("child: parent's POSIX timer: %s\n",
               timer_gettime(parent_timer, &its) < 0 && errno == EINVAL ? "EINVAL" : "present");
        printf("child: alarm(0) = %u\n", alarm(0));
        itimer_ms(100);
        posix_timer(SIGUSR2, 7, 150);
        wait_for(&g_alrm, &g_usr2);
        printf("child: SIGALRM %d SIGUSR1 %d SIGUSR2 %d value %ld\n", g_alrm, g_usr1, g_usr2,
               g_value);
        // exec keeps an armed interval timer, drops the POSIX timers.
        posix_timer(SIGUSR2, 8, 5000);
        itimer_ms(200);
        execl("/proc/self/exe", "proc_timers", "exec", (char*)NULL);
        printf("exec failed: %s\n", strerror(errno));
        _exit(1);
    }
    wait_for(&g_alrm, &g_usr1);
    int st;
    waitpid(c, &st, 0);
    printf("child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
    printf("parent: SIGALRM %d SIGUSR1 %d SIGUSR2 %d\n", g_alrm, g_usr1, g_usr2);
    struct itimerspec its;
    printf("parent: its POSIX timer: %s\n",
           timer_gettime(parent_timer, &its) == 0 ? "present" : "gone");
    return 0;
}
