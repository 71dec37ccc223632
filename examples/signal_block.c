// signal_block.c - a signal handler interrupts a blocked call, as on Linux:
// the main thread blocks in read (a pipe), futex (no timeout) and
// nanosleep while a helper thread sends it SIGUSR1 with tgkill and later
// completes the call. Without SA_RESTART the calls fail with EINTR; with
// SA_RESTART read and futex are restarted and complete, nanosleep still
// fails with EINTR (and reports the time left). Last, main spins (no
// syscall) until the helper's signal has run its handler: in Ember the
// signal reaches it when the spinning thread is preempted.
#define _GNU_SOURCE
#include <errno.h>
#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static pid_t g_main_tid;
static int g_pipe[2];
static volatile unsigned g_word;
static volatile int g_handled;
static const char* g_what;

static void handler(int sig) {
    (void)sig;
    g_handled++;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

// Gives main time to block, interrupts it, waits, then completes its call.
static void* helper(void* arg) {
    (void)arg;
    sleep_ms(150);
    syscall(SYS_tgkill, getpid(), g_main_tid, SIGUSR1);
    sleep_ms(150);
    if (strcmp(g_what, "read") == 0) {
        if (write(g_pipe[1], "x", 1) != 1) perror("write");
    } else if (strcmp(g_what, "futex") == 0) {
        g_word = 1;
        syscall(SYS_futex, &g_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
    return NULL;
}

static void run(const char* what, int restart) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGUSR1, &sa, NULL);
    g_what = what;
    g_handled = 0;
    g_word = 0;
    if (pipe(g_pipe) != 0) perror("pipe");
    pthread_t t;
    pthread_create(&t, NULL, helper, NULL);
    long r;
    errno = 0;
    if (strcmp(what, "read") == 0) {
        char c;
        r = read(g_pipe[0], &c, 1);
    } else if (strcmp(what, "futex") == 0) {
        r = syscall(SYS_futex, &g_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    } else if (strcmp(what, "spin") == 0) {
        while (!g_handled) {
        }
        r = 0;
    } else {
        struct timespec ts = {2, 0}, rem = {0, 0};
        r = nanosleep(&ts, &rem);
        printf("  rem in (1s, 2s]: %d\n", rem.tv_sec == 1 || (rem.tv_sec == 2 && rem.tv_nsec == 0));
    }
    const int err = errno;
    pthread_join(t, NULL);
    printf("%s %s: r=%ld errno=%s handled=%d\n", what, restart ? "SA_RESTART" : "no restart", r,
           err == EINTR ? "EINTR"
           : err        ? strerror(err)
                        : "0",
           g_handled);
    close(g_pipe[0]);
    close(g_pipe[1]);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    g_main_tid = (pid_t)syscall(SYS_gettid);
    for (int restart = 0; restart < 2; restart++) {
        run("read", restart);
        run("futex", restart);
        run("nanosleep", restart);
    }
    run("spin", 0);
    return 0;
}
