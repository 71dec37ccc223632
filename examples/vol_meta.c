// vol_meta.c - what a file system keeps besides names and bytes, in a
// directory (argv[1], default /data): an unlinked or replaced open file
// stays usable until closed, chmod/fchmod, utimensat/futimens, link/linkat,
// chown to oneself. Prints what is the same natively and on an Ember
// volume; leaves DIR/meta (mode 0640, mtime 1234567890, two links: meta and
// meta.link) for the caller to check on the host.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[512];

static const char* path(const char* name) {
    static char buf[2][1024];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static const char* res(int r) { return r == 0 ? "ok" : strerror(errno); }

static void put(const char* name, const char* text) {
    int fd = open(path(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) < 0) printf("put %s: %s\n", name, strerror(errno));
    close(fd);
}

static void cat_fd(int fd, const char* what) {
    char buf[64] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    printf("%s: [%s]\n", what, n < 0 ? strerror(errno) : buf);
}

static int cmp(const void* a, const void* b) { return strcmp(*(char**)a, *(char**)b); }

static void listing(void) {
    DIR* d = opendir(g_dir);
    char* names[64];
    int n = 0;
    struct dirent* e;
    while (d && (e = readdir(d)) && n < 64)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
    if (d) closedir(d);
    qsort(names, n, sizeof *names, cmp);
    printf("listing:");
    for (int i = 0; i < n; i++) printf(" %s", names[i]), free(names[i]);
    printf("\n");
}

int main(int argc, char** argv) {
    snprintf(g_dir, sizeof g_dir, "%s", argc > 1 ? argv[1] : "/data");
    struct stat st;

    // Unlinked while open.
    put("u", "data");
    int fd = open(path("u"), O_RDWR);
    printf("unlink open: %s\n", res(unlink(path("u"))));
    printf("stat after unlink: %s\n", res(stat(path("u"), &st)));
    listing();
    fstat(fd, &st);
    printf("fstat: nlink %d size %lld\n", (int)st.st_nlink, (long long)st.st_size);
    cat_fd(fd, "read unlinked");
    printf("write unlinked: %zd\n", pwrite(fd, "+more", 5, 4));
    printf("fsync unlinked: %s\n", res(fsync(fd)));
    cat_fd(fd, "read again");
    printf("create same name: ");
    put("u", "fresh");
    int fresh = open(path("u"), O_RDONLY);
    cat_fd(fresh, "new u");
    cat_fd(fd, "old u");
    close(fresh);
    close(fd);
    printf("unlink new: %s\n", res(unlink(path("u"))));

    // Replaced by a rename while open.
    put("a", "old");
    put("b", "new");
    fd = open(path("a"), O_RDONLY);
    printf("rename over open: %s\n", res(rename(path("b"), path("a"))));
    cat_fd(fd, "open a");
    int a2 = open(path("a"), O_RDONLY);
    cat_fd(a2, "reopened a");
    close(a2);
    close(fd);
    listing();
    unlink(path("a"));

    // Modes.
    put("meta", "meta");
    printf("chmod: %s\n", res(chmod(path("meta"), 0640)));
    stat(path("meta"), &st);
    printf("mode: %o\n", st.st_mode & 07777);
    fd = open(path("meta"), O_RDWR);
    printf("fchmod: %s\n", res(fchmod(fd, 0600)));
    fstat(fd, &st);
    printf("mode: %o\n", st.st_mode & 07777);
    printf("chmod back: %s\n", res(chmod(path("meta"), 0640)));

    // Times.
    struct timespec ts[2] = {{0, UTIME_OMIT}, {1234567890, 500000000}};
    printf("utimensat: %s\n", res(utimensat(AT_FDCWD, path("meta"), ts, 0)));
    stat(path("meta"), &st);
    printf("mtime: %lld.%09ld\n", (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct timespec ts2[2] = {{1000000000, 0}, {1234567890, 0}};
    printf("futimens: %s\n", res(futimens(fd, ts2)));
    fstat(fd, &st);
    printf("atime %lld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec,
           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    printf("chown to self: %s\n", res(fchown(fd, getuid(), getgid())));
    close(fd);

    // Hard links.
    printf("link: %s\n", res(link(path("meta"), path("meta.link"))));
    stat(path("meta"), &st);
    printf("nlink: %d\n", (int)st.st_nlink);
    fd = open(path("meta.link"), O_RDONLY);
    cat_fd(fd, "through the link");
    close(fd);
    printf("link to existing: %s\n", res(link(path("meta"), path("meta.link"))));
    printf("link missing: %s\n", res(link(path("nothing"), path("x"))));
    mkdir(path("d"), 0755);
    printf("link dir: %s\n", res(link(path("d"), path("d2"))));
    rmdir(path("d"));
    printf("unlink link: %s\n", res(unlink(path("meta.link"))));
    stat(path("meta"), &st);
    printf("nlink: %d\n", (int)st.st_nlink);
    printf("linkat: %s\n", res(linkat(AT_FDCWD, path("meta"), AT_FDCWD, path("meta.link"), 0)));
    // Metadata changes keep the times set above.
    printf("chmod keeps mtime: %s\n", res(chmod(path("meta"), 0640)));
    stat(path("meta.link"), &st);
    printf("mode %o nlink %d mtime %lld\n", st.st_mode & 07777, (int)st.st_nlink,
           (long long)st.st_mtim.tv_sec);
    listing();
    return 0;
}
