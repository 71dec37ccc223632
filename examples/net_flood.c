/* net_flood.c - opens connections to HOST:PORT until something refuses,
 * then reports which limit it hit, closes them all and checks that a new
 * connection works again. In Ember the per-instance stream cap (or the fd
 * table) stops it with EMFILE or ENOBUFS, and the host stays healthy.
 *
 * Usage: net_flood HOST PORT   (HOST: an IPv4 literal)
 * Prints "opened N, then <call>: <ERRNO>" and "recovered" on success. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_TRIES 100000

static const char *errno_name(int e) {
    switch (e) {
        case EMFILE:
            return "EMFILE";
        case ENFILE:
            return "ENFILE";
        case ENOBUFS:
            return "ENOBUFS";
        case ENOMEM:
            return "ENOMEM";
        case ECONNREFUSED:
            return "ECONNREFUSED";
        case EADDRNOTAVAIL:
            return "EADDRNOTAVAIL";
        default:
            return "E?";
    }
}

static int open_one(const struct sockaddr_in *a, const char **what) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *what = "socket";
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)a, sizeof *a) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        *what = "connect";
        return -1;
    }
    return fd;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: net_flood HOST PORT\n");
        return 2;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) return 2;
    static int fds[MAX_TRIES];
    int n = 0;
    const char *what = "nothing";
    int err = 0;
    while (n < MAX_TRIES) {
        int fd = open_one(&a, &what);
        if (fd < 0) {
            err = errno;
            break;
        }
        fds[n++] = fd;
    }
    printf("opened %d, then %s: %s\n", n, what, err ? errno_name(err) : "none");
    for (int i = 0; i < n; i++) close(fds[i]);
    int fd = open_one(&a, &what);
    if (fd < 0) {
        printf("not recovered: %s: %s\n", what, errno_name(errno));
        return 1;
    }
    static const char msg[] = "still here\n";
    if (send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof msg - 1)) return 1;
    close(fd);
    printf("recovered\n");
    return 0;
}
