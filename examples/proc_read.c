// proc_read.c - reads what runtimes read in /proc and /sys and prints facts
// that hold on any Linux: the text mapping is r-xp and names the program,
// /proc/self/exe is the program, Threads: counts the threads, the CPU
// counts of cpuinfo, /sys and sysconf agree, MemTotal is sysinfo's total.
// The same binary gives the same output natively and in ember-vm. Lines
// that start with "= " carry values that differ between machines (CPU
// count, memory size); the integration test checks those on their own.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

extern char** environ;
static char buf[1 << 16];

// Reads a whole file into buf (NUL-terminated); the length, or -1.
static long slurp(const char* path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    long n = 0, r;
    while ((r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += r;
    close(fd);
    buf[n] = 0;
    return r < 0 ? -1 : n;
}

static const char* yesno(int v) { return v ? "yes" : "no"; }

// The value after "key:" in buf (status, meminfo), or -1.
static long field(const char* key) {
    size_t k = strlen(key);
    for (char* p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
        if (strncmp(p, key, k) == 0 && p[k] == ':') return strtol(p + k + 1, NULL, 10);
    return -1;
}

static const char* base(const char* path) {
    const char* b = strrchr(path, '/');
    return b ? b + 1 : path;
}

// The /proc/self/maps line (in a copy) whose range holds addr.
static int map_of(uintptr_t addr, char perms[5], char* name, size_t cap) {
    if (slurp("/proc/self/maps") < 0) return 0;
    for (char* line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned long lo, hi;
        int at = 0;
        if (sscanf(line, "%lx-%lx %4s %*x %*x:%*x %*u %n", &lo, &hi, perms, &at) < 3) continue;
        if (addr < lo || addr >= hi) continue;
        snprintf(name, cap, "%s", at ? line + at : "");
        return 1;
    }
    return 0;
}

static void check_maps(const char* exe) {
    char perms[5], name[4096];
    int ok = map_of((uintptr_t)&check_maps, perms, name, sizeof name);
    printf("maps: text is r-xp and names the program: %s\n",
           yesno(ok && !strcmp(perms, "r-xp") && !strcmp(name, exe)));
    int local;
    ok = map_of((uintptr_t)&local, perms, name, sizeof name);
    printf("maps: the stack is rw-p [stack]: %s\n",
           yesno(ok && !strcmp(perms, "rw-p") && !strcmp(name, "[stack]")));
    char* m = mmap(NULL, 3 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ok = map_of((uintptr_t)m, perms, name, sizeof name);
    printf("maps: an anonymous PROT_READ mmap is r--p: %s\n", yesno(ok && !strcmp(perms, "r--p")));
    mprotect(m + 4096, 4096, PROT_NONE);
    char p0[5], p1[5], p2[5];
    ok = map_of((uintptr_t)m, p0, name, sizeof name) && map_of((uintptr_t)m + 4096, p1, name, 64) &&
         map_of((uintptr_t)m + 8192, p2, name, 64);
    printf("maps: mprotect splits it (r--p ---p r--p): %s\n",
           yesno(ok && !strcmp(p0, "r--p") && !strcmp(p1, "---p") && !strcmp(p2, "r--p")));
    munmap(m, 3 * 4096);
    printf("maps: munmap removes it: %s\n", yesno(!map_of((uintptr_t)m + 4096, p1, name, 64)));
    char* g = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char* g2 = mremap(g, 2 * 4096, 4 * 4096, MREMAP_MAYMOVE);
    char lo[5], hi[5];
    ok = g2 != MAP_FAILED && map_of((uintptr_t)g2, lo, name, 64) &&
         map_of((uintptr_t)g2 + 4 * 4096 - 1, hi, name, 64);
    printf("maps: mremap'd memory is mapped rw-p: %s\n",
           yesno(ok && !strcmp(lo, "rw-p") && !strcmp(hi, "rw-p")));
    if (g2 != MAP_FAILED) munmap(g2, 4 * 4096);
    // The heap: brk moved up by two pages is [heap] (the raw syscall: musl's
    // sbrk only reports the break).
    uintptr_t brk0 = (uintptr_t)syscall(SYS_brk, 0);
    uintptr_t brk1 = (uintptr_t)syscall(SYS_brk, brk0 + 2 * 4096);
    ok = brk1 == brk0 + 2 * 4096 && map_of(brk1 - 1, perms, name, sizeof name);
    printf("maps: memory from brk is rw-p [heap]: %s\n",
           yesno(ok && !strcmp(perms, "rw-p") && !strcmp(name, "[heap]")));
    syscall(SYS_brk, brk0);
    int fd = open(exe, O_RDONLY);
    char* f = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 4096);
    ok = f != MAP_FAILED && map_of((uintptr_t)f, perms, name, sizeof name);
    printf("maps: a file mapping is r--p and names the file: %s\n",
           yesno(ok && !strcmp(perms, "r--p") && !strcmp(name, exe)));
    if (f != MAP_FAILED) munmap(f, 4096);
    close(fd);
    // Every line parses, ranges ascend and do not overlap.
    int good = slurp("/proc/self/maps") > 0, lines = 0;
    unsigned long prev = 0;
    for (char* line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        unsigned long lo, hi, off, ino;
        unsigned maj, min;
        char pr[5];
        if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu", &lo, &hi, pr, &off, &maj, &min, &ino) != 7 ||
            lo >= hi || lo < prev || strlen(pr) != 4)
            good = 0;
        prev = hi;
    }
    printf("maps: every line is well-formed and in order: %s\n", yesno(good && lines > 3));
}

static int block_pipe[2];
static int thread_tids[2];
static void* blocker(void* arg) {
    thread_tids[(long)arg] = (int)syscall(SYS_gettid);
    char c;
    return (void*)(long)read(block_pipe[0], &c, 1);
}

// The state letter in /proc/self/task/<tid>/stat (after "(comm) ").
static char task_state(int tid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    if (slurp(path) < 0) return '?';
    char* p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

#ifdef __GLIBC__
// glibc finds the main thread's stack in /proc/self/maps (Rust's std asks
// it for the main thread's guard page). musl probes with mremap instead.
static void check_main_stack(void) {
    pthread_attr_t a;
    void* addr = NULL;
    size_t size = 0;
    int local = 0;
    int ok =
        pthread_getattr_np(pthread_self(), &a) == 0 && pthread_attr_getstack(&a, &addr, &size) == 0;
    printf("pthread_getattr_np: the main stack holds a local: %s\n",
           yesno(ok && (char*)&local >= (char*)addr && (char*)&local < (char*)addr + size));
    if (ok) pthread_attr_destroy(&a);
}
#endif

static void check_threads(void) {
    slurp("/proc/self/status");
    printf("status: Threads: %ld\n", field("Threads"));
    pthread_t t[2];
    if (pipe(block_pipe) != 0) return;
    for (long i = 0; i < 2; i++) pthread_create(&t[i], NULL, blocker, (void*)i);
    // Natively a loaded host may take a while to put them to sleep.
    int asleep = 0;
    for (int tries = 0; tries < 5000 && !asleep; tries++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        asleep = thread_tids[0] && thread_tids[1] && task_state(thread_tids[0]) == 'S' &&
                 task_state(thread_tids[1]) == 'S';
    }
    printf("task: blocked threads are S: %s\n", yesno(asleep));
    printf("task: this thread is R: %s\n", yesno(task_state((int)syscall(SYS_gettid)) == 'R'));
    slurp("/proc/self/status");
    printf("status: Threads: %ld with two more\n", field("Threads"));
    slurp("/proc/self/stat");
    char* p = strrchr(buf, ')');
    long num_threads = -1;
    if (p)
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %ld",
               &num_threads);
    printf("stat: num_threads %ld\n", num_threads);
    DIR* d = opendir("/proc/self/task");
    int n = 0, found = 0;
    for (struct dirent* e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        n++;
        int tid = atoi(e->d_name);
        found += tid == getpid() || tid == thread_tids[0] || tid == thread_tids[1];
    }
    if (d) closedir(d);
    printf("task: %d entries, the three threads: %s\n", n, yesno(found == 3));
    if (write(block_pipe[1], "xx", 2) != 2) return;
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    slurp("/proc/self/status");
    printf("status: Threads: %ld after join\n", field("Threads"));
}

static int link_is(int fd, const char* want) {
    char path[64], got[4096];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, got, sizeof got - 1);
    if (n < 0) return 0;
    got[n] = 0;
    return !strcmp(got, want);
}

static void check_fds(const char* exe) {
    int file = open(exe, O_RDONLY), p[2];
    printf("fd: a file reads as its path: %s\n", yesno(link_is(file, exe)));
    if (pipe(p) != 0) return;
    struct stat st;
    fstat(p[0], &st);
    char want[64];
    snprintf(want, sizeof want, "pipe:[%lu]", (unsigned long)st.st_ino);
    printf("fd: a pipe reads as pipe:[ino]: %s\n",
           yesno(link_is(p[0], want) && link_is(p[1], want)));
    int s = socket(AF_INET, SOCK_STREAM, 0);
    fstat(s, &st);
    snprintf(want, sizeof want, "socket:[%lu]", (unsigned long)st.st_ino);
    printf("fd: a socket reads as socket:[ino]: %s\n", yesno(link_is(s, want)));
    int e = eventfd(0, 0), ep = epoll_create1(0);
    printf("fd: eventfd and epoll are anon_inode: %s\n",
           yesno(link_is(e, "anon_inode:[eventfd]") && link_is(ep, "anon_inode:[eventpoll]")));
    DIR* d = opendir("/proc/self/fd");
    int seen = 0;
    for (struct dirent* x; d && (x = readdir(d));)
        seen += atoi(x->d_name) == p[0] || atoi(x->d_name) == p[1] || atoi(x->d_name) == file;
    if (d) closedir(d);
    printf("fd: the directory lists them: %s\n", yesno(seen == 3));
    char path[64], c = 0;
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[1]);
    int w = open(path, O_WRONLY);
    printf("fd: opening /proc/self/fd/N of a pipe reaches the pipe: %s\n",
           yesno(w >= 0 && write(w, "z", 1) == 1 && read(p[0], &c, 1) == 1 && c == 'z'));
    close(w);
    snprintf(path, sizeof path, "/proc/self/fd/%d", file);
    struct stat a, b;
    printf("fd: stat through /proc/self/fd/N is the file: %s\n",
           yesno(stat(path, &a) == 0 && fstat(file, &b) == 0 && a.st_ino == b.st_ino));
    close(file), close(p[0]), close(p[1]), close(s), close(e), close(ep);
    printf("fd: a closed fd is gone: %s\n", yesno(access(path, F_OK) != 0 && errno == ENOENT));
}

