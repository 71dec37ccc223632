/* http_stream.c - an HTTP/1.1 server whose responses stream: for the
 * gateway's streaming tests (tests/e2e/gateway_stream_test.cpp). A thread
 * per connection, blocking sockets; runs natively too.
 *
 *   GET /chunked/MB     -> 200, MB MiB of 'x' in 64 KiB chunks (chunked)
 *   GET /sse/N/MS       -> 200 text/event-stream, N events "data: <i>", MS ms apart
 *   GET /length/KB      -> 200, KB KiB of 'y' with a Content-Length
 *   any request with "Upgrade:" -> 101, then echoes every byte until EOF
 *   POST <any>          -> 200 "<bytes> <sum>\n": the body's size and byte sum
 *                          (Content-Length or chunked)
 *   anything else       -> 200 "http_stream\n"
 * Responses close the connection. Usage: http_stream [PORT] (default 8080). */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HDR_MAX 16384

struct conn {
    int fd;
    char buf[HDR_MAX];
    size_t len, off; /* bytes in buf; bytes of buf already consumed */
};

static int send_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_str(int fd, const char *s) { return send_all(fd, s, strlen(s)); }

static int send_chunk(int fd, const char *p, size_t n) {
    char head[32];
    snprintf(head, sizeof head, "%zx\r\n", n);
    if (send_str(fd, head) || send_all(fd, p, n)) return -1;
    return send_str(fd, "\r\n");
}

/* One byte of the request after the header, from buf first; -1 at EOF. */
static int next_byte(struct conn *c) {
    if (c->off == c->len) {
        ssize_t r = recv(c->fd, c->buf, sizeof c->buf, 0);
        if (r <= 0) return -1;
        c->len = (size_t)r;
        c->off = 0;
    }
    return (unsigned char)c->buf[c->off++];
}

static int read_line(struct conn *c, char *line, size_t cap) {
    size_t n = 0;
    for (;;) {
        int b = next_byte(c);
        if (b < 0) return -1;
        if (b == '\n') break;
        if (b != '\r' && n + 1 < cap) line[n++] = (char)b;
    }
    line[n] = 0;
    return 0;
}

static void body_stats(struct conn *c, const char *hdr, unsigned long long *size,
                       unsigned long long *sum) {
    *size = *sum = 0;
    const char *cl = strcasestr(hdr, "\ncontent-length:");
    if (strcasestr(hdr, "\ntransfer-encoding: chunked")) {
        char line[64];
        for (;;) {
            if (read_line(c, line, sizeof line)) return;
            unsigned long long n = strtoull(line, NULL, 16);
            if (n == 0) {
                while (read_line(c, line, sizeof line) == 0 && line[0]) {
                }
                return;
            }
            for (unsigned long long i = 0; i < n; i++) {
                int b = next_byte(c);
                if (b < 0) return;
                *size += 1;
                *sum += (unsigned)b;
            }
            if (read_line(c, line, sizeof line)) return;
        }
    } else if (cl) {
        unsigned long long n = strtoull(cl + 16, NULL, 10);
        for (unsigned long long i = 0; i < n; i++) {
            int b = next_byte(c);
            if (b < 0) return;
            *size += 1;
            *sum += (unsigned)b;
        }
    }
}

static void serve(struct conn *c) {
    /* The header: up to the blank line. */
    char *end = NULL;
    while (!end) {
        if (c->len == sizeof c->buf) return;
        ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len - 1, 0);
        if (r <= 0) return;
        c->len += (size_t)r;
        c->buf[c->len] = 0;
        end = strstr(c->buf, "\r\n\r\n");
    }
    char hdr[HDR_MAX];
    size_t hl = (size_t)(end + 4 - c->buf);
    memcpy(hdr, c->buf, hl);
    hdr[hl] = 0;
    c->off = hl;
    char method[16] = "", path[1024] = "";
    sscanf(hdr, "%15s %1023s", method, path);
    unsigned a = 0, b = 0;
    if (strcasestr(hdr, "\nupgrade:")) {
        send_str(c->fd,
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n");
        if (c->off < c->len && send_all(c->fd, c->buf + c->off, c->len - c->off)) return;
        char piece[16384];
        ssize_t r;
        while ((r = recv(c->fd, piece, sizeof piece, 0)) > 0)
            if (send_all(c->fd, piece, (size_t)r)) return;
        return;
    }
    if (strcmp(method, "POST") == 0) {
        unsigned long long size, sum;
        body_stats(c, hdr, &size, &sum);
        char out[256], line[64];
        snprintf(line, sizeof line, "%llu %llu\n", size, sum);
        snprintf(out, sizeof out,
                 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                 strlen(line), line);
        send_str(c->fd, out);
        return;
    }
    if (sscanf(path, "/chunked/%u", &a) == 1) {
        send_str(c->fd,
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
        static char piece[65536];
        memset(piece, 'x', sizeof piece);
        for (unsigned i = 0; i < a * 16u; i++)
            if (send_chunk(c->fd, piece, sizeof piece)) return;
        send_str(c->fd, "0\r\n\r\n");
        return;
    }
    if (sscanf(path, "/sse/%u/%u", &a, &b) == 2) {
        send_str(c->fd,
                 "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                 "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
        for (unsigned i = 0; i < a; i++) {
            if (i > 0) usleep(b * 1000u);
            char ev[64];
            snprintf(ev, sizeof ev, "data: %u\n\n", i);
            if (send_chunk(c->fd, ev, strlen(ev))) return;
        }
        send_str(c->fd, "0\r\n\r\n");
        return;
    }
    if (sscanf(path, "/length/%u", &a) == 1) {
        char head[128];
        snprintf(head, sizeof head,
                 "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\nConnection: close\r\n\r\n",
                 (unsigned long long)a * 1024);
        send_str(c->fd, head);
        char piece[1024];
        memset(piece, 'y', sizeof piece);
        for (unsigned i = 0; i < a; i++)
            if (send_all(c->fd, piece, sizeof piece)) return;
        return;
    }
    send_str(c->fd,
             "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\nhttp_stream\n");
}

static void *conn_thread(void *arg) {
    struct conn *c = arg;
    serve(c);
    shutdown(c->fd, SHUT_WR);
    close(c->fd);
    free(c);
    return NULL;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 128)) {
        perror("http_stream: listen");
        return 1;
    }
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) continue;
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        pthread_t t;
        if (pthread_create(&t, NULL, conn_thread, c) != 0) {
            close(fd);
            free(c);
            continue;
        }
        pthread_detach(t);
    }
}
