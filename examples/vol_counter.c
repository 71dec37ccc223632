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

#define MAX_HEADER 8192

static char in[MAX_HEADER + 1];
static size_t in_len;
static const char *dir = "/data";

static int send_all(int fd, const char *s, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int respond(int fd, int status, const char *body) {
    char out[512];
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
                     status, status == 200 ? "OK" : "Not Found", strlen(body), body);
    return send_all(fd, out, (size_t)n);
}

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
    if (sscanf(req, "GET %255s", path) != 1) return respond(fd, 404, "only GET\n");
    if (strcmp(path, "/") != 0) return respond(fd, 404, "not found\n");
    long count = bump();
    if (count < 0)
        snprintf(body, sizeof body, "error %s\n", strerror((int)-count));
    else
        snprintf(body, sizeof body, "count %ld\n", count);
    return respond(fd, 200, body);
}

/* Serves one connection's requests until it closes. */
static void serve(int fd) {
    in_len = 0;
    for (;;) {
        in[in_len] = 0;
        char *end = strstr(in, "\r\n\r\n");
        if (end) {
            if (handle(fd, in) != 0) return;
            size_t used = (size_t)(end + 4 - in);
            memmove(in, in + used, in_len - used);
            in_len -= used;
            continue;
        }
        if (in_len >= MAX_HEADER) return;
        ssize_t r = recv(fd, in + in_len, MAX_HEADER - in_len, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return;
        in_len += (size_t)r;
    }
}

int main(int argc, char **argv) {
    int port = argc > 2 ? atoi(argv[2]) : 8080;
    if (argc > 1) dir = argv[1];
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 64) != 0) {
        perror("vol_counter: bind/listen");
        return 1;
    }
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR) continue;
            perror("vol_counter: accept");
            return 1;
        }
        serve(fd);
        close(fd);
    }
}
