// loopback_sockets.c - TCP and UDP over the loopback addresses inside one
// instance: a program connecting to its own listener (IPv4, IPv6, dual
// stack, nonblocking connect, threads, fork), and UDP sendto/recvfrom/
// connect/recvmsg with MSG_TRUNC. Prints the same lines natively and in
// Ember (no port numbers, no pids).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int check(const char* what, long r) {
    if (r < 0)
        printf("%s: errno %d\n", what, errno);
    else
        printf("%s: %ld\n", what, r);
    return (int)r;
}

static int ok(const char* what, int fd) {
    printf("%s: %s\n", what, fd >= 0 ? "ok" : strerror(errno));
    return fd;
}

static socklen_t addr(int family, const char* ip, int port, struct sockaddr_storage* ss) {
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET) {
        struct sockaddr_in* a = (struct sockaddr_in*)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, ip, &a->sin_addr);
        return sizeof *a;
    }
    struct sockaddr_in6* a = (struct sockaddr_in6*)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    inet_pton(AF_INET6, ip, &a->sin6_addr);
    return sizeof *a;
}

static int port_of(int fd, int peer) {
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    if ((peer ? getpeername : getsockname)(fd, (struct sockaddr*)&ss, &l) < 0) return -1;
    return ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in*)&ss)->sin_port)
                                   : ntohs(((struct sockaddr_in6*)&ss)->sin6_port);
}

static const char* ip_of(int fd, int peer) {
    static char buf[64];
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    if ((peer ? getpeername : getsockname)(fd, (struct sockaddr*)&ss, &l) < 0) return "?";
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in*)&ss)->sin_addr, buf, sizeof buf);
    else
        inet_ntop(AF_INET6, &((struct sockaddr_in6*)&ss)->sin6_addr, buf, sizeof buf);
    return buf;
}

static int listener(int family, const char* ip) {
    int l = socket(family, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_storage ss;
    socklen_t len = addr(family, ip, 0, &ss);
    if (bind(l, (struct sockaddr*)&ss, len) < 0 || listen(l, 16) < 0) return -1;
    return l;
}

static void tcp_pair(int lfamily, const char* lip, int cfamily, const char* cip) {
    printf("-- tcp %s -> listener %s\n", cip, lip);
    int l = listener(lfamily, lip);
    ok("listener", l);
    int port = port_of(l, 0);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 1};
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    check("epoll idle", epoll_wait(ep, &ev, 1, 0));
    int c = socket(cfamily, SOCK_STREAM, 0);
    struct sockaddr_storage ss;
    socklen_t len = addr(cfamily, cip, port, &ss);
    check("connect", connect(c, (struct sockaddr*)&ss, len));
    check("epoll ready", epoll_wait(ep, &ev, 1, 100));
    struct sockaddr_storage from;
    socklen_t flen = sizeof from;
    int s = accept(l, (struct sockaddr*)&from, &flen);
    ok("accept", s);
    printf("client local %s peer %s, server local %s peer %s\n", ip_of(c, 0), ip_of(c, 1),
           ip_of(s, 0), ip_of(s, 1));
    printf("ports agree %d %d %d\n", port_of(c, 1) == port, port_of(s, 0) == port,
           port_of(s, 1) == port_of(c, 0));
    check("send", send(c, "hello", 5, 0));
    char buf[64] = {0};
    check("recv", recv(s, buf, sizeof buf, 0));
    printf("got '%s'\n", buf);
    check("reply", write(s, "world!", 6));
    memset(buf, 0, sizeof buf);
    check("read", read(c, buf, sizeof buf));
    printf("got '%s'\n", buf);
    struct pollfd p = {c, POLLIN | POLLOUT, 0};
    check("poll", poll(&p, 1, 0));
    printf("revents %#x\n", p.revents);
    check("shutdown", shutdown(c, SHUT_WR));
    check("read eof", read(s, buf, sizeof buf));
    close(s);
    check("client eof", read(c, buf, sizeof buf));
    close(c);
    close(ep);
    close(l);
}

static int g_port;
static void* bulk_sender(void* arg) {
    (void)arg;
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_storage ss;
    socklen_t len = addr(AF_INET, "127.0.0.1", g_port, &ss);
    if (connect(c, (struct sockaddr*)&ss, len) < 0) return NULL;
    static char chunk[10000];
    for (int i = 0; i < 100; i++) {
        memset(chunk, 'a' + i % 26, sizeof chunk);
        size_t off = 0;
        while (off < sizeof chunk) {
            ssize_t n = write(c, chunk + off, sizeof chunk - off);
            if (n <= 0) return NULL;
            off += (size_t)n;
        }
    }
    close(c);
    return NULL;
}

