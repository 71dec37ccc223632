// files.c - file system round trip.
//   files PATH [TMPDIR]
// Prints PATH's size and FNV-1a 64 checksum (PATH comes from the read-only
// root fs), then in TMPDIR (default /tmp): writes x, re-reads and compares
// it, renames it, makes a directory with three files, lists it, unlinks them.
// Prints OK and exits 0 when every step behaved; exits 1 at the first failure.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FAIL(...)                       \
    do {                                \
        printf("FAIL: " __VA_ARGS__);   \
        printf(" (errno %d)\n", errno); \
        exit(1);                        \
    } while (0)

static uint64_t fnv1a(uint64_t h, const unsigned char* p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static int cmp_str(const void* a, const void* b) {
    return strcmp(*(char* const*)a, *(char* const*)b);
}

static void read_rootfs_file(const char* path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) FAIL("open %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0) FAIL("fstat %s", path);
    uint64_t h = 0xcbf29ce484222325ull;
    size_t total = 0;
    unsigned char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) FAIL("read %s", path);
        if (n == 0) break;
        h = fnv1a(h, buf, (size_t)n);
        total += (size_t)n;
    }
    if ((off_t)total != st.st_size)
        FAIL("read %zu bytes but st_size is %lld", total, (long long)st.st_size);
    close(fd);
    printf("file %s: size=%zu fnv1a=%016llx\n", path, total, (unsigned long long)h);
}

static void tmp_roundtrip(const char* dir) {
    enum { N = 100000 };
    static unsigned char out[N], in[N];
    for (int i = 0; i < N; i++) out[i] = (unsigned char)(i * 7 + i / 251);
    char x[512], y[512];
    snprintf(x, sizeof x, "%s/x", dir);
    snprintf(y, sizeof y, "%s/y", dir);
    int fd = open(x, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0) FAIL("create %s", x);
    if (write(fd, out, N / 2) != N / 2 || write(fd, out + N / 2, N - N / 2) != N - N / 2)
        FAIL("write %s", x);
    if (close(fd) != 0) FAIL("close %s", x);

    fd = open(x, O_RDONLY);
    if (fd < 0) FAIL("reopen %s", x);
    ssize_t got = 0;
    while (got < N) {
        ssize_t n = read(fd, in + got, N - got);
        if (n <= 0) FAIL("re-read %s", x);
        got += n;
    }
    if (memcmp(in, out, N) != 0) FAIL("content of %s differs", x);
    unsigned char b[16];
    if (lseek(fd, 4000, SEEK_SET) != 4000 || read(fd, b, 16) != 16 || memcmp(b, out + 4000, 16))
        FAIL("lseek+read %s", x);
    if (pread(fd, b, 16, 77777) != 16 || memcmp(b, out + 77777, 16)) FAIL("pread %s", x);
    if (read(fd, b, 0) != 0) FAIL("zero-length read");
    close(fd);
    printf("tmp write/re-read: %d bytes ok\n", N);

    if (rename(x, y) != 0) FAIL("rename %s -> %s", x, y);
    struct stat st;
    if (stat(x, &st) == 0 || errno != ENOENT) FAIL("%s still exists after rename", x);
    if (stat(y, &st) != 0 || st.st_size != N) FAIL("stat %s", y);
    if (unlink(y) != 0) FAIL("unlink %s", y);
    if (stat(y, &st) == 0 || errno != ENOENT) FAIL("%s still exists after unlink", y);
    puts("rename/unlink: ok");
}

static int list_dir(const char* d, char** names, int max) {
    DIR* dir = opendir(d);
    if (!dir) FAIL("opendir %s", d);
    int n = 0;
    struct dirent* e;
    while ((e = readdir(dir)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (n < max) names[n++] = strdup(e->d_name);
    }
    closedir(dir);
    qsort(names, n, sizeof *names, cmp_str);
    return n;
}

static void tmp_directory(const char* dir) {
    char d[512], f[600];
    snprintf(d, sizeof d, "%s/ember-files-dir", dir);
    if (mkdir(d, 0755) != 0) FAIL("mkdir %s", d);
    if (mkdir(d, 0755) == 0 || errno != EEXIST) FAIL("second mkdir %s did not give EEXIST", d);
    const char* names[] = {"charlie", "alpha", "bravo"};
    for (int i = 0; i < 3; i++) {
        snprintf(f, sizeof f, "%s/%s", d, names[i]);
        int fd = open(f, O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (fd < 0 || write(fd, names[i], strlen(names[i])) < 0) FAIL("create %s", f);
        close(fd);
    }
    char* got[8];
    int n = list_dir(d, got, 8);
    printf("readdir:");
    for (int i = 0; i < n; i++) printf(" %s", got[i]), free(got[i]);
    printf("\n");
    if (n != 3) FAIL("expected 3 entries, got %d", n);
    for (int i = 0; i < 3; i++) {
        snprintf(f, sizeof f, "%s/%s", d, names[i]);
        if (unlink(f) != 0) FAIL("unlink %s", f);
    }
    if ((n = list_dir(d, got, 8)) != 0) FAIL("%d entries left after unlink", n);
    rmdir(d);  // not required of the Ember kernel; a leftover in tmpfs is harmless
    puts("mkdir/readdir/unlink: ok");
}

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH [TMPDIR]\n", argv[0]);
        return 2;
    }
    read_rootfs_file(argv[1]);
    const char* dir = argc > 2 ? argv[2] : "/tmp";
    tmp_roundtrip(dir);
    tmp_directory(dir);
    puts("OK");
    return 0;
}
