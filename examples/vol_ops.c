// vol_ops.c - file operations on a directory (argv[1], default /data),
// printing only what is the same natively and on an Ember volume: results,
// errnos, sizes, contents, sorted listings (no inode numbers or times).
//   vol_ops DIR            the operation suite (leaves DIR as it found it)
//   vol_ops DIR fill N     writes N KiB to DIR/fill, reports where it stopped
//   vol_ops DIR read PATH  prints the first line of PATH or the errno
//   vol_ops DIR write F T  writes text T to DIR/F and fsyncs it
//   vol_ops DIR snap F     writes "before" to DIR/F, reads a line from stdin
//                          (READY: a snapshot point), appends it through the
//                          same descriptor, prints the file
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[512];

// errno names (musl has no strerrorname_np).
static const char* ename(int e) {
    switch (e) {
        case ENOENT:
            return "ENOENT";
        case EEXIST:
            return "EEXIST";
        case ENOTDIR:
            return "ENOTDIR";
        case EISDIR:
            return "EISDIR";
        case EINVAL:
            return "EINVAL";
        case ENOTEMPTY:
            return "ENOTEMPTY";
        case ENOSPC:
            return "ENOSPC";
        case EROFS:
            return "EROFS";
        case EACCES:
            return "EACCES";
        case EPERM:
            return "EPERM";
        case ELOOP:
            return "ELOOP";
        case EXDEV:
            return "EXDEV";
        case EBADF:
            return "EBADF";
        default:
            return "E?";
    }
}

static const char* p(const char* rel) {
    static char buf[4][1024];
    static int n;
    char* b = buf[n++ % 4];
    snprintf(b, 1024, "%s/%s", g_dir, rel);
    return b;
}

static void res(const char* what, long r) {
    if (r < 0)
        printf("%s: %s\n", what, ename(errno));
    else
        printf("%s: %ld\n", what, r);
}

static int cmp(const void* a, const void* b) { return strcmp(*(char**)a, *(char**)b); }

static void list(const char* rel) {
    DIR* d = opendir(p(rel));
    if (!d) {
        printf("ls %s: %s\n", rel, ename(errno));
        return;
    }
    char* names[256];
    int n = 0;
    struct dirent* e;
    while ((e = readdir(d)) && n < 256) {
        char t = e->d_type == DT_DIR   ? 'd'
                 : e->d_type == DT_LNK ? 'l'
                 : e->d_type == DT_REG ? 'f'
                                       : '?';
        char* s = malloc(300);
        snprintf(s, 300, "%s(%c)", e->d_name, t);
        names[n++] = s;
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp);
    printf("ls %s:", rel);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static void show_stat(const char* rel, int follow) {
    struct stat st;
    int r = follow ? stat(p(rel), &st) : lstat(p(rel), &st);
    if (r < 0) {
        printf("stat %s: %s\n", rel, ename(errno));
        return;
    }
    const char* t = S_ISDIR(st.st_mode)   ? "dir"
                    : S_ISLNK(st.st_mode) ? "link"
                    : S_ISREG(st.st_mode) ? "file"
                                          : "other";
    printf("stat %s: %s size=%ld\n", rel, t, S_ISDIR(st.st_mode) ? 0L : (long)st.st_size);
}

static void cat(const char* rel) {
    char buf[256];
    int fd = open(p(rel), O_RDONLY);
    if (fd < 0) {
        printf("cat %s: %s\n", rel, ename(errno));
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) n = 0;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == 0) buf[i] = '.';
    buf[n] = 0;
    printf("cat %s: [%s]\n", rel, buf);
}

