/* udp_egress.c - UDP to a host outside the instance, and name resolution
 * (tests/integration/udp_test.cpp runs it under ember-vm and natively).
 *
 *   udp_egress echo HOST PORT       resolve HOST, then echo datagrams through
 *                                   sendto/recvfrom, connect+send/recv,
 *                                   sendmmsg/recvmmsg, with poll and epoll
 *   udp_egress resolve NAME...      getaddrinfo each NAME, print its addresses
 *   udp_egress denied HOST PORT     sendto, then report the error the socket gets
 *   udp_egress flood HOST PORT      open sockets until refused, flood datagrams
 *                                   without reading, then check one still echoes
 *   udp_egress snapshot HOST PORT   echo once, declare READY (ember-vm takes its
 *                                   snapshot there), then echo again on the
 *                                   same socket (in the restored instance)
 *   udp_egress bench HOST PORT N    N round trips; prints the median and p99 in us
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char* err_name(int e) {
    switch (e) {
        case ECONNREFUSED:
            return "ECONNREFUSED";
        case ENOBUFS:
            return "ENOBUFS";
        case EMFILE:
            return "EMFILE";
        case ENETUNREACH:
            return "ENETUNREACH";
        case EAGAIN:
            return "EAGAIN";
        case EMSGSIZE:
            return "EMSGSIZE";
        default:
            return strerror(e);
    }
}

static const char* eai_name(int e) {
    switch (e) {
        case EAI_NONAME:
            return "EAI_NONAME";
        case EAI_AGAIN:
            return "EAI_AGAIN";
        case EAI_FAIL:
            return "EAI_FAIL";
        case EAI_NODATA:
            return "EAI_NODATA";
        default:
            return gai_strerror(e);
    }
}

/* The first address of HOST:PORT for UDP (IPv4 unless HOST is an IPv6
 * literal), or exits. */
static struct sockaddr_storage resolve(const char* host, const char* port, socklen_t* len) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = strchr(host, ':') ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        printf("resolve %s: %s\n", host, eai_name(rc));
        exit(1);
    }
    struct sockaddr_storage ss;
    memcpy(&ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return ss;
}

static int wait_readable(int fd, int ms) {
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, ms);
}

/* UDP may lose a datagram (a loaded host's loopback backlog overflows), so
 * every exchange is tried a few times, one second apart. */
enum { kTries = 5, kTryMs = 1000 };

static int echo_once(int fd, const struct sockaddr_storage* to, socklen_t tl, const char* msg) {
    int ready = 0;
    for (int t = 0; t < kTries && ready != 1; t++) {
        if (sendto(fd, msg, strlen(msg), 0, (const struct sockaddr*)to, tl) != (ssize_t)strlen(msg))
            return printf("sendto: %s\n", err_name(errno)), -1;
        ready = wait_readable(fd, kTryMs);
    }
    if (ready != 1) return printf("poll: no reply\n"), -1;
    char buf[256];
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    ssize_t n;
    do { /* a late reply to an earlier try may come first: skip it */
        fl = sizeof from;
        n = recvfrom(fd, buf, sizeof buf - 1, 0, (struct sockaddr*)&from, &fl);
        if (n < 0) return printf("recvfrom: %s\n", err_name(errno)), -1;
        buf[n] = 0;
    } while (strcmp(buf, msg) != 0 && wait_readable(fd, kTryMs) == 1);
    int same;
    if (to->ss_family == AF_INET6) {
        const struct sockaddr_in6* a = (const struct sockaddr_in6*)&from;
        const struct sockaddr_in6* b = (const struct sockaddr_in6*)to;
        same = a->sin6_port == b->sin6_port && !memcmp(&a->sin6_addr, &b->sin6_addr, 16);
    } else {
        const struct sockaddr_in* a = (const struct sockaddr_in*)&from;
        const struct sockaddr_in* b = (const struct sockaddr_in*)to;
        same = a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
    }
    if (!same) return printf("reply from another address\n"), -1;
    printf("reply: %s\n", buf);
    return 0;
}