static void tcp_bulk(void) {
    printf("-- tcp bulk from a thread\n");
    int l = listener(AF_INET, "127.0.0.1");
    g_port = port_of(l, 0);
    pthread_t th;
    pthread_create(&th, NULL, bulk_sender, NULL);
    int s = accept(l, NULL, NULL);
    long total = 0, sum = 0;
    char buf[4096];
    ssize_t n;
    while ((n = read(s, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) sum += buf[i];
        total += n;
    }
    pthread_join(th, NULL);
    printf("received %ld bytes, sum %ld\n", total, sum);
    close(s);
    close(l);
}

static void tcp_nonblock_and_fork(void) {
    printf("-- tcp nonblocking connect, fork\n");
    int l = listener(AF_INET, "0.0.0.0");
    int port = port_of(l, 0);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_storage ss;
    socklen_t len = addr(AF_INET, "127.0.0.1", port, &ss);
    check("connect nonblock", connect(c, (struct sockaddr*)&ss, len));
    struct pollfd p = {c, POLLOUT, 0};
    check("poll", poll(&p, 1, 1000));
    int err = -1;
    socklen_t el = sizeof err;
    getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el);
    printf("SO_ERROR %d\n", err);
    check("connect again", connect(c, (struct sockaddr*)&ss, len));
    int s = accept(l, NULL, NULL);
    ok("accept", s);
    char buf[16];
    check("recv nonblock", recv(c, buf, sizeof buf, 0));
    close(s);
    close(c);

    pid_t pid = fork();
    if (pid == 0) {
        int k = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(k, (struct sockaddr*)&ss, len) < 0) _exit(1);
        write(k, "from child", 10);
        close(k);
        _exit(0);
    }
    s = accept(l, NULL, NULL);
    memset(buf, 0, sizeof buf);
    ssize_t n, tot = 0;
    while ((n = read(s, buf + tot, sizeof buf - 1 - (size_t)tot)) > 0) tot += n;
    printf("parent got '%s'\n", buf);
    int st;
    waitpid(pid, &st, 0);
    printf("child exited %d\n", WEXITSTATUS(st));
    close(s);
    close(l);
    // Nobody listens on that port any more.
    c = socket(AF_INET, SOCK_STREAM, 0);
    check("connect closed port", connect(c, (struct sockaddr*)&ss, len));
    close(c);
}

static void udp(int family, const char* ip) {
    printf("-- udp %s\n", ip);
    int a = socket(family, SOCK_DGRAM, 0);
    int b = socket(family, SOCK_DGRAM, 0);
    struct sockaddr_storage sa, sb, from;
    socklen_t la = addr(family, ip, 0, &sa), lb = addr(family, ip, 0, &sb);
    check("bind a", bind(a, (struct sockaddr*)&sa, la));
    check("bind b", bind(b, (struct sockaddr*)&sb, lb));
    int pa = port_of(a, 0), pb = port_of(b, 0);
    la = addr(family, ip, pa, &sa);
    lb = addr(family, ip, pb, &sb);
    printf("ports differ %d, local %s\n", pa != pb, ip_of(a, 0));
    check("sendto", sendto(a, "datagram one", 12, 0, (struct sockaddr*)&sb, lb));
    check("sendto", sendto(a, "two", 3, 0, (struct sockaddr*)&sb, lb));
    int n = 0;
    ioctl(b, FIONREAD, &n);
    printf("FIONREAD %d\n", n);
    char buf[64] = {0};
    socklen_t fl = sizeof from;
    check("recvfrom short", recvfrom(b, buf, 8, 0, (struct sockaddr*)&from, &fl));
    printf("got '%s' from right port %d len %d\n", buf,
           ntohs(((struct sockaddr_in*)&from)->sin_port) == pa, (int)fl);
    struct iovec iov = {buf, 2};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
    check("recvmsg MSG_TRUNC", recvmsg(b, &m, MSG_TRUNC));
    printf("msg_flags trunc %d namelen %d\n", (m.msg_flags & MSG_TRUNC) != 0, (int)m.msg_namelen);
    check("recv empty", recv(b, buf, sizeof buf, MSG_DONTWAIT));
    check("send unconnected", send(a, "x", 1, 0));
    check("connect", connect(a, (struct sockaddr*)&sb, lb));
    check("send connected", send(a, "abc", 3, 0));
    struct pollfd p = {b, POLLIN | POLLOUT, 0};
    check("poll", poll(&p, 1, 0));
    printf("revents %#x\n", p.revents);
    check("recv", recv(b, buf, sizeof buf, 0));
    // Several datagrams per call.
    struct mmsghdr mm[3];
    struct iovec mi[3];
    char mb[3][16];
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 3; i++) {
        snprintf(mb[i], sizeof mb[i], "mmsg %d", i);
        mi[i] = (struct iovec){mb[i], strlen(mb[i])};
        mm[i].msg_hdr.msg_iov = &mi[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    check("sendmmsg", sendmmsg(a, mm, 3, 0));
    printf("lengths %u %u %u\n", mm[0].msg_len, mm[1].msg_len, mm[2].msg_len);
    memset(mb, 0, sizeof mb);
    for (int i = 0; i < 3; i++) mi[i].iov_len = sizeof mb[i];
    check("recvmmsg waitforone", recvmmsg(b, mm, 3, MSG_WAITFORONE, NULL));
    printf("got '%s' '%s' '%s' len %u\n", mb[0], mb[1], mb[2], mm[2].msg_len);
    check("recvmmsg empty", recvmmsg(b, mm, 3, MSG_DONTWAIT, NULL));
    // A connected socket hears only its peer.
    int third = socket(family, SOCK_DGRAM, 0);
    check("connect b to a", connect(b, (struct sockaddr*)&sa, la));
    check("stranger sendto", sendto(third, "stranger", 8, 0, (struct sockaddr*)&sb, lb));
    check("peer send", send(a, "peer", 4, 0));
    memset(buf, 0, sizeof buf);
    check("recv", recv(b, buf, sizeof buf, 0));
    printf("got '%s'\n", buf);
    close(third);
    close(b);
    check("send to closed port", send(a, "x", 1, 0));
    check("recv refused", recv(a, buf, sizeof buf, MSG_DONTWAIT));
    check("recv again", recv(a, buf, sizeof buf, MSG_DONTWAIT));
    close(a);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    tcp_pair(AF_INET, "127.0.0.1", AF_INET, "127.0.0.1");
    tcp_pair(AF_INET6, "::1", AF_INET6, "::1");
    tcp_pair(AF_INET6, "::", AF_INET, "127.0.0.1");
    tcp_bulk();
    tcp_nonblock_and_fork();
    udp(AF_INET, "127.0.0.1");
    udp(AF_INET6, "::1");
    printf("done\n");
    return 0;
}
