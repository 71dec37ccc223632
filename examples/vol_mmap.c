// vol_mmap.c - mmap of a file in a directory (argv[1], default /data):
// MAP_SHARED writes reach the file (read() in the same process sees them
// at once, msync, munmap, fsync, a child's exit), write() reaches the
// mapping, MAP_PRIVATE stays a copy. Prints what is the same natively and
// on an Ember volume.
//   vol_mmap DIR                the suite (leaves DIR as it found it)
//   vol_mmap DIR dirty F TEXT   maps DIR/F shared, writes TEXT through the
//                               mapping and exits without msync or munmap
//   vol_mmap DIR bench N        N times: one byte through a 1 MiB shared
//                               mapping, msync(MS_SYNC); prints µs per call
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char g_dir[512];

static const char* path(const char* name) {
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", g_dir, name);
    return buf;
}

// The first n bytes of the file at off, read with pread, as text.
static void show(int fd, const char* what, off_t off, size_t n) {
    char buf[64] = {0};
    ssize_t r = pread(fd, buf, n < sizeof buf - 1 ? n : sizeof buf - 1, off);
    for (ssize_t i = 0; i < r; i++)
        if (buf[i] == 0) buf[i] = '.';
    printf("%s: [%s]\n", what, r < 0 ? strerror(errno) : buf);
}

static void file_text(const char* name, const char* what) {
    int fd = open(path(name), O_RDONLY);
    if (fd < 0) {
        printf("%s: open %s\n", what, strerror(errno));
        return;
    }
    show(fd, what, 0, 40);
    close(fd);
}

static int suite(void) {
    int fd = open(path("m"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return printf("open: %s\n", strerror(errno)), 1;
    char page[4096];
    memset(page, 'a', sizeof page);
    for (int i = 0; i < 3; i++) {
        page[0] = (char)('0' + i);
        if (write(fd, page, sizeof page) != sizeof page) return printf("write failed\n"), 1;
    }
    char* m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return printf("mmap: %s\n", strerror(errno)), 1;
    printf("mapped: %c %c %c\n", m[0], m[4096], m[8192]);

    // Through the mapping, then read() of the same file.
    memcpy(m + 1, "SHARED", 6);
    show(fd, "read after store", 0, 8);
    memcpy(m + 4096 + 1, "SYNCED", 6);
    printf("msync: %d\n", msync(m, 3 * 4096, MS_SYNC));
    file_text("m", "reopened");
    show(fd, "page 1", 4096, 8);

    // write() shows in the mapping.
    printf("pwrite: %zd\n", pwrite(fd, "WRITTEN", 7, 8192 + 1));
    printf("mapping after pwrite: [%.8s]\n", m + 8192);

    // fsync writes back what the mapping holds.
    memcpy(m + 8192 + 10, "FSYNC", 5);
    printf("fsync: %d\n", fsync(fd));
    show(fd, "page 2", 8192, 16);

    // Truncate and grow: mapped bytes past the old end read as zero.
    printf("ftruncate: %d\n", ftruncate(fd, 4096 + 3));
    printf("ftruncate: %d\n", ftruncate(fd, 2 * 4096));
    printf("mapping after truncate: [%c%c%c%d%d]\n", m[4096], m[4097], m[4098], m[4099], m[4100]);
    struct stat st;
    fstat(fd, &st);
    printf("size: %lld\n", (long long)st.st_size);

    // A forked child writes; its exit leaves the bytes in the file.
    pid_t pid = fork();
    if (pid == 0) {
        memcpy(m + 20, "CHILD", 5);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("child: %d\n", WEXITSTATUS(status));
    show(fd, "after child", 20, 5);

    // munmap without msync: the bytes are in the file.
    memcpy(m + 30, "UNMAPPED", 8);
    printf("munmap: %d\n", munmap(m, 3 * 4096));
    file_text("m", "after munmap");

    // Part of a mapping: the rest stays shared.
    m = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return printf("mmap 2: %s\n", strerror(errno)), 1;
    memcpy(m + 4096 + 2, "TAIL", 4);
    printf("munmap head: %d\n", munmap(m, 4096));
    printf("msync tail: %d\n", msync(m + 4096, 4096, MS_SYNC));
    show(fd, "page 1 now", 4096, 8);
    munmap(m + 4096, 4096);

    // MAP_PRIVATE stays a copy.
    char* p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) return printf("mmap private: %s\n", strerror(errno)), 1;
    memcpy(p, "PRIVATE", 7);
    printf("msync private: %d\n", msync(p, 4096, MS_SYNC));
    munmap(p, 4096);
    file_text("m", "after private");

    // A writable shared mapping needs a descriptor open for writing.
    int ro = open(path("m"), O_RDONLY);
    void* w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
    printf("shared writable of O_RDONLY: %s\n", w == MAP_FAILED ? strerror(errno) : "mapped");
    void* r = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ro, 0);
    printf("shared read-only: %s [%.6s]\n", r == MAP_FAILED ? strerror(errno) : "mapped",
           r == MAP_FAILED ? "" : (char*)r);
    if (r != MAP_FAILED) munmap(r, 4096);
    close(ro);
    close(fd);
    printf("unlink: %d\n", unlink(path("m")));
    return 0;
}

static int dirty(const char* name, const char* text) {
    int fd = open(path(name), O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 4096) != 0) return printf("open: %s\n", strerror(errno)), 1;
    char* m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return printf("mmap: %s\n", strerror(errno)), 1;
    memcpy(m, text, strlen(text));
    printf("stored %zu bytes\n", strlen(text));
    return 0;  // no msync, no munmap, no close: the exit writes back
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int bench(int n) {
    int fd = open(path("bench"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    const size_t len = 1 << 20;
    if (fd < 0 || ftruncate(fd, len) != 0) return printf("open: %s\n", strerror(errno)), 1;
    char* m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return printf("mmap: %s\n", strerror(errno)), 1;
    double* t = calloc(n, sizeof *t);
    for (int i = 0; i < n; i++) {
        m[(i * 4096) % len] = (char)i;
        double t0 = now_us();
        msync(m, len, MS_SYNC);
        t[i] = now_us() - t0;
    }
    for (int i = 1; i < n; i++)  // insertion sort: n is small
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    printf("msync(MS_SYNC) of a 1 MiB mapping, one page dirty: median %.0f us, p90 %.0f us\n",
           t[n / 2], t[n * 9 / 10]);
    munmap(m, len);
    close(fd);
    unlink(path("bench"));
    return 0;
}

int main(int argc, char** argv) {
    snprintf(g_dir, sizeof g_dir, "%s", argc > 1 ? argv[1] : "/data");
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 4 && strcmp(argv[2], "dirty") == 0) return dirty(argv[3], argv[4]);
    if (argc > 3 && strcmp(argv[2], "bench") == 0) return bench(atoi(argv[3]));
    return suite();
}
