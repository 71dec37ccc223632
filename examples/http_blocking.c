/* http_blocking.c - a small HTTP/1.1 server with blocking sockets: accept
 * one connection, answer its requests (keep-alive, pipelining) until the
 * client closes, then accept the next.
 *
 *   GET /         -> 200, "Hello from Ember!\n"
 *   GET /size/N   -> 200, N bytes: byte i is 'a' + i % 26
 *   POST <any>    -> 200, the request body echoed back
 *   anything else -> 404 (GET) or 405
 *
 * Usage: http_blocking [PORT] (default 8080). Runs natively and in Ember. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HEADER 16384
#define CHUNK 65536

static char in[MAX_HEADER + 1];
static size_t in_len;
static char chunk[CHUNK + 26];

static int send_all(int fd, const void *p, size_t n) {
    const char *s = p;
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

/* Reads more bytes into `in`. 0 at EOF, -1 on error. */
static ssize_t fill(int fd) {
    if (in_len >= MAX_HEADER) return -1;
    for (;;) {
        ssize_t r = recv(fd, in + in_len, MAX_HEADER - in_len, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r > 0) in_len += (size_t)r;
        return r;
    }
}

static int header_value(const char *hdrs, const char *name, char *out, size_t cap) {
    size_t nl = strlen(name);
    for (const char *line = hdrs; *line;) {
        const char *end = strstr(line, "\r\n");
        if (!end) break;
        if ((size_t)(end - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ' || *v == '\t') v++;
            size_t n = (size_t)(end - v);
            if (n >= cap) n = cap - 1;
            memcpy(out, v, n);
            out[n] = 0;
            return 1;
        }
        line = end + 2;
    }
    return 0;
}

static int head(int fd, int status, const char *reason, long long len, int close_after) {
    char hdr[256];
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 %d %s\r\nServer: ember-example\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %lld\r\n%s\r\n",
                     status, reason, len, close_after ? "Connection: close\r\n" : "");
    return send_all(fd, hdr, (size_t)n);
}

/* Answers one request. 1: keep the connection; 0: close it. */
static int one_request(int fd) {
    char *end;
    in[in_len] = 0;
    while (!(end = strstr(in, "\r\n\r\n"))) {
        if (fill(fd) <= 0) return 0;
        in[in_len] = 0;
    }
    size_t hlen = (size_t)(end - in) + 4;
    end[2] = 0;
    char method[16], path[1024], version[16], v[64];
    if (sscanf(in, "%15s %1023s %15s", method, path, version) != 3) return 0;
    const char *hdrs = strstr(in, "\r\n") + 2;
    long long clen = header_value(hdrs, "Content-Length", v, sizeof v) ? atoll(v) : 0;
    int keep = strcmp(version, "HTTP/1.0") != 0;
    if (header_value(hdrs, "Connection", v, sizeof v))
        keep = strcasecmp(v, "close") == 0 ? 0 : strcasecmp(v, "keep-alive") == 0 ? 1 : keep;
    if (clen < 0 || header_value(hdrs, "Transfer-Encoding", v, sizeof v)) {
        head(fd, 501, "Not Implemented", 0, 1);
        return 0;
    }
    memmove(in, in + hlen, in_len - hlen);
    in_len -= hlen;
    if (strcmp(method, "POST") == 0) {
        if (head(fd, 200, "OK", clen, !keep) < 0) return 0;
        while (clen > 0) { /* echo the body as it arrives */
            if (in_len == 0 && fill(fd) <= 0) return 0;
            size_t n = in_len < (size_t)clen ? in_len : (size_t)clen;
            if (send_all(fd, in, n) < 0) return 0;
            memmove(in, in + n, in_len - n);
            in_len -= n;
            clen -= (long long)n;
        }
    } else if (strcmp(method, "GET") != 0) {
        head(fd, 405, "Method Not Allowed", 0, 1);
        return 0;
    } else if (strcmp(path, "/") == 0) {
        static const char hello[] = "Hello from Ember!\n";
        if (head(fd, 200, "OK", sizeof hello - 1, !keep) < 0) return 0;
        if (send_all(fd, hello, sizeof hello - 1) < 0) return 0;
    } else if (strncmp(path, "/size/", 6) == 0) {
        long long n = atoll(path + 6), pos = 0;
        if (n < 0) n = 0;
        if (head(fd, 200, "OK", n, !keep) < 0) return 0;
        while (pos < n) {
            size_t len = n - pos < CHUNK ? (size_t)(n - pos) : CHUNK;
            if (send_all(fd, chunk + pos % 26, len) < 0) return 0;
            pos += (long long)len;
        }
    } else {
        static const char nf[] = "not found\n";
        if (head(fd, 404, "Not Found", sizeof nf - 1, !keep) < 0) return 0;
        if (send_all(fd, nf, sizeof nf - 1) < 0) return 0;
    }
    return keep;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    for (int i = 0; i < (int)sizeof chunk; i++) chunk[i] = (char)('a' + i % 26);
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ls < 0) {
        perror("socket");
        return 1;
    }
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("bind");
        return 1;
    }
    if (listen(ls, 128) < 0) {
        perror("listen");
        return 1;
    }
    printf("http_blocking: listening on port %d\n", port);
    fflush(stdout);
    for (;;) {
        struct sockaddr_in peer;
        socklen_t pl = sizeof peer;
        int fd = accept(ls, (struct sockaddr *)&peer, &pl);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            perror("accept");
            return 1;
        }
        in_len = 0;
        while (one_request(fd)) {
        }
        close(fd);
    }
}
