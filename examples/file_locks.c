// file_locks.c - advisory locks on a file in a directory (argv[1], default
// /data): fcntl record locks between a parent and a child, OFD locks
// between two opens of one process, flock, F_SETLKW waiting for the holder.
// Prints what is the same natively and in Ember (pids as "parent").
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char g_path[512];
static int g_to_child[2], g_to_parent[2];

static const char* ename(int r) {
    if (r == 0) return "ok";
    switch (errno) {
        case EAGAIN:
            return "EAGAIN";
        case EACCES:
            return "EACCES";
        case EINVAL:
            return "EINVAL";
        case EBADF:
            return "EBADF";
        case EDEADLK:
            return "EDEADLK";
        default:
            return strerror(errno);
    }
}

static int lk(int fd, int cmd, short type, short whence, long start, long len) {
    struct flock fl = {.l_type = type, .l_whence = whence, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &fl);
}

static void getlk(int fd, int cmd, short type, long start, long len, const char* what) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    if (fcntl(fd, cmd, &fl) != 0) {
        printf("%s: %s\n", what, ename(-1));
        return;
    }
    if (fl.l_type == F_UNLCK) {
        printf("%s: free\n", what);
        return;
    }
    const char* who = fl.l_pid == getppid() ? "parent" : fl.l_pid == -1 ? "-1" : "other";
    printf("%s: %s start %ld len %ld pid %s\n", what, fl.l_type == F_WRLCK ? "write" : "read",
           (long)fl.l_start, (long)fl.l_len, who);
}

static void say(int* p) {
    char c = 1;
    if (write(p[1], &c, 1) != 1) perror("write");
}
static void hear(int* p) {
    char c;
    if (read(p[0], &c, 1) != 1) perror("read");
}

static void child(void) {
    int fd = open(g_path, O_RDWR);
    hear(g_to_child);  // the parent holds write [0,100), read [200,300)
    getlk(fd, F_GETLK, F_WRLCK, 0, 1000, "child getlk write [0,1000)");
    getlk(fd, F_GETLK, F_RDLCK, 150, 100, "child getlk read [150,250)");
    getlk(fd, F_GETLK, F_WRLCK, 150, 100, "child getlk write [150,250)");
    getlk(fd, F_GETLK, F_WRLCK, 100, 100, "child getlk write [100,200)");
    printf("child setlk write [50,60): %s\n", ename(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 50, 10)));
    printf("child setlk read [250,260): %s\n", ename(lk(fd, F_SETLK, F_RDLCK, SEEK_SET, 250, 10)));
    say(g_to_parent);
    hear(g_to_child);  // the parent unlocked [40,60)
    getlk(fd, F_GETLK, F_WRLCK, 0, 100, "child getlk after hole [0,100)");
    getlk(fd, F_GETLK, F_WRLCK, 40, 100, "child getlk after hole [40,140)");
    printf("child unlock all: %s\n", ename(lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0)));
    say(g_to_parent);
    hear(g_to_child);  // the parent holds write on all; it unlocks after a while
    printf("child setlkw write [0,10): %s\n", ename(lk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 10)));
    printf("child holds it after the parent let go\n");
    say(g_to_parent);
    hear(g_to_child);
    printf("child flock nb: %s\n", flock(fd, LOCK_EX | LOCK_NB) == 0 ? "ok" : ename(-1));
    say(g_to_parent);
    hear(g_to_child);
    _exit(0);
}