static int echo(const char* host, const char* port) {
    socklen_t tl;
    struct sockaddr_storage to = resolve(host, port, &tl);
    int fd = socket(to.ss_family, SOCK_DGRAM, 0);
    if (echo_once(fd, &to, tl, "sendto one") || echo_once(fd, &to, tl, "sendto two")) return 1;
    /* connect + send/recv, woken by epoll */
    int c = socket(to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (connect(c, (struct sockaddr*)&to, tl) != 0)
        return printf("connect: %s\n", err_name(errno)), 1;
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
    int ready = 0;
    for (int t = 0; t < kTries && ready != 1; t++) {
        if (send(c, "connected", 9, 0) != 9) return printf("send: %s\n", err_name(errno)), 1;
        ready = epoll_wait(ep, &ev, 1, kTryMs);
    }
    if (ready != 1) return printf("epoll: no reply\n"), 1;
    char buf[64] = {0};
    ssize_t n = recv(c, buf, sizeof buf - 1, 0);
    printf("recv: %.*s\n", (int)(n < 0 ? 0 : n), buf);
    /* sendmmsg / recvmmsg: three datagrams each way */
    struct mmsghdr mm[3];
    struct iovec iov[3];
    char bufs[3][32];
    const char* words[3] = {"mm-a", "mm-b", "mm-c"};
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 3; i++) {
        iov[i].iov_base = (void*)words[i];
        iov[i].iov_len = strlen(words[i]);
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    int seen[3] = {0, 0, 0}, got = 0;
    for (int t = 0; t < kTries && got < 3; t++) {
        for (int i = 0; i < 3; i++) {
            iov[i].iov_base = (void*)words[i];
            iov[i].iov_len = strlen(words[i]);
            mm[i].msg_hdr.msg_iov = &iov[i];
        }
        if (sendmmsg(c, mm, 3, 0) != 3) return printf("sendmmsg: %s\n", err_name(errno)), 1;
        while (got < 3 && wait_readable(c, kTryMs) == 1) {
            for (int i = 0; i < 3; i++) {
                iov[i].iov_base = bufs[i];
                iov[i].iov_len = sizeof bufs[i] - 1;
                mm[i].msg_hdr.msg_iov = &iov[i];
            }
            int r = recvmmsg(c, mm, 3, MSG_DONTWAIT, NULL);
            for (int i = 0; i < r; i++) {
                bufs[i][mm[i].msg_len] = 0;
                for (int w = 0; w < 3; w++)
                    if (!strcmp(bufs[i], words[w]) && !seen[w]) seen[w] = 1, got++;
            }
        }
    }
    for (int w = 0; w < 3; w++)
        if (seen[w]) printf("recvmmsg: %s\n", words[w]);
    close(ep);
    close(c);
    close(fd);
    return got == 3 ? 0 : 1;
}

static int do_resolve(int argc, char** argv) {
    for (int i = 0; i < argc; i++) {
        struct addrinfo hints = {0}, *res = NULL;
        hints.ai_socktype = SOCK_DGRAM;
        int rc = getaddrinfo(argv[i], NULL, &hints, &res);
        if (rc != 0) {
            printf("%s: %s\n", argv[i], eai_name(rc));
            continue;
        }
        for (struct addrinfo* ai = res; ai; ai = ai->ai_next) {
            char s[INET6_ADDRSTRLEN];
            const void* a = ai->ai_family == AF_INET
                                ? (const void*)&((struct sockaddr_in*)ai->ai_addr)->sin_addr
                                : (const void*)&((struct sockaddr_in6*)ai->ai_addr)->sin6_addr;
            inet_ntop(ai->ai_family, a, s, sizeof s);
            printf("%s: %s\n", argv[i], s);
        }
        freeaddrinfo(res);
    }
    return 0;
}

static int denied(const char* host, const char* port) {
    socklen_t tl;
    struct sockaddr_storage to = resolve(host, port, &tl);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ssize_t n = sendto(fd, "x", 1, 0, (struct sockaddr*)&to, tl);
    if (n < 0) return printf("sendto: %s\n", err_name(errno)), 0;
    if (wait_readable(fd, 3000) < 1) return printf("no reply\n"), 0;
    char b[8];
    n = recvfrom(fd, b, sizeof b, 0, NULL, NULL);
    printf("recvfrom: %s\n", n < 0 ? err_name(errno) : "data");
    return 0;
}

static int flood(const char* host, const char* port) {
    socklen_t tl;
    struct sockaddr_storage to = resolve(host, port, &tl);
    int opened = 0, refused = 0, first = -1;
    for (int i = 0; i < 100; i++) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        if (sendto(fd, "hi", 2, 0, (struct sockaddr*)&to, tl) == 2) {
            opened++;
            if (first < 0) first = fd;
        } else {
            refused++;
            if (refused == 1) printf("refused with %s\n", err_name(errno));
            close(fd);
        }
    }
    /* 20,000 datagrams of 1 KiB that nobody reads: the host drops what does
     * not fit, nothing grows. */
    char big[1024];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 20000; i++) sendto(first, big, sizeof big, 0, (struct sockaddr*)&to, tl);
    int drained = 0;
    char b[2048];
    while (wait_readable(first, 1000) == 1)
        while (recv(first, b, sizeof b, MSG_DONTWAIT) > 0) drained++;
    printf("opened %d, refused %d, drained %d\n", opened, refused, drained > 0);
    int fresh_ok = 0;
    for (int i = 0; i < 50 && !fresh_ok; i++) {
        sendto(first, "again", 5, 0, (struct sockaddr*)&to, tl);
        if (wait_readable(first, 200) == 1) {
            ssize_t n = recv(first, b, sizeof b, 0);
            fresh_ok = n > 0;
        }
    }
    printf("still echoes: %s\n", fresh_ok ? "yes" : "no");
    return 0;
}

