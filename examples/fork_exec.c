// fork_exec.c - processes: fork, exit statuses, wait4/waitpid/waitid,
// pipes between processes, private and shared memory across fork, execve,
// posix_spawn, vfork, SIGCHLD, kill of another process and of a group.
// Prints the same lines natively and in Ember (no pids).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

enum { kFutexWait = 0, kFutexWake = 1 };  // <linux/futex.h> is not in musl-gcc's path

static int g_value = 1;
static volatile sig_atomic_t g_chld;

static void on_chld(int sig) {
    (void)sig;
    g_chld++;
}

static void report(const char* what, int st) {
    if (WIFEXITED(st))
        printf("%s: exited %d\n", what, WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        printf("%s: killed by signal %d\n", what, WTERMSIG(st));
    else
        printf("%s: status %#x\n", what, st);
}

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        printf("exec'd child: argc=%d", argc);
        for (int i = 2; i < argc; i++) printf(" %s", argv[i]);
        printf(" env=%s\n", getenv("FORK_TEST") ? getenv("FORK_TEST") : "(none)");
        fflush(stdout);
        return 7;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    const pid_t self = getpid();
    int st;

    pid_t c = fork();
    if (c == 0) _exit(3);
    printf("wait4 returns the child: %d\n", waitpid(c, &st, 0) == c);
    report("fork+_exit(3)", st);

    c = fork();
    if (c == 0) {
        g_value = 42;
        printf("child: getppid is the parent: %d, value %d\n", getppid() == self, g_value);
        exit(0);
    }
    waitpid(c, &st, 0);
    printf("parent: value still %d\n", g_value);

    int p[2];
    if (pipe(p) != 0) return 1;
    c = fork();
    if (c == 0) {
        close(p[0]);
        const char msg[] = "hello through a pipe";
        write(p[1], msg, sizeof msg);
        _exit(0);
    }
    close(p[1]);
    char buf[64] = {0};
    ssize_t n = read(p[0], buf, sizeof buf);
    printf("pipe: %zd bytes: %s\n", n, buf);
    printf("pipe: then EOF: %zd\n", read(p[0], buf, sizeof buf));
    close(p[0]);
    waitpid(c, &st, 0);

    if (pipe(p) != 0) return 1;
    c = fork();
    if (c == 0) {
        char x;
        read(p[0], &x, 1);  // until the parent writes
        _exit(5);
    }
    printf("WNOHANG while running: %d\n", waitpid(c, &st, WNOHANG));
    write(p[1], "x", 1);
    waitpid(c, &st, 0);
    report("after the pipe", st);
    close(p[0]);
    close(p[1]);

    c = fork();
    if (c == 0) {
        pause();
        _exit(0);
    }
    kill(c, SIGTERM);
    waitpid(c, &st, 0);
    report("kill(SIGTERM)", st);

    c = fork();
    if (c == 0) {
        raise(SIGSEGV);
        _exit(0);
    }
    waitpid(c, &st, 0);
    report("raise(SIGSEGV)", st);

    int* shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    *shared = 1;
    c = fork();
    if (c == 0) {
        *shared = 99;
        _exit(0);
    }
    waitpid(c, &st, 0);
    printf("MAP_SHARED after the child wrote: %d\n", *shared);

    // A futex in the shared page, waited on by the child, woken by the parent.
    uint32_t* word = (uint32_t*)(shared + 16);
    *word = 0;
    c = fork();
    if (c == 0) {
        while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == 0)
            syscall(SYS_futex, word, kFutexWait, 0, NULL, NULL, 0);
        _exit((int)*word);
    }
    usleep(20000);
    __atomic_store_n(word, 6, __ATOMIC_RELEASE);
    syscall(SYS_futex, word, kFutexWake, 1, NULL, NULL, 0);
    waitpid(c, &st, 0);
    report("futex across fork", st);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sigaction(SIGCHLD, &sa, NULL);
    c = fork();
    if (c == 0) _exit(0);
    while (waitpid(c, &st, 0) < 0) {
    }
    printf("SIGCHLD handled: %d\n", g_chld >= 1);

    c = fork();
    if (c == 0) {
        char* args[] = {argv[0], "child", "a", "b", NULL};
        char* env[] = {"FORK_TEST=yes", NULL};
        execve("/proc/self/exe", args, env);
        _exit(127);
    }
    waitpid(c, &st, 0);
    report("execve", st);

    c = vfork();
    if (c == 0) {
        char* args[] = {argv[0], "child", "vfork", NULL};
        execve("/proc/self/exe", args, environ);
        _exit(127);
    }
    waitpid(c, &st, 0);
    report("vfork+execve", st);

    char* sargs[] = {argv[0], "child", "spawn", NULL};
    if (posix_spawn(&c, "/proc/self/exe", NULL, NULL, sargs, environ) == 0) {
        waitpid(c, &st, 0);
        report("posix_spawn", st);
    }

    c = fork();
    if (c == 0) {
        setpgid(0, 0);
        pid_t g = fork();
        if (g == 0) {
            pause();
            _exit(0);
        }
        pause();
        _exit(0);
    }
    setpgid(c, c);
    usleep(20000);
    printf("getpgid(child) is the child: %d\n", getpgid(c) == c);
    kill(-c, SIGKILL);
    waitpid(c, &st, 0);
    report("kill(-pgid, SIGKILL)", st);

    siginfo_t si;
    c = fork();
    if (c == 0) _exit(9);
    memset(&si, 0, sizeof si);
    waitid(P_PID, c, &si, WEXITED);
    printf("waitid: code %d status %d pid ok %d\n", si.si_code, si.si_status, si.si_pid == c);
    return 0;
}
