// creds.c - user and group ids as a root service drops them (nginx's
// workers, postgres): getres*id, setgroups/getgroups, setresgid, setresuid,
// seteuid back to a saved id, EPERM for ids a non-root process does not
// hold, setfs*id, PR_GET/SET_DUMPABLE, and fork/exec inheritance. Run as
// root; prints one line per step and exits 0. With an argument ("exec"), it
// is the exec'd image: it prints its ids and dumpability and exits.
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void ids(const char* what) {
    uid_t r, e, s;
    gid_t gr, ge, gs;
    getresuid(&r, &e, &s);
    getresgid(&gr, &ge, &gs);
    gid_t groups[8];
    int n = getgroups(8, groups);
    printf("%s: uid %u %u %u gid %u %u %u groups", what, r, e, s, gr, ge, gs);
    for (int i = 0; i < n; ++i) printf(" %u", groups[i]);
    printf(" dumpable %d\n", prctl(PR_GET_DUMPABLE));
}

static void rc(const char* what, int r) {
    printf("%s = %d%s%s\n", what, r, r < 0 ? " " : "", r < 0 ? strerror(errno) : "");
}

int main(int argc, char** argv) {
    (void)argv;
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1) {
        ids("exec'd");
        return 0;
    }
    if (geteuid() != 0) {
        printf("run me as root\n");
        return 2;
    }
    ids("start");
    const gid_t extra[2] = {100, 65534};
    rc("setgroups(2)", setgroups(2, extra));
    printf("getgroups(0) = %d\n", getgroups(0, NULL));
    gid_t one[1];
    rc("getgroups(1) too small", getgroups(1, one));
    rc("setresgid(65534,65534,0)", setresgid(65534, 65534, 0));
    rc("setresuid(65534,65534,0)", setresuid(65534, 65534, 0));
    ids("dropped, saved 0");
    rc("PR_SET_DUMPABLE 1", prctl(PR_SET_DUMPABLE, 1));
    rc("PR_SET_DUMPABLE 2", prctl(PR_SET_DUMPABLE, 2));
    rc("setuid(1000) not held", setuid(1000));
    rc("setgroups as non-root", setgroups(0, NULL));
    rc("seteuid(0) from saved", seteuid(0));
    ids("euid back to 0");
    rc("setreuid(-1,65534)", setreuid((uid_t)-1, 65534));
    printf("setfsuid(0) returned %d\n", setfsuid(0));
    printf("setfsuid(-1) returned %d\n", setfsuid((uid_t)-1));
    rc("seteuid(0)", seteuid(0));
    rc("setuid(4242) as root", setuid(4242));
    ids("all 4242");
    rc("seteuid(0) after setuid", seteuid(0));
    rc("setgid(5) not held", setgid(5));
    pid_t pid = fork();
    if (pid == 0) {
        ids("child");
        execl("/proc/self/exe", "creds", "exec", (char*)NULL);
        printf("exec failed: %s\n", strerror(errno));
        _exit(1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    printf("child exited %d\n", WEXITSTATUS(st));
    return 0;
}