static int snapshot(const char* host, const char* port) {
    socklen_t tl;
    struct sockaddr_storage to = resolve(host, port, &tl);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (echo_once(fd, &to, tl, "before the snapshot")) return 1;
    syscall(500); /* EMBER_SYS_READY; -ENOSYS natively */
    return echo_once(fd, &to, tl, "after the snapshot") ? 1 : 0;
}

static int cmp_ll(const void* a, const void* b) {
    long long x = *(const long long*)a, y = *(const long long*)b;
    return x < y ? -1 : x > y;
}

static int bench(const char* host, const char* port, int n) {
    socklen_t tl;
    struct sockaddr_storage to = resolve(host, port, &tl);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    connect(fd, (struct sockaddr*)&to, tl);
    struct timeval tv = {1, 0}; /* a lost datagram is sent again after 1 s */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    long long* t = calloc((size_t)n, sizeof *t);
    char b[64];
    int lost = 0;
    for (int i = 0; i < n; i++) {
        struct timespec a, z;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (;;) {
            if (send(fd, "ping", 4, 0) != 4) return 1;
            if (recv(fd, b, sizeof b, 0) > 0) break;
            if (errno != EAGAIN || ++lost > 10) return printf("recv: %s\n", err_name(errno)), 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &z);
        t[i] = (z.tv_sec - a.tv_sec) * 1000000000ll + (z.tv_nsec - a.tv_nsec);
    }
    qsort(t, (size_t)n, sizeof *t, cmp_ll);
    printf("udp round trip: n=%d p50=%.1fus p99=%.1fus lost=%d\n", n, t[n / 2] / 1e3,
           t[n * 99 / 100] / 1e3, lost);
    return 0;
}

int main(int argc, char** argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 4 && !strcmp(argv[1], "echo")) return echo(argv[2], argv[3]);
    if (argc >= 3 && !strcmp(argv[1], "resolve")) return do_resolve(argc - 2, argv + 2);
    if (argc >= 4 && !strcmp(argv[1], "denied")) return denied(argv[2], argv[3]);
    if (argc >= 4 && !strcmp(argv[1], "flood")) return flood(argv[2], argv[3]);
    if (argc >= 4 && !strcmp(argv[1], "snapshot")) return snapshot(argv[2], argv[3]);
    if (argc >= 5 && !strcmp(argv[1], "bench")) return bench(argv[2], argv[3], atoi(argv[4]));
    fprintf(stderr, "usage: udp_egress echo|resolve|denied|flood|bench ...\n");
    return 2;
}
