/* net_client.c - connects to HOST:PORT, sends an HTTP request, prints the
 * response. On failure prints "net_client: connect: ECONNREFUSED" (the errno
 * name) and exits 1: the egress tests use it.
 *
 * Usage: net_client HOST PORT [PATH]   (HOST: an IPv4 or IPv6 literal) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *errno_name(int e) {
    switch (e) {
        case ECONNREFUSED:
            return "ECONNREFUSED";
        case ECONNRESET:
            return "ECONNRESET";
        case ETIMEDOUT:
            return "ETIMEDOUT";
        case EHOSTUNREACH:
            return "EHOSTUNREACH";
        case ENETUNREACH:
            return "ENETUNREACH";
        case EAFNOSUPPORT:
            return "EAFNOSUPPORT";
        case EPROTONOSUPPORT:
            return "EPROTONOSUPPORT";
        case EADDRNOTAVAIL:
            return "EADDRNOTAVAIL";
        case ENOBUFS:
            return "ENOBUFS";
        case EMFILE:
            return "EMFILE";
        case EPIPE:
            return "EPIPE";
        case EINVAL:
            return "EINVAL";
        case ENOSYS:
            return "ENOSYS";
        case EACCES:
            return "EACCES";
        case EPERM:
            return "EPERM";
        default:
            return "E?";
    }
}

static int fail(const char *what) {
    int e = errno;
    printf("net_client: %s: %s\n", what, errno_name(e));
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: net_client HOST PORT [PATH]\n");
        return 2;
    }
    const char *path = argc > 3 ? argv[3] : "/";
    int port = 0;
    for (const char *p = argv[2]; *p; p++) port = port * 10 + (*p - '0');
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, argv[1], &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        len = sizeof *in;
    } else if (inet_pton(AF_INET6, argv[1], &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        len = sizeof *in6;
    } else {
        fprintf(stderr, "net_client: not an IP address: %s\n", argv[1]);
        return 2;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail("socket");
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) return fail("connect");
    char req[1200];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, argv[1]);
    for (int off = 0; off < n;) {
        ssize_t w = send(fd, req + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w < 0) return fail("send");
        off += (int)w;
    }
    char buf[65536];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r < 0) return fail("recv");
        if (r == 0) break;
        fwrite(buf, 1, (size_t)r, stdout);
    }
    close(fd);
    return 0;
}
