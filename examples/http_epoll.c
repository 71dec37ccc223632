/* http_epoll.c - a small HTTP/1.1 server: epoll, non-blocking sockets,
 * edge-triggered client events, keep-alive and pipelining.
 *
 *   GET /         -> 200, "Hello from Ember!\n"
 *   GET /size/N   -> 200, N bytes: byte i is 'a' + i % 26
 *   POST <any>    -> 200, the request body echoed back
 *   anything else -> 404 (GET) or 405
 *
 * Usage: http_epoll [PORT] (default 8080). Runs natively and in Ember. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HEADER 16384
#define PATTERN_CHUNK 65536

static char pattern[PATTERN_CHUNK + 26];

struct buf {
    char *p;
    size_t len, cap;
};

static int buf_append(struct buf *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

static void buf_consume(struct buf *b, size_t n) {
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

struct conn {
    int fd;
    struct buf in, out;
    size_t out_off;      /* bytes of out already sent */
    long long body_left; /* POST body bytes still to echo from `in` */
    long long gen_left;  /* /size/N bytes still to send after `out` */
    long long gen_pos;
    int close_after; /* Connection: close seen: close once all is sent */
    int peer_done;   /* the client finished sending */
};

static void conn_free(struct conn *c) {
    close(c->fd);
    free(c->in.p);
    free(c->out.p);
    free(c);
}