static int suite(void) {
    res("mkdir d", mkdir(p("d"), 0755));
    res("mkdir d again", mkdir(p("d"), 0755));
    int fd = open(p("d/a.txt"), O_CREAT | O_RDWR | O_EXCL, 0644);
    res("create d/a.txt", fd < 0 ? -1 : 0);
    res("create excl again", open(p("d/a.txt"), O_CREAT | O_RDWR | O_EXCL, 0644));
    res("write", write(fd, "hello", 5));
    res("pwrite at 10", pwrite(fd, "world", 5, 10));
    res("lseek end", lseek(fd, 0, SEEK_END));
    res("lseek set 2", lseek(fd, 2, SEEK_SET));
    char buf[64] = {0};
    res("read 3", read(fd, buf, 3));
    printf("read: [%.3s]\n", buf);
    struct stat st;
    res("fstat", fstat(fd, &st));
    printf("fstat size=%ld\n", (long)st.st_size);
    res("fsync", fsync(fd));
    res("fdatasync", fdatasync(fd));
    res("ftruncate 3", ftruncate(fd, 3));
    res("fstat", fstat(fd, &st));
    printf("fstat size=%ld\n", (long)st.st_size);
    res("ftruncate 8192", ftruncate(fd, 8192));
    res("pread past old end", pread(fd, buf, 4, 100));
    printf("pread: %d %d %d %d\n", buf[0], buf[1], buf[2], buf[3]);
    close(fd);
    cat("d/a.txt");

    fd = open(p("d/log"), O_CREAT | O_WRONLY | O_APPEND, 0644);
    res("append 1", write(fd, "one\n", 4));
    res("append 2", write(fd, "two\n", 4));
    res("lseek cur", lseek(fd, 0, SEEK_CUR));
    close(fd);
    cat("d/log");
    fd = open(p("d/log"), O_WRONLY | O_TRUNC);
    res("open trunc", fd < 0 ? -1 : 0);
    close(fd);
    show_stat("d/log", 1);

    res("rename a->b", rename(p("d/a.txt"), p("d/b.txt")));
    cat("d/a.txt");
    show_stat("d/b.txt", 1);
    res("rename over log", rename(p("d/b.txt"), p("d/log")));
    show_stat("d/log", 1);
    res("symlink", symlink("log", p("d/link")));
    char target[64] = {0};
    res("readlink", readlink(p("d/link"), target, sizeof target - 1));
    printf("readlink: [%s]\n", target);
    show_stat("d/link", 0);
    show_stat("d/link", 1);
    res("mkdir d/sub", mkdir(p("d/sub"), 0700));
    res("mkdir d/sub/deep", mkdir(p("d/sub/deep"), 0700));
    res("symlink up", symlink("../log", p("d/sub/up")));
    cat("d/sub/up");
    res("chdir d/sub", chdir(p("d/sub")));
    cat("../log");
    char cwd[512];
    res("getcwd", getcwd(cwd, sizeof cwd) ? 0 : -1);
    printf("cwd ends with d/sub: %d\n",
           strlen(cwd) >= 5 && !strcmp(cwd + strlen(cwd) - 5, "d/sub"));
    res("chdir back", chdir("/"));
    list("d");
    list("d/sub");
    res("rmdir non-empty", rmdir(p("d/sub")));
    res("unlink dir", unlink(p("d/sub")));
    res("rmdir file", rmdir(p("d/log")));
    res("rename dir into itself", rename(p("d/sub"), p("d/sub/deep/x")));
    res("rename dir", rename(p("d/sub"), p("d/sub2")));
    list("d");
    show_stat("d/sub2/deep", 1);

    // A larger file in several chunks: 1 MiB + 123 bytes, read back.
    fd = open(p("d/big"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    static char big[(1 << 20) + 123];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 7 + 3);
    res("write big", write(fd, big, sizeof big));
    static char back[sizeof big];
    res("pread big", pread(fd, back, sizeof back, 0));
    printf("big same: %d\n", memcmp(big, back, sizeof big) == 0);
    // A private mapping of the file reads its bytes (past the end: zeros).
    unsigned char* m = mmap(NULL, sizeof big + 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    res("mmap big", m == MAP_FAILED ? -1 : 0);
    if (m != MAP_FAILED) {
        printf("mmap same: %d tail zero: %d\n", memcmp(m, big, sizeof big) == 0,
               m[sizeof big] == 0);
        munmap(m, sizeof big + 4096);
    }
    fd = (close(fd), open(p("d"), O_RDONLY | O_DIRECTORY));
    res("fsync dir", fsync(fd));
    close(fd);

    res("unlink missing", unlink(p("d/nothere")));
    res("open missing", open(p("d/nothere"), O_RDONLY));
    res("open dir for write", open(p("d"), O_WRONLY));
    res("open file as dir", open(p("d/big/x"), O_RDONLY));

    // Clean up, so that the run leaves the directory as it found it.
    res("unlink big", unlink(p("d/big")));
    res("unlink link", unlink(p("d/link")));
    res("unlink log", unlink(p("d/log")));
    res("unlink up", unlink(p("d/sub2/up")));
    res("rmdir deep", rmdir(p("d/sub2/deep")));
    res("rmdir sub2", rmdir(p("d/sub2")));
    res("rmdir d", rmdir(p("d")));
    list(".");
    return 0;
}

int main(int argc, char** argv) {
    snprintf(g_dir, sizeof g_dir, "%s", argc > 1 ? argv[1] : "/data");
    if (argc > 3 && !strcmp(argv[2], "fill")) {
        long kib = atol(argv[3]);
        int fd = open(p("fill"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
        if (fd < 0) return perror("open"), 1;
        char chunk[1024];
        memset(chunk, 'x', sizeof chunk);
        long done = 0;
        for (long i = 0; i < kib; i++) {
            ssize_t n = write(fd, chunk, sizeof chunk);
            if (n < 0) {
                printf("write: %s after %ld bytes\n", ename(errno), done);
                break;
            }
            done += n;
        }
        printf("wrote %ld bytes\n", done);
        res("mkdir after", mkdir(p("more"), 0755));
        res("close", close(fd));
        return 0;
    }
    if (argc > 3 && !strcmp(argv[2], "read")) {
        cat(argv[3]);
        return 0;
    }
    if (argc > 4 && !strcmp(argv[2], "write")) {
        int fd = open(p(argv[3]), O_CREAT | O_WRONLY | O_TRUNC, 0644);
        if (fd < 0) return printf("open: %s\n", ename(errno)), 1;
        res("write", write(fd, argv[4], strlen(argv[4])));
        res("fsync", fsync(fd));
        return close(fd) < 0;
    }
    if (argc > 3 && !strcmp(argv[2], "snap")) {
        int fd = open(p(argv[3]), O_CREAT | O_RDWR | O_TRUNC, 0644);
        if (fd < 0) return printf("open: %s\n", ename(errno)), 1;
        res("write before", write(fd, "before\n", 7));
        char line[64] = {0};
        ssize_t n = read(0, line, sizeof line - 1);
        if (n < 0) n = 0;
        line[n] = 0;
        res("write after", write(fd, line, (size_t)n));
        res("fsync", fsync(fd));
        close(fd);
        cat(argv[3]);
        return 0;
    }
    return suite();
}