int main(int argc, char** argv) {
    snprintf(g_path, sizeof g_path, "%s/locks", argc > 1 ? argv[1] : "/data");
    setvbuf(stdout, NULL, _IONBF, 0);
    int fd = open(g_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return printf("open: %s\n", strerror(errno)), 1;
    if (pipe(g_to_child) || pipe(g_to_parent)) return 1;
    pid_t pid = fork();
    if (pid == 0) child();

    // Record locks between processes.
    printf("setlk write [0,100): %s\n", ename(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 100)));
    printf("setlk read [200,300): %s\n", ename(lk(fd, F_SETLK, F_RDLCK, SEEK_SET, 200, 100)));
    getlk(fd, F_GETLK, F_WRLCK, 0, 1000, "own getlk");
    say(g_to_child);
    hear(g_to_parent);
    printf("unlock [40,60): %s\n", ename(lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 40, 20)));
    say(g_to_child);
    hear(g_to_parent);
    // Closing another descriptor of the file drops the process's locks.
    int other = open(g_path, O_RDONLY);
    printf("setlk read [500,510) via other: %s\n",
           ename(lk(other, F_SETLK, F_RDLCK, SEEK_SET, 500, 10)));
    printf("setlk write via O_RDONLY: %s\n", ename(lk(other, F_SETLK, F_WRLCK, SEEK_SET, 0, 1)));
    close(other);
    printf("setlk write all: %s\n", ename(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0)));
    say(g_to_child);
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    printf("parent unlocks all\n");
    lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0);
    hear(g_to_parent);

    // flock: the parent's and the child's open file descriptions differ.
    printf("flock ex: %s\n", flock(fd, LOCK_EX) == 0 ? "ok" : ename(-1));
    say(g_to_child);
    hear(g_to_parent);
    printf("flock un: %s\n", flock(fd, LOCK_UN) == 0 ? "ok" : ename(-1));
    say(g_to_child);
    int status;
    waitpid(pid, &status, 0);
    printf("child exit: %d\n", WEXITSTATUS(status));

    // OFD locks: per open file description, also within one process.
    int a = open(g_path, O_RDWR), b = open(g_path, O_RDWR);
    printf("ofd write a: %s\n", ename(lk(a, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 10)));
    printf("ofd write b: %s\n", ename(lk(b, F_OFD_SETLK, F_WRLCK, SEEK_SET, 5, 10)));
    getlk(b, F_OFD_GETLK, F_RDLCK, 0, 0, "ofd getlk b");
    printf("posix write on b: %s\n", ename(lk(b, F_SETLK, F_WRLCK, SEEK_SET, 0, 10)));
    printf("posix write past it: %s\n", ename(lk(b, F_SETLK, F_WRLCK, SEEK_SET, 10, 10)));
    struct flock bad = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_pid = 7};
    printf("ofd with l_pid: %s\n", ename(fcntl(a, F_OFD_SETLK, &bad)));
    printf("getlk unlck: %s\n", ename(lk(a, F_GETLK, F_UNLCK, SEEK_SET, 0, 1)));
    printf("negative len [5,10): %s\n", ename(lk(a, F_OFD_SETLK, F_RDLCK, SEEK_SET, 10, -5)));
    printf("bad start: %s\n", ename(lk(a, F_SETLK, F_RDLCK, SEEK_SET, -1, 5)));
    int d = dup(a);
    close(a);  // the description lives on in d: its OFD lock stays
    printf("ofd b after close of a: %s\n", ename(lk(b, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 1)));
    close(d);
    printf("ofd b after close of dup: %s\n", ename(lk(b, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 1)));
    // flock between two descriptions in one process.
    int c = open(g_path, O_RDONLY);
    printf("flock sh c: %s\n", flock(c, LOCK_SH) == 0 ? "ok" : ename(-1));
    printf("flock ex nb b: %s\n", flock(b, LOCK_EX | LOCK_NB) == 0 ? "ok" : ename(-1));
    printf("flock sh nb b: %s\n", flock(b, LOCK_SH | LOCK_NB) == 0 ? "ok" : ename(-1));
    printf("flock ex nb c (b shares): %s\n", flock(c, LOCK_EX | LOCK_NB) == 0 ? "ok" : ename(-1));
    printf("flock bad op: %s\n", flock(c, 0) == 0 ? "ok" : ename(-1));
    close(b);
    printf("flock ex nb c: %s\n", flock(c, LOCK_EX | LOCK_NB) == 0 ? "ok" : ename(-1));
    close(c);
    close(fd);
    printf("unlink: %d\n", unlink(g_path));
    return 0;
}
