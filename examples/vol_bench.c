/* vol_bench.c - per-operation cost of file operations in DIR (argv[1]),
 * for bench/volume_bench.sh: the same binary natively on a host directory
 * and in ember-vm on a volume. Prints one line per operation: the median
 * and p99 in microseconds over N (argv[2], default 200) repetitions, then
 * the sequential write rate (16 MiB in 256 KiB writes, then fsync) and the
 * sequential read rate of the same file.
 *
 * Usage: vol_bench DIR [N] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

static void report(const char* what, double* v, int n) {
    qsort(v, (size_t)n, sizeof v[0], cmp);
    printf("%-28s p50 %8.1f us  p99 %8.1f us\n", what, v[n / 2], v[n * 99 / 100]);
}

int main(int argc, char** argv) {
    const char* dir = argc > 1 ? argv[1] : "/data";
    int n = argc > 2 ? atoi(argv[2]) : 200;
    if (n < 10) n = 10;
    char path[512], path2[512];
    snprintf(path, sizeof path, "%s/bench.dat", dir);
    snprintf(path2, sizeof path2, "%s/bench.new", dir);
    double* t = calloc((size_t)n, sizeof *t);
    char buf[4096];
    memset(buf, 'b', sizeof buf);
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fd < 0) return perror("open"), 1;
    if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) return perror("write"), 1;
    struct stat st;

    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        stat(path, &st);
        t[i] = now_us() - t0;
    }
    report("stat", t, n);
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        int f = open(path, O_RDONLY);
        close(f);
        t[i] = now_us() - t0;
    }
    report("open+close", t, n);
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        pread(fd, buf, sizeof buf, 0);
        t[i] = now_us() - t0;
    }
    report("pread 4 KiB", t, n);
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        pwrite(fd, buf, sizeof buf, 0);
        t[i] = now_us() - t0;
    }
    report("pwrite 4 KiB", t, n);
    for (int i = 0; i < n; i++) {
        pwrite(fd, buf, sizeof buf, 0);
        double t0 = now_us();
        fsync(fd);
        t[i] = now_us() - t0;
    }
    report("fsync after 4 KiB", t, n);
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        int f = open(path2, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        close(f);
        rename(path2, path2);
        unlink(path2);
        t[i] = now_us() - t0;
    }
    report("create+close+unlink", t, n);
    close(fd);

    static char big[256 << 10];
    memset(big, 's', sizeof big);
    const int chunks = 64;  // 16 MiB
    fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    double t0 = now_us();
    for (int i = 0; i < chunks; i++)
        if (write(fd, big, sizeof big) != (ssize_t)sizeof big) return perror("write"), 1;
    fsync(fd);
    double w = now_us() - t0;
    printf("%-28s %8.1f MB/s\n", "seq write 16 MiB + fsync", chunks * sizeof big / w);
    t0 = now_us();
    for (int i = 0; i < chunks; i++) pread(fd, big, sizeof big, (off_t)i * (off_t)sizeof big);
    double r = now_us() - t0;
    printf("%-28s %8.1f MB/s\n", "seq read 16 MiB", chunks * sizeof big / r);
    close(fd);
    unlink(path);
    return 0;
}