static int header_value(const char *hdrs, const char *name, char *out, size_t cap) {
    size_t nl = strlen(name);
    for (const char *line = hdrs; line && *line;) {
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

static int respond(struct conn *c, int status, const char *reason, long long len,
                   const char *body) {
    char hdr[256];
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 %d %s\r\nServer: ember-example\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %lld\r\n%s\r\n",
                     status, reason, len, c->close_after ? "Connection: close\r\n" : "");
    if (buf_append(&c->out, hdr, (size_t)n) < 0) return -1;
    if (body && buf_append(&c->out, body, (size_t)len) < 0) return -1;
    return 0;
}

/* Parses and answers as many complete requests as `in` holds. -1: close now. */
static int process(struct conn *c) {
    for (;;) {
        if (c->body_left > 0) {
            size_t n = c->in.len < (size_t)c->body_left ? c->in.len : (size_t)c->body_left;
            if (n == 0) return 0;
            if (buf_append(&c->out, c->in.p, n) < 0) return -1;
            buf_consume(&c->in, n);
            c->body_left -= (long long)n;
            continue;
        }
        if (c->gen_left > 0 || c->close_after) return 0; /* next response waits */
        if (c->in.len == 0) return 0;
        if (buf_append(&c->in, "", 1) < 0) return -1; /* NUL for the string functions */
        c->in.len--;
        char *end = strstr(c->in.p, "\r\n\r\n");
        if (!end) return c->in.len > MAX_HEADER ? -1 : 0;
        size_t hlen = (size_t)(end - c->in.p) + 4;
        char method[16], path[1024], version[16];
        end[2] = 0; /* keep the final header's CRLF for header_value */
        if (sscanf(c->in.p, "%15s %1023s %15s", method, path, version) != 3) return -1;
        const char *hdrs = strstr(c->in.p, "\r\n") + 2;
        char v[64];
        long long clen = 0;
        if (header_value(hdrs, "Content-Length", v, sizeof v)) clen = atoll(v);
        if (clen < 0) return -1;
        int keep = strcmp(version, "HTTP/1.0") != 0;
        if (header_value(hdrs, "Connection", v, sizeof v))
            keep = strcasecmp(v, "close") == 0 ? 0 : strcasecmp(v, "keep-alive") == 0 ? 1 : keep;
        int chunked = header_value(hdrs, "Transfer-Encoding", v, sizeof v);
        buf_consume(&c->in, hlen);
        c->close_after = !keep;
        if (chunked) {
            c->close_after = 1;
            if (respond(c, 501, "Not Implemented", 0, "") < 0) return -1;
            return 0;
        }
        if (strcmp(method, "POST") == 0) {
            if (respond(c, 200, "OK", clen, NULL) < 0) return -1;
            c->body_left = clen;
        } else if (strcmp(method, "GET") != 0) {
            c->close_after = c->close_after || clen > 0;
            if (respond(c, 405, "Method Not Allowed", 0, "") < 0) return -1;
        } else if (strcmp(path, "/") == 0) {
            static const char hello[] = "Hello from Ember!\n";
            if (respond(c, 200, "OK", sizeof hello - 1, hello) < 0) return -1;
        } else if (strncmp(path, "/size/", 6) == 0) {
            c->gen_left = atoll(path + 6);
            if (c->gen_left < 0) c->gen_left = 0;
            c->gen_pos = 0;
            if (respond(c, 200, "OK", c->gen_left, NULL) < 0) return -1;
        } else {
            static const char nf[] = "not found\n";
            if (respond(c, 404, "Not Found", sizeof nf - 1, nf) < 0) return -1;
        }
    }
}

/* Sends what is queued. 1: everything is out; 0: the socket is full; -1: error. */
static int flush(struct conn *c) {
    for (;;) {
        const char *p;
        size_t n;
        if (c->out_off < c->out.len) {
            p = c->out.p + c->out_off;
            n = c->out.len - c->out_off;
        } else if (c->gen_left > 0) {
            if (c->out.len) c->out.len = c->out_off = 0;
            p = pattern + c->gen_pos % 26;
            n = c->gen_left < PATTERN_CHUNK ? (size_t)c->gen_left : PATTERN_CHUNK;
        } else {
            c->out.len = c->out_off = 0;
            return 1;
        }
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        if (c->out_off < c->out.len) {
            c->out_off += (size_t)w;
        } else {
            c->gen_left -= w;
            c->gen_pos += w;
        }
    }
}

/* Handles readiness of a client (`events` from epoll). Returns -1 when the
 * connection is done. */
static int serve(struct conn *c, uint32_t events) {
    /* When the peer has finished sending, read until recv says so. */
    int read_to_end = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    static char tmp[65536];
    for (;;) {
        for (;;) {
            ssize_t r = recv(c->fd, tmp, sizeof tmp, 0);
            if (r > 0) {
                if (buf_append(&c->in, tmp, (size_t)r) < 0) return -1;
                /* A short read drained the socket (as nginx assumes): new
                 * data will be a new edge. Saves the EAGAIN call. */
                if ((size_t)r < sizeof tmp && !read_to_end) break;
                continue;
            }
            if (r == 0)
                c->peer_done = 1;
            else if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -1;
            break;
        }
        if (process(c) < 0) return -1;
        int f = flush(c);
        if (f <= 0) return f; /* 0: EPOLLOUT (edge-triggered) brings us back */
        if (c->close_after && c->body_left == 0) return -1;
        /* A generated body held back pipelined requests: answer them now. */
        if (c->in.len > 0 && c->body_left == 0) {
            size_t before = c->in.len;
            if (process(c) < 0) return -1;
            if (c->in.len != before) continue;
        }
        return c->peer_done ? -1 : 0;
    }
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    for (int i = 0; i < (int)sizeof pattern; i++) pattern[i] = (char)('a' + i % 26);
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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
    if (listen(ls, 1024) < 0) {
        perror("listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("epoll_create1");
        return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev) < 0) {
        perror("epoll_ctl");
        return 1;
    }
    printf("http_epoll: listening on port %d\n", port);
    fflush(stdout);
    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (!c) {
                for (;;) {
                    int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) {
                        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
                            perror("accept4");
                        break;
                    }
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = calloc(1, sizeof *c);
                    if (!c) {
                        close(fd);
                        continue;
                    }
                    c->fd = fd;
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                              .data.ptr = c};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) < 0) {
                        perror("epoll_ctl add");
                        conn_free(c);
                        continue;
                    }
                    if (serve(c, EPOLLRDHUP) < 0) conn_free(c); /* close() leaves the epoll set */
                }
                continue;
            }
            if ((events[i].events & EPOLLERR) || serve(c, events[i].events) < 0) conn_free(c);
        }
    }
}
