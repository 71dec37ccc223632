// proc_pids.c - /proc/<pid> of several processes: /proc/self is the
// caller's pid in a parent and its fork child, the child reads its own and
// its parent's status and stat (Pid, PPid, Tgid, State, ids after
// setresuid), cmdline, exe, fd/, maps and task/, a zombie shows as Z, and a
// reaped pid is ENOENT. Pids differ between runs, so lines print how the
// values relate (to getpid, getppid, ...), never the numbers. Run as root
// (the child drops its ids); exits 0.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_buf[65536];

// The whole file, NUL-terminated; the byte count or -errno.
static long slurp(const char* path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -errno;
    long n = 0, r;
    while ((r = read(fd, g_buf + n, sizeof g_buf - 1 - n)) > 0) n += r;
    close(fd);
    g_buf[n] = 0;
    return r < 0 ? -errno : n;
}

// The value of "Key:\t..." in a status text (up to the newline).
static const char* field(const char* text, const char* key, char* out, size_t cap) {
    size_t klen = strlen(key);
    for (const char* p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, klen) || p[klen] != ':') continue;
        p += klen + 1;
        while (*p == '\t' || *p == ' ') p++;
        size_t n = strcspn(p, "\n");
        if (n >= cap) n = cap - 1;
        memcpy(out, p, n);
        out[n] = 0;
        return out;
    }
    return "(missing)";
}

static long field_num(const char* text, const char* key) {
    char v[64];
    return atol(field(text, key, v, sizeof v));
}

static const char* yes(int c) { return c ? "yes" : "no"; }

static void on_usr1(int sig) { (void)sig; }

static int self_is(pid_t pid) {
    char link[64], want[32];
    ssize_t n = readlink("/proc/self", link, sizeof link - 1);
    if (n < 0) return 0;
    link[n] = 0;
    snprintf(want, sizeof want, "%d", (int)pid);
    return strcmp(link, want) == 0;
}

static int dir_has(const char* dir, long id) {
    DIR* d = opendir(dir);
    if (!d) return 0;
    char want[32];
    snprintf(want, sizeof want, "%ld", id);
    int found = 0;
    for (struct dirent* e; (e = readdir(d));) found |= strcmp(e->d_name, want) == 0;
    closedir(d);
    return found;
}

