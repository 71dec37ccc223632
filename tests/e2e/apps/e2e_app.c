/* e2e_app.c - the HTTP service the end-to-end tests deploy on emberd: a
 * static Linux program (epoll, non-blocking sockets) whose routes exercise
 * the platform's failure and scaling paths.
 *
 *   GET /            -> 200 "hello from e2e_app\n"
 *   GET /count       -> 200 "<n>\n": a counter in this process's memory, +1 per call
 *   GET /sleep/MS    -> 200 "slept MS\n" after MS milliseconds (other requests go on)
 *   GET /env/NAME    -> 200 the value of $NAME, 404 if unset
 *   GET /file/PATH   -> 200 the content of /PATH, 404 if it cannot be read
 *   GET /resolve/NAME -> 200 NAME's first IPv4 address (getaddrinfo), 404 if none
 *   GET /crash       -> writes to a null pointer (the instance crashes mid-request)
 *   GET /exit        -> exit(3) mid-request
 *   GET /spin        -> loops forever (never answers)
 *   GET /garble      -> 200, after printing bytes that are not UTF-8 on stdout and stderr
 *   GET /flood/KB    -> 200, after printing KB KiB of lines on stdout as fast as it can
 *   POST <any>       -> 200 the request body
 *   anything else    -> 404
 * Every request is logged on stdout. Responses close the connection.
 * Usage: e2e_app [PORT] (default 8080). Runs natively too. At start-up,
 * before it listens, the environment can make it
 *   E2E_GARBLE=1          print bytes that are not UTF-8 (as /garble)
 *   E2E_START_DELAY_MS=N  wait N ms
 *   E2E_EXIT=N            exit with status N instead of listening */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define MAX_REQ 65536

struct conn {
    int fd;
    char in[MAX_REQ];
    size_t in_len;
    char *out;
    size_t out_len, out_off;
    long long due_ms; /* > 0: the response is held until then */
};

static struct conn *conns[MAX_CONNS];
static int ep;
static unsigned long counter;

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void drop(struct conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    for (int i = 0; i < MAX_CONNS; i++)
        if (conns[i] == c) conns[i] = NULL;
    free(c->out);
    free(c);
}

static void respond(struct conn *c, int status, const char *body, size_t len) {
    const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : "Bad Request";
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, reason, len);
    c->out = malloc((size_t)n + len);
    if (!c->out) {
        drop(c);
        return;
    }
    memcpy(c->out, head, (size_t)n);
    memcpy(c->out + n, body, len);
    c->out_len = (size_t)n + len;
    c->out_off = 0;
}

static void respond_str(struct conn *c, int status, const char *body) {
    respond(c, status, body, strlen(body));
}

/* Writes what it can; returns 1 when the connection is finished. */
static int flush_out(struct conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0 && errno == EAGAIN) {
            struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            return 0;
        }
        if (w <= 0) return 1;
        c->out_off += (size_t)w;
    }
    return 1;
}

/* Console output that is not UTF-8: a stray byte, a truncated sequence, a
 * UTF-16 surrogate, a code point above U+10FFFF, an overlong '/'. */
static void garble(void) {
    static const char bad[] = "\xff\xfe \xc3 \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf end";
    printf("e2e_app: garbled %s\n", bad);
    fflush(stdout);
    fprintf(stderr, "e2e_app: garbled on stderr %s\n", bad);
}

