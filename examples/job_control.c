// job_control.c - stopping and continuing processes: SIGSTOP and SIGTSTP
// stop a child (its pending signals wait, all its threads stop running),
// SIGCONT resumes it and runs its handler, waitpid with WUNTRACED and
// WCONTINUED and waitid with WSTOPPED and WCONTINUED report each change
// once, SIGCHLD says CLD_STOPPED / CLD_CONTINUED (none with SA_NOCLDSTOP),
// SIGKILL ends a stopped child, SIGTSTP is discarded in an orphaned
// process group, and a stopped job that its parent's end orphans gets
// SIGHUP, and a timed sleep or futex wait a stop interrupts goes on. Prints what it saw;
// exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FUTEX_WAIT_PRIVATE 128 /* musl-gcc has no <linux/futex.h> */

static int g_codes[64];
static volatile int g_ncodes;
static int g_pipe[2];  // children -> parent: one byte per event

static void on_chld(int sig, siginfo_t* si, void* uc) {
    (void)sig, (void)uc;
    if (g_ncodes < 64) g_codes[g_ncodes++] = si->si_code * 100 + si->si_status;
}

static void set_chld(int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | flags;
    sigaction(SIGCHLD, &sa, NULL);
}

static void on_child_sig(int sig) {
    char c = sig == SIGCONT ? 'C' : 'U';
    write(g_pipe[1], &c, 1);
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static char get_byte(void) {
    char c = '?';
    while (read(g_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    return c;
}

// Whether a byte arrives within ms.
static int byte_within(int ms) {
    struct pollfd p = {g_pipe[0], POLLIN, 0};
    int r;
    while ((r = poll(&p, 1, ms)) < 0 && errno == EINTR) {
    }
    return r > 0;
}

static const char* proc_state(pid_t pid) {
    static char line[64];
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return "(none)";
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    const char* s = strstr(buf, "State:\t");
    if (!s) return "(missing)";
    s += 7;
    size_t len = strcspn(s, "\n");
    if (len >= sizeof line) len = sizeof line - 1;
    memcpy(line, s, len);
    line[len] = 0;
    return line;
}

static void describe(const char* what, int st) {
    if (WIFSTOPPED(st))
        printf("%s: stopped by %d\n", what, WSTOPSIG(st));
    else if (WIFCONTINUED(st))
        printf("%s: continued\n", what);
    else if (WIFSIGNALED(st))
        printf("%s: killed by %d\n", what, WTERMSIG(st));
    else
        printf("%s: exited %d\n", what, WEXITSTATUS(st));
}

// A child in its own process group (so SIGTSTP is not discarded as in an
// orphaned one) with handlers for SIGCONT and SIGUSR1; it says it is ready.
static pid_t spawn_waiter(int handlers) {
    pid_t c = fork();
    if (c == 0) {
        setpgid(0, 0);
        if (handlers) {
            signal(SIGCONT, on_child_sig);
            signal(SIGUSR1, on_child_sig);
        }
        write(g_pipe[1], "R", 1);
        for (;;) pause();
    }
    setpgid(c, c);
    get_byte();
    return c;
}

static volatile long* g_counters;  // shared with the threaded child

static void* spin(void* arg) {
    volatile long* c = arg;
    for (;;) ++*c;
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (pipe(g_pipe)) return 1;
    set_chld(0);
    int st;

    // 1. SIGSTOP, a signal pending while stopped, SIGCONT with handlers.
    pid_t a = spawn_waiter(1);
    kill(a, SIGSTOP);
    printf("waitpid WUNTRACED = child: %d\n", waitpid(a, &st, WUNTRACED) == a);
    describe("after SIGSTOP", st);
    printf("/proc state: %s\n", proc_state(a));
    printf("again WUNTRACED|WNOHANG: %d\n", waitpid(a, &st, WUNTRACED | WNOHANG));
    kill(a, SIGUSR1);
    printf("stopped child ran its SIGUSR1 handler: %s\n", byte_within(100) ? "yes" : "no");
    kill(a, SIGCONT);
    printf("waitpid WCONTINUED = child: %d\n", waitpid(a, &st, WCONTINUED) == a);
    describe("after SIGCONT", st);
    char b1 = get_byte(), b2 = get_byte();
    printf("handlers after SIGCONT: %c%c\n", b1 < b2 ? b1 : b2, b1 < b2 ? b2 : b1);

    // 2. waitid with WSTOPPED and WCONTINUED, SIGTSTP.
    kill(a, SIGTSTP);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    printf("waitid WSTOPPED: %d", waitid(P_PID, a, &si, WSTOPPED));
    printf(" code %s status %d pid ok %d\n", si.si_code == CLD_STOPPED ? "CLD_STOPPED" : "other",
           si.si_status, si.si_pid == a);
    memset(&si, 0, sizeof si);
    waitid(P_PID, a, &si, WSTOPPED | WNOHANG);
    printf("waitid again: pid %d\n", si.si_pid);
    kill(a, SIGCONT);
    memset(&si, 0, sizeof si);
    printf("waitid WCONTINUED: %d", waitid(P_PID, a, &si, WCONTINUED));
    printf(" code %s status %d\n", si.si_code == CLD_CONTINUED ? "CLD_CONTINUED" : "other",
           si.si_status);
    printf("handler after SIGCONT: %c\n", get_byte());

    // 3. SIGKILL of a stopped child.
    kill(a, SIGSTOP);
    waitpid(a, &st, WUNTRACED);
    describe("stopped again", st);
    kill(a, SIGKILL);
    printf("waitpid = child: %d\n", waitpid(a, &st, 0) == a);
    describe("after SIGKILL", st);

    // 4. Every thread of a stopped process stops running.
    g_counters = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t t = fork();
    if (t == 0) {
        pthread_t th;
        pthread_create(&th, NULL, spin, (void*)&g_counters[1]);
        spin((void*)&g_counters[0]);
    }
    while (!g_counters[0] || !g_counters[1]) sleep_ms(1);
    kill(t, SIGSTOP);
    waitpid(t, &st, WUNTRACED);
    describe("threaded child", st);
    long c0 = g_counters[0], c1 = g_counters[1];
    sleep_ms(50);
    printf("threads frozen while stopped: %s\n",
           c0 == g_counters[0] && c1 == g_counters[1] ? "yes" : "no");
    kill(t, SIGCONT);
    waitpid(t, &st, WCONTINUED);
    describe("threaded child", st);
    long d0 = g_counters[0], d1 = g_counters[1];
    for (int i = 0; i < 2000 && (d0 == g_counters[0] || d1 == g_counters[1]); i++) sleep_ms(1);
    printf("both threads run again: %s\n",
           d0 != g_counters[0] && d1 != g_counters[1] ? "yes" : "no");
    kill(t, SIGKILL);
    waitpid(t, &st, 0);
    describe("threaded child", st);

    // 4b. A timed wait that a stop and SIGCONT interrupt (no handler) goes
    // on and completes as if never stopped: a relative nanosleep returns 0,
    // an absolute clock_nanosleep 0, a FUTEX_WAIT with a timeout ETIMEDOUT.
    static const char* const waits[] = {"nanosleep", "absolute clock_nanosleep",
                                        "futex wait with a timeout"};
    for (int w = 0; w < 3; w++) {
        pid_t z = fork();
        if (z == 0) {
            write(g_pipe[1], "R", 1);
            struct timespec ts = {0, 300000000L}, rem;
            char r;
            if (w == 0) {
                r = nanosleep(&ts, &rem) == 0 ? '0' : 'E';
            } else if (w == 1) {
                struct timespec at;
                clock_gettime(CLOCK_MONOTONIC, &at);
                at.tv_nsec += ts.tv_nsec;
                if (at.tv_nsec >= 1000000000L) at.tv_sec++, at.tv_nsec -= 1000000000L;
                int e = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
                r = e == 0 ? '0' : e == EINTR ? 'I' : 'E';
            } else {
                static unsigned word;
                long e = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
                r = e == 0 ? '0' : errno == ETIMEDOUT ? 'T' : errno == EINTR ? 'I' : 'E';
            }
            write(g_pipe[1], &r, 1);
            _exit(0);
        }
        get_byte();
        sleep_ms(30);
        kill(z, SIGSTOP);
        waitpid(z, &st, WUNTRACED);
        kill(z, SIGCONT);
        waitpid(z, &st, WCONTINUED);
        printf("%s across a stop returns %c\n", waits[w], get_byte());
        waitpid(z, &st, 0);
        describe("sleeper", st);
    }

    // 5. SA_NOCLDSTOP: no SIGCHLD for a stop or a continue, waits still see them.
    set_chld(SA_NOCLDSTOP);
    pid_t n = spawn_waiter(0);
    kill(n, SIGSTOP);
    waitpid(n, &st, WUNTRACED);
    describe("SA_NOCLDSTOP child", st);
    kill(n, SIGCONT);
    waitpid(n, &st, WCONTINUED);
    describe("SA_NOCLDSTOP child", st);
    kill(n, SIGKILL);
    waitpid(n, &st, 0);
    describe("SA_NOCLDSTOP child", st);

    // 6. An orphaned process group (a new session): SIGTSTP is discarded,
    // SIGSTOP is not.
    pid_t o = fork();
    if (o == 0) {
        setsid();
        write(g_pipe[1], "R", 1);
        for (;;) pause();
    }
    get_byte();
    kill(o, SIGTSTP);
    sleep_ms(50);
    printf("orphaned group, SIGTSTP: waitpid WNOHANG %d\n", waitpid(o, &st, WUNTRACED | WNOHANG));
    kill(o, SIGSTOP);
    waitpid(o, &st, WUNTRACED);
    describe("orphaned group, SIGSTOP", st);
    kill(o, SIGKILL);
    waitpid(o, &st, 0);
    describe("orphaned group", st);

    printf("SIGCHLD (code*100+status):");
    for (int i = 0; i < g_ncodes; i++) printf(" %d", g_codes[i]);
    printf("\n");

    // 7. A stopped job whose group the end of its parent orphans gets
    // SIGHUP and SIGCONT (and dies of the SIGHUP). Natively init adopts the
    // job; in an instance the first process does (and reaps it here).
    signal(SIGCHLD, SIG_DFL);
    pid_t leader = fork();
    if (leader == 0) {
        setpgid(0, 0);
        int ready[2];
        if (pipe(ready)) _exit(1);
        pid_t job = fork();
        if (job == 0) {
            write(ready[1], "R", 1);
            for (;;) pause();
        }
        char c;
        read(ready[0], &c, 1);
        kill(job, SIGSTOP);
        waitpid(job, &st, WUNTRACED);
        write(g_pipe[1], &job, sizeof job);
        _exit(0);
    }
    pid_t job;
    while (read(g_pipe[0], &job, sizeof job) < 0 && errno == EINTR) {
    }
    waitpid(leader, &st, 0);
    int ended = 0;
    for (int i = 0; i < 2000 && !ended; i++) {
        const char* s = proc_state(job);
        ended = strcmp(s, "(none)") == 0 || s[0] == 'Z';
        if (!ended) sleep_ms(1);
    }
    printf("orphaned stopped job ended by SIGHUP: %s\n", ended ? "yes" : "no");
    waitpid(job, &st, WNOHANG);  // ours only in an instance
    return 0;
}