static void child(int wfd) {
    pid_t me = getpid(), parent = getppid();
    printf("child: /proc/self is getpid: %s\n", yes(self_is(me)));
    char path[64], v[256];
    slurp("/proc/self/status");
    printf("child: Name %s\n", field(g_buf, "Name", v, sizeof v));
    printf("child: State %s\n", field(g_buf, "State", v, sizeof v));
    printf("child: Pid is getpid: %s, Tgid too: %s\n", yes(field_num(g_buf, "Pid") == me),
           yes(field_num(g_buf, "Tgid") == me));
    printf("child: PPid is getppid: %s\n", yes(field_num(g_buf, "PPid") == parent));

    // The parent blocks reading the pipe: wait until its status says so
    // (natively it may still be running on another CPU).
    snprintf(path, sizeof path, "/proc/%d/status", (int)parent);
    for (int i = 0; i < 2000; i++) {
        slurp(path);
        if (strstr(g_buf, "State:\tS")) break;
        usleep(1000);
    }
    printf("parent's status: Pid is the parent: %s\n", yes(field_num(g_buf, "Pid") == parent));
    printf("parent's status: State %s\n", field(g_buf, "State", v, sizeof v));
    printf("parent's status: Name %s\n", field(g_buf, "Name", v, sizeof v));

    slurp("/proc/self/stat");
    int pid, ppid, pgrp, sid;
    char st;
    const char* rp = strrchr(g_buf, ')');
    sscanf(g_buf, "%d", &pid);
    sscanf(rp + 2, "%c %d %d %d", &st, &ppid, &pgrp, &sid);
    printf("child stat: pid %s ppid %s pgrp %s session %s state %c\n", yes(pid == me),
           yes(ppid == parent), yes(pgrp == getpgrp()), yes(sid == getsid(0)), st);

    long n = slurp("/proc/self/cmdline");
    int strings = 0;
    for (long i = 0; i < n; i++) strings += g_buf[i] == 0;
    printf("child cmdline: %d strings\n", strings);

    char link[512];
    ssize_t l = readlink("/proc/self/exe", link, sizeof link - 1);
    link[l > 0 ? l : 0] = 0;
    const char* base = strrchr(link, '/');
    printf("child exe: %s (absolute: %s)\n", base ? base + 1 : link, yes(link[0] == '/'));

    snprintf(path, sizeof path, "/proc/self/fd/%d", wfd);
    l = readlink(path, link, sizeof link - 1);
    link[l > 0 ? l : 0] = 0;
    printf("child fd/<pipe's end>: pipe %s\n", yes(strncmp(link, "pipe:[", 6) == 0));
    printf("child fd/ lists it: %s\n", yes(dir_has("/proc/self/fd", wfd)));
    slurp("/proc/self/maps");
    printf("child maps: [stack] %s, names the program %s\n", yes(strstr(g_buf, "[stack]") != NULL),
           yes(strstr(g_buf, "proc_pids") != NULL));
    printf("child task/ lists getpid: %s\n", yes(dir_has("/proc/self/task", me)));
    printf("/proc lists the child: %s, the parent: %s\n", yes(dir_has("/proc", me)),
           yes(dir_has("/proc", parent)));

    // Signal sets: a handler, an ignored signal, a blocked one pending for
    // the process and one for the thread. Only these signals' bits (the
    // native run may inherit other ignored signals).
    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, SIG_IGN);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, NULL);
    kill(me, SIGTERM);
    syscall(SYS_tgkill, me, me, SIGHUP);
    slurp("/proc/self/status");
    const char* sets[] = {"SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt"};
    for (int i = 0; i < 5; i++) {
        unsigned long long m = strtoull(field(g_buf, sets[i], v, sizeof v), NULL, 16);
        printf("child %s: HUP %llu USR1 %llu USR2 %llu TERM %llu\n", sets[i],
               (m >> (SIGHUP - 1)) & 1, (m >> (SIGUSR1 - 1)) & 1, (m >> (SIGUSR2 - 1)) & 1,
               (m >> (SIGTERM - 1)) & 1);
    }

    // Ids as a worker drops them: the status shows real, effective, saved
    // and filesystem ids.
    gid_t groups[] = {7, 9};
    if (setgroups(2, groups) || setresgid(20, 21, 22) || setresuid(1001, 1002, 1003))
        printf("child: dropping ids failed: %s\n", strerror(errno));
    slurp("/proc/self/status");
    printf("child after setresuid: Uid %s\n", field(g_buf, "Uid", v, sizeof v));
    printf("child after setresgid: Gid %s\n", field(g_buf, "Gid", v, sizeof v));
    printf("child groups: [%s]\n", field(g_buf, "Groups", v, sizeof v));
    fflush(stdout);
    close(wfd);
    _exit(3);
}

int main(void) {
    pid_t me = getpid();
    printf("parent: /proc/self is getpid: %s\n", yes(self_is(me)));
    char v[256], path[64];
    slurp("/proc/self/status");
    printf("parent: Pid is getpid: %s\n", yes(field_num(g_buf, "Pid") == me));
    printf("parent: Uid %s\n", field(g_buf, "Uid", v, sizeof v));
    fflush(stdout);

    int p[2];
    if (pipe(p)) return 1;
    pid_t c = fork();
    if (c == 0) {
        close(p[0]);
        child(p[1]);
    }
    close(p[1]);
    char b;
    while (read(p[0], &b, 1) > 0) {
    }  // the child is done with its checks when it closes its end
    int status;
    waitpid(c, &status, 0);
    printf("parent: child exited %d\n", WEXITSTATUS(status));
    snprintf(path, sizeof path, "/proc/%d/status", (int)c);
    struct stat st;
    printf("reaped child: status %s, dir %s\n", slurp(path) == -ENOENT ? "ENOENT" : "present",
           stat(path, &st) < 0 && errno == ENOENT ? "ENOENT" : "present");

    // A zombie: exited, not yet waited for.
    pid_t z = fork();
    if (z == 0) _exit(0);
    siginfo_t si;
    waitid(P_PID, z, &si, WEXITED | WNOWAIT);
    snprintf(path, sizeof path, "/proc/%d/status", (int)z);
    slurp(path);
    printf("zombie: State %s, PPid is us: %s\n", field(g_buf, "State", v, sizeof v),
           yes(field_num(g_buf, "PPid") == me));
    waitpid(z, &status, 0);
    snprintf(path, sizeof path, "/proc/%d", (int)z);
    printf("reaped zombie: dir %s\n",
           stat(path, &st) < 0 && errno == ENOENT ? "ENOENT" : "present");
    return 0;
}