static void handle(struct conn *c, const char *method, const char *path, const char *body,
                   size_t body_len) {
    printf("e2e_app: %s %s\n", method, path);
    fflush(stdout);
    char buf[4096];
    if (strcmp(method, "POST") == 0) {
        respond(c, 200, body, body_len);
    } else if (strcmp(path, "/") == 0) {
        respond_str(c, 200, "hello from e2e_app\n");
    } else if (strcmp(path, "/count") == 0) {
        snprintf(buf, sizeof buf, "%lu\n", ++counter);
        respond_str(c, 200, buf);
    } else if (strncmp(path, "/sleep/", 7) == 0) {
        long ms = atol(path + 7);
        snprintf(buf, sizeof buf, "slept %ld\n", ms);
        respond_str(c, 200, buf);
        c->due_ms = now_ms() + ms;
    } else if (strncmp(path, "/env/", 5) == 0) {
        const char *v = getenv(path + 5);
        if (v) {
            snprintf(buf, sizeof buf, "%s\n", v);
            respond_str(c, 200, buf);
        } else {
            respond_str(c, 404, "unset\n");
        }
    } else if (strncmp(path, "/file/", 6) == 0) {
        int fd = open(path + 5, O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
        if (fd >= 0) close(fd);
        if (n >= 0)
            respond(c, 200, buf, (size_t)n);
        else
            respond_str(c, 404, "cannot read\n");
    } else if (strncmp(path, "/resolve/", 9) == 0) {
        struct addrinfo hints = {0}, *res = NULL;
        hints.ai_family = AF_INET;
        hints.ai_socktype = SOCK_STREAM;
        if (getaddrinfo(path + 9, NULL, &hints, &res) == 0 && res) {
            char a[INET_ADDRSTRLEN] = "";
            inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, a, sizeof a);
            freeaddrinfo(res);
            snprintf(buf, sizeof buf, "%s\n", a);
            respond_str(c, 200, buf);
        } else {
            respond_str(c, 404, "no address\n");
        }
    } else if (strcmp(path, "/crash") == 0) {
        *(volatile int *)0 = 1;
    } else if (strcmp(path, "/exit") == 0) {
        exit(3);
    } else if (strcmp(path, "/garble") == 0) {
        garble();
        respond_str(c, 200, "garbled\n");
    } else if (strncmp(path, "/flood/", 7) == 0) {
        static char line[1024];
        memset(line, 'x', sizeof line - 1);
        line[sizeof line - 1] = '\n';
        for (long i = atol(path + 7); i > 0; i--) fwrite(line, 1, sizeof line, stdout);
        fflush(stdout);
        respond_str(c, 200, "flooded\n");
    } else if (strcmp(path, "/spin") == 0) {
        for (volatile unsigned long i = 0;; i++) {
        }
    } else {
        respond_str(c, 404, "not found\n");
    }
}

/* Parses a complete request in c->in, if there is one, and handles it. */
static void try_request(struct conn *c) {
    c->in[c->in_len] = 0;
    char *end = strstr(c->in, "\r\n\r\n");
    if (!end) {
        if (c->in_len >= MAX_REQ - 1) respond_str(c, 400, "request too large\n");
        return;
    }
    size_t body_len = 0;
    char *cl = strcasestr(c->in, "\r\nContent-Length:");
    if (cl && cl < end) body_len = (size_t)atol(cl + 17);
    size_t head_len = (size_t)(end - c->in) + 4;
    if (head_len + body_len >= MAX_REQ) {
        respond_str(c, 400, "request too large\n");
        return;
    }
    if (c->in_len < head_len + body_len) return;
    char method[16] = {0}, path[2048] = {0};
    if (sscanf(c->in, "%15s %2047s", method, path) != 2) {
        respond_str(c, 400, "bad request line\n");
        return;
    }
    handle(c, method, path, c->in + head_len, body_len);
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    if (getenv("E2E_GARBLE")) garble();
    if (getenv("E2E_START_DELAY_MS")) {
        long ms = atol(getenv("E2E_START_DELAY_MS"));
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (getenv("E2E_EXIT")) exit(atoi(getenv("E2E_EXIT")));
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 128) != 0) {
        perror("e2e_app: listen");
        return 1;
    }
    ep = epoll_create1(0);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
    printf("e2e_app: listening on port %d\n", port);
    fflush(stdout);
    for (;;) {
        long long next = -1, now = now_ms();
        for (int i = 0; i < MAX_CONNS; i++)
            if (conns[i] && conns[i]->due_ms > 0 && (next < 0 || conns[i]->due_ms < next))
                next = conns[i]->due_ms;
        int timeout = next < 0 ? -1 : (int)(next > now ? next - now : 0);
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, timeout);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    int slot = -1;
                    for (int k = 0; k < MAX_CONNS; k++)
                        if (!conns[k]) {
                            slot = k;
                            break;
                        }
                    struct conn *nc = slot >= 0 ? calloc(1, sizeof *nc) : NULL;
                    if (!nc) {
                        close(fd);
                        continue;
                    }
                    nc->fd = fd;
                    conns[slot] = nc;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            if (c->out) {
                if (c->due_ms == 0 && flush_out(c)) drop(c);
                continue;
            }
            ssize_t r = read(c->fd, c->in + c->in_len, MAX_REQ - 1 - c->in_len);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                drop(c);
                continue;
            }
            c->in_len += (size_t)r;
            try_request(c);
            if (c->out && c->due_ms > 0) {
                /* Held response: stop watching the socket until it is due. */
                struct epoll_event ev = {.events = 0, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            } else if (c->out && flush_out(c)) {
                drop(c);
            }
        }
        now = now_ms();
        for (int i = 0; i < MAX_CONNS; i++) {
            struct conn *c = conns[i];
            if (c && c->out && c->due_ms > 0 && c->due_ms <= now) {
                c->due_ms = 0;
                if (flush_out(c)) drop(c);
            }
        }
    }
}