static void check_process(int argc, char** argv, const char* exe) {
    char link[64];
    ssize_t n = readlink("/proc/self", link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    printf("self: links to the pid: %s\n", yesno(atoi(link) == getpid()));
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", getpid());
    slurp(path);
    printf("proc/<pid>: is this process: %s\n", yesno(field("Pid") == getpid()));
    struct stat a, b;
    printf("exe: is the program: %s\n",
           yesno(stat("/proc/self/exe", &a) == 0 && stat(exe, &b) == 0 && a.st_ino == b.st_ino &&
                 a.st_dev == b.st_dev));
    printf("exe: base name %s\n", base(exe));
    slurp("/proc/self/status");
    char name[64] = "";
    sscanf(buf, "Name:\t%63s", name);
    printf("status: Name %s\n", name);
    printf("status: State %s\n", strstr(buf, "State:\tR (running)") ? "R (running)" : "?");
    printf(
        "status: Tgid, Pid, PPid, Uid, Gid as the syscalls say: %s\n",
        yesno(field("Tgid") == getpid() && field("Pid") == getpid() && field("PPid") == getppid() &&
              field("Uid") == (long)getuid() && field("Gid") == (long)getgid()));
    printf("status: VmSize, VmRSS, SigQ present: %s\n",
           yesno(field("VmSize") > 0 && field("VmRSS") > 0 && strstr(buf, "\nSigQ:\t")));
    cpu_set_t set;
    sched_getaffinity(0, sizeof set, &set);
    char* list = strstr(buf, "Cpus_allowed_list:\t");
    int lo = 0, hi = -1;
    if (list) sscanf(list + 19, "%d-%d", &lo, &hi);
    if (hi < lo) hi = lo;
    printf("status: Cpus_allowed_list is the affinity: %s\n",
           yesno(hi - lo + 1 == CPU_COUNT(&set)));
    slurp("/proc/self/stat");
    char* p = strrchr(buf, ')');
    unsigned long start_stack = 0;
    int pid = atoi(buf);
    // startstack is field 28: skip fields 4-27 after the state.
    if (p)
        sscanf(p + 2,
               "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s"
               " %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %lu",
               &start_stack);
    char perms[5], mname[4096];
    printf("stat: pid and startstack in [stack]: %s\n",
           yesno(pid == getpid() && map_of(start_stack, perms, mname, sizeof mname) &&
                 !strcmp(mname, "[stack]")));
    long len = slurp("/proc/self/cmdline"), at = 0;
    int same = len > 0;
    for (int i = 0; i < argc && same; i++) {
        same = !strcmp(buf + at, argv[i]);
        at += (long)strlen(argv[i]) + 1;
    }
    printf("cmdline: is argv: %s\n", yesno(same && at == len));
    len = slurp("/proc/self/environ"), at = 0, same = len >= 0;
    for (char** e = environ; *e && same; e++) {
        same = !strcmp(buf + at, *e);
        at += (long)strlen(*e) + 1;
    }
    printf("environ: is the environment: %s\n", yesno(same && at == len));
    len = slurp("/proc/self/auxv");
    int pagesz = 0, entry = 0, random = 0;
    for (unsigned long* v = (unsigned long*)buf; (char*)(v + 2) <= buf + len && v[0]; v += 2) {
        pagesz |= v[0] == AT_PAGESZ && v[1] == 4096;
        entry |= v[0] == AT_ENTRY && v[1] == getauxval(AT_ENTRY);
        random |= v[0] == AT_RANDOM && v[1] == getauxval(AT_RANDOM);
    }
    printf("auxv: AT_PAGESZ, AT_ENTRY, AT_RANDOM as getauxval: %s\n",
           yesno(pagesz && entry && random));
}

// "0", "0-1" or "0,2-3" to a count of CPUs.
static int cpu_list_count(const char* s) {
    int n = 0, a, b, used;
    while (sscanf(s, "%d%n", &a, &used) == 1) {
        s += used;
        b = a;
        if (*s == '-' && sscanf(s + 1, "%d%n", &b, &used) == 1) s += 1 + used;
        n += b - a + 1;
        if (*s != ',') break;
        s++;
    }
    return n;
}

static void check_system(void) {
    slurp("/proc/cpuinfo");
    int cpuinfo = 0;
    for (char* p = buf; (p = strstr(p, "processor\t: ")); p++) cpuinfo++;
    int has = strstr(buf, "vendor_id\t: ") && strstr(buf, "\nflags\t\t: fpu");
    slurp("/sys/devices/system/cpu/online");
    int online = cpu_list_count(buf);
    slurp("/sys/devices/system/cpu/possible");
    int possible = cpu_list_count(buf);
    cpu_set_t set;
    sched_getaffinity(0, sizeof set, &set);
    long onln = sysconf(_SC_NPROCESSORS_ONLN);
    int stat_cpus = 0;
    slurp("/proc/stat");
    for (char* p = buf; (p = strstr(p, "\ncpu")); p++) stat_cpus++;
    printf("cpus: cpuinfo, /sys online, affinity, sysconf and /proc/stat agree: %s\n",
           yesno(cpuinfo == online && online == CPU_COUNT(&set) && onln == online &&
                 stat_cpus == online && possible >= online));
    printf("= cpus %d\n", online);
    printf("cpuinfo: vendor_id and flags: %s\n", yesno(has));
    printf("stat: cpu line and btime: %s\n",
           yesno(!strncmp(buf, "cpu ", 4) && strstr(buf, "\nbtime ")));
    slurp("/proc/meminfo");
    long total = field("MemTotal"), free = field("MemFree"), avail = field("MemAvailable");
    struct sysinfo si;
    sysinfo(&si);
    printf("meminfo: MemTotal is sysinfo's: %s\n",
           yesno(total > 0 && (unsigned long long)total * 1024 ==
                                  (unsigned long long)si.totalram * si.mem_unit));
    printf("meminfo: MemFree and MemAvailable at most MemTotal: %s\n",
           yesno(free > 0 && free <= total && avail > 0 && avail <= total));
    printf("= memtotal_kb %ld\n", total);
    double up = -1, idle = -1, l1 = -1;
    slurp("/proc/uptime");
    sscanf(buf, "%lf %lf", &up, &idle);
    printf("uptime: two numbers: %s\n", yesno(up >= 0 && idle >= 0));
    int running = 0, threads = 0;
    slurp("/proc/loadavg");
    printf("loadavg: parses: %s\n",
           yesno(sscanf(buf, "%lf %*f %*f %d/%d", &l1, &running, &threads) == 3 && running >= 1 &&
                 threads >= running));
    struct utsname u;
    uname(&u);
    slurp("/proc/sys/kernel/osrelease");
    printf("sys/kernel/osrelease is uname's: %s\n",
           yesno(!strncmp(buf, u.release, strlen(u.release)) && buf[strlen(u.release)] == '\n'));
    slurp("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");
    printf("hpage_pmd_size: %s", buf);
    struct statfs sf;
    printf("statfs: /proc is proc, /sys is sysfs: %s\n",
           yesno(statfs("/proc", &sf) == 0 && sf.f_type == 0x9fa0 && statfs("/sys", &sf) == 0 &&
                 sf.f_type == 0x62656572));
}

static void check_file_api(void) {
    int fd = open("/proc/self/stat", O_RDONLY);
    char a[64] = "", b[64] = "";
    struct stat st;
    printf("file: fstat says regular, size 0: %s\n",
           yesno(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0));
    printf("file: pread at 0 reads it again: %s\n",
           yesno(read(fd, a, 10) == 10 && pread(fd, b, 10, 0) == 10 && !memcmp(a, b, 10)));
    close(fd);
    fd = open("/proc/self/cmdline", O_RDONLY);
    long n = read(fd, a, sizeof a);
    printf("file: lseek then read continues at the offset: %s\n",
           yesno(n > 3 && lseek(fd, 2, SEEK_SET) == 2 && read(fd, b, sizeof b) == n - 2 &&
                 !memcmp(a + 2, b, (size_t)n - 2)));
    close(fd);
    fd = open("/proc/self/status", O_WRONLY);
    printf("file: writing /proc/self/status fails: %s\n", yesno(fd < 0 || write(fd, "x", 1) < 0));
    if (fd >= 0) close(fd);
    printf("file: a missing /proc file: %s\n",
           open("/proc/self/no-such-file", O_RDONLY) < 0 && errno == ENOENT ? "ENOENT" : "?");
    DIR* d = opendir("/proc/self");
    int seen = 0;
    for (struct dirent* e; d && (e = readdir(d));)
        seen += !strcmp(e->d_name, "status") + !strcmp(e->d_name, "maps") +
                !strcmp(e->d_name, "fd") + !strcmp(e->d_name, "task") + !strcmp(e->d_name, "exe");
    if (d) closedir(d);
    printf("dir: /proc/self lists status, maps, fd, task, exe: %s\n", yesno(seen == 5));
}

// "proc_read bench": what reading a few files costs, per open+read+close.
static int bench(void) {
    static const char* const kFiles[] = {"/proc/self/stat", "/proc/self/status", "/proc/self/maps",
                                         "/proc/meminfo", "/sys/devices/system/cpu/online"};
    for (size_t i = 0; i < sizeof kFiles / sizeof kFiles[0]; i++) {
        enum { kRounds = 2000 };
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int r = 0; r < kRounds; r++) slurp(kFiles[i]);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double us = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / kRounds;
        printf("%-32s %8.2f us\n", kFiles[i], us);
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc == 2 && !strcmp(argv[1], "bench")) return bench();
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        printf("readlink /proc/self/exe failed: %s\n", strerror(errno));
        return 1;
    }
    exe[n] = 0;
    check_process(argc, argv, exe);
    check_maps(exe);
#ifdef __GLIBC__
    check_main_stack();
#endif
    check_threads();
    check_fds(exe);
    check_system();
    check_file_api();
    return 0;
}
