// signal_fd.c - signalfd: blocked signals read as signalfd_siginfo records
// (signo, code, pid, timer value), non-blocking reads, poll and epoll woken
// by a timer's signal and by another thread's kill, a blocking read.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int g_sfd;

static void show(const char* what, ssize_t n, const struct signalfd_siginfo* si) {
    if (n != (ssize_t)sizeof *si) {
        printf("%s: n=%zd errno=%d\n", what, n, errno);
        return;
    }
    printf("%s: signo=%u code=%d pid_ok=%d int=%d\n", what, si->ssi_signo, si->ssi_code,
           si->ssi_pid == (unsigned)getpid(), si->ssi_int);
}

static void* killer(void* arg) {
    (void)arg;
    struct timespec ts = {0, 30 * 1000 * 1000};
    nanosleep(&ts, NULL);
    kill(getpid(), SIGUSR2);
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGUSR2);
    sigaddset(&mask, SIGALRM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    g_sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    struct signalfd_siginfo si;

    raise(SIGUSR1);
    ssize_t n = read(g_sfd, &si, sizeof si);
    show("raise", n, &si);
    errno = 0;
    n = read(g_sfd, &si, sizeof si);
    show("empty", n, &si);

    // A POSIX timer's signal wakes poll.
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGALRM;
    ev.sigev_value.sival_int = 7;
    timer_t t;
    timer_create(CLOCK_MONOTONIC, &ev, &t);
    struct itimerspec its = {{0, 0}, {0, 30 * 1000 * 1000}};
    timer_settime(t, 0, &its, NULL);
    struct pollfd p = {g_sfd, POLLIN, 0};
    int r = poll(&p, 1, 5000);
    printf("poll: r=%d revents=%#x\n", r, p.revents);
    n = read(g_sfd, &si, sizeof si);
    show("timer", n, &si);
    timer_delete(t);

    // Another thread's kill wakes epoll_wait.
    int ep = epoll_create1(0);
    struct epoll_event e = {.events = EPOLLIN, .data.u32 = 5};
    epoll_ctl(ep, EPOLL_CTL_ADD, g_sfd, &e);
    pthread_t th;
    pthread_create(&th, NULL, killer, NULL);
    struct epoll_event out;
    r = epoll_wait(ep, &out, 1, 5000);
    printf("epoll: r=%d data=%u\n", r, out.data.u32);
    n = read(g_sfd, &si, sizeof si);
    show("kill", n, &si);
    pthread_join(th, NULL);

    // A blocking read: the alarm comes while we wait.
    printf("same fd on update: %d\n", signalfd(g_sfd, &mask, 0) == g_sfd);
    int bfd = signalfd(-1, &mask, 0);
    struct itimerval it = {{0, 0}, {0, 30000}};
    setitimer(ITIMER_REAL, &it, NULL);
    n = read(bfd, &si, sizeof si);
    printf("blocking read: signo=%u code_kernel=%d\n", si.ssi_signo, si.ssi_code == SI_KERNEL);
    return 0;
}
