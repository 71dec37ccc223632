/* counter.c - an HTTP/1.1 server whose state lives only in memory, for
 * stateful scale to zero: every request adds one to a counter and gets the
 * new value back. Blocking sockets, one connection at a time (keep-alive).
 *
 *   GET /          -> 200, "count N\n" (N counts every request served)
 *   GET /dirty/M   -> 200, "count N\n" after writing M MiB (at most 16) of
 *                     a static buffer with the byte N % 251
 *   GET /sum       -> 200, "count N sum S\n": S adds up the buffer's bytes
 *                     (what /dirty wrote, checked after a resume)
 *
 * Usage: counter [PORT] (default 8080). Runs natively and in Ember. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HEADER 8192
#define MAX_DIRTY_MIB 16

static char in[MAX_HEADER + 1];
static size_t in_len;
static unsigned long long count;
static unsigned char buffer[MAX_DIRTY_MIB << 20];
static size_t dirty_len;

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

static int handle(int fd, const char *req) {
    char path[256] = "";
    char body[128];
    if (sscanf(req, "GET %255s", path) != 1) return respond(fd, 404, "only GET\n");
    ++count;
    if (strncmp(path, "/dirty/", 7) == 0) {
        size_t mib = strtoul(path + 7, NULL, 10);
        if (mib > MAX_DIRTY_MIB) mib = MAX_DIRTY_MIB;
        dirty_len = mib << 20;
        memset(buffer, (int)(count % 251), dirty_len);
    } else if (strcmp(path, "/sum") == 0) {
        unsigned long long sum = 0;
        for (size_t i = 0; i < dirty_len; ++i) sum += buffer[i];
        snprintf(body, sizeof body, "count %llu sum %llu\n", count, sum);
        return respond(fd, 200, body);
    } else if (strcmp(path, "/") != 0) {
        return respond(fd, 404, "not found\n");
    }
    snprintf(body, sizeof body, "count %llu\n", count);
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
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 64) != 0) {
        perror("counter: bind/listen");
        return 1;
    }
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR) continue;
            perror("counter: accept");
            return 1;
        }
        serve(fd);
        close(fd);
    }
}
