/* http_loop.h - the serving loop shared by the small keep-alive HTTP/1.1
 * examples (counter, vol_counter, vol_sqlite_svc): one connection at a time,
 * blocking sockets, GET requests without bodies. Each example supplies only
 * its request handler. Header-only so that every example stays one static
 * binary built from one .c file. */
#ifndef EMBER_EXAMPLES_HTTP_LOOP_H
#define EMBER_EXAMPLES_HTTP_LOOP_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTP_LOOP_MAX_HEADER 8192

/* Answers one request (its header text, NUL-terminated) on fd; nonzero
 * closes the connection. */
typedef int (*http_loop_handler)(int fd, const char *request);

static inline int send_all(int fd, const char *s, size_t n) {
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

/* A text/plain response: 200 OK, or any other status as "Not Found". */
static inline int http_loop_respond(int fd, int status, const char *body) {
    char out[512];
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
                     status, status == 200 ? "OK" : "Not Found", strlen(body), body);
    return send_all(fd, out, (size_t)n);
}

/* Serves one connection's requests (pipelined ones too) until it closes or
 * a header outgrows the buffer. */
static inline void http_loop_serve(int fd, http_loop_handler handle) {
    static char in[HTTP_LOOP_MAX_HEADER + 1];
    size_t in_len = 0;
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
        if (in_len >= HTTP_LOOP_MAX_HEADER) return;
        ssize_t r = recv(fd, in + in_len, HTTP_LOOP_MAX_HEADER - in_len, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return;
        in_len += (size_t)r;
    }
}

/* Listens on every address at port and serves connections one after the
 * other, forever; returns 1 (after perror with name) if it cannot. */
static inline int http_loop_run(int port, const char *name, http_loop_handler handle) {
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 64) != 0) {
        fprintf(stderr, "%s: bind/listen: %s\n", name, strerror(errno));
        return 1;
    }
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "%s: accept: %s\n", name, strerror(errno));
            return 1;
        }
        http_loop_serve(fd, handle);
        close(fd);
    }
}

#endif
