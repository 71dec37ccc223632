/* vol_counter.c - an HTTP/1.1 server whose state lives on a volume: every
 * request adds one to the number in DIR/count and gets the new value back
 * ("count N\n"), durably (fsync, rename, fsync of the directory) before it
 * answers. For the volume e2e tests: the count survives redeploys.
 *
 * Usage: vol_counter [DIR [PORT]] (default /data, 8080). Runs natively too. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_loop.h"

static const char *dir = "/data";

/* The count in DIR/count, plus one, written to DIR/count.tmp, fsync'ed and
 * renamed over it (then the directory fsync'ed): a crash leaves the old or
 * the new count, never a torn one. */
static long bump(void) {
    char path[512], tmp[512], buf[32] = "";
    snprintf(path, sizeof path, "%s/count", dir);
    snprintf(tmp, sizeof tmp, "%s/count.tmp", dir);
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = 0;
        close(fd);
    }
    long count = atol(buf) + 1;
    fd = open(tmp, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0) return -errno;
    int len = snprintf(buf, sizeof buf, "%ld\n", count);
    if (write(fd, buf, (size_t)len) != len || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    close(fd);
    if (rename(tmp, path) != 0) return -errno;
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    if (d >= 0) {
        fsync(d);
        close(d);
    }
    return count;
}

static int handle(int fd, const char *req) {
    char path[256] = "";
    char body[128];
    if (sscanf(req, "GET %255s", path) != 1) return http_loop_respond(fd, 404, "only GET\n");
    if (strcmp(path, "/") != 0) return http_loop_respond(fd, 404, "not found\n");
    long count = bump();
    if (count < 0)
        snprintf(body, sizeof body, "error %s\n", strerror((int)-count));
    else
        snprintf(body, sizeof body, "count %ld\n", count);
    return http_loop_respond(fd, 200, body);
}

int main(int argc, char **argv) {
    int port = argc > 2 ? atoi(argv[2]) : 8080;
    if (argc > 1) dir = argv[1];
    return http_loop_run(port, "vol_counter", handle);
}
