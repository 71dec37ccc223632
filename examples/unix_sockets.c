// unix_sockets.c - AF_UNIX sockets inside one instance: socketpair (stream,
// datagram, seqpacket), names in /tmp and abstract names, listen/connect/
// accept, shutdown, nonblocking calls, poll and epoll readiness,
// SO_PEERCRED, SCM_RIGHTS and SCM_CREDENTIALS, use across fork and threads.
// Prints the same lines natively and in Ember (no pids, no paths).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int check(const char* what, long r) {
    if (r < 0)
        printf("%s: errno %d\n", what, errno);
    else
        printf("%s: %ld\n", what, r);
    return (int)r;
}

static void pair_stream(void) {
    int sv[2];
    check("socketpair stream", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    check("write", write(sv[0], "hello", 5));
    check("write", write(sv[0], " world", 6));
    int n = 0;
    ioctl(sv[1], FIONREAD, &n);
    printf("FIONREAD %d\n", n);
    char buf[64] = {0};
    check("recv peek", recv(sv[1], buf, 3, MSG_PEEK));
    check("read", read(sv[1], buf, sizeof buf));
    printf("got '%s'\n", buf);
    struct pollfd p = {sv[1], POLLIN | POLLOUT, 0};
    check("poll empty", poll(&p, 1, 0));
    printf("revents %#x\n", p.revents);
    check("recv dontwait", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    check("shutdown wr", shutdown(sv[0], SHUT_WR));
    p.revents = 0;
    check("poll after shutdown", poll(&p, 1, 0));
    printf("revents %#x\n", p.revents);
    check("read eof", read(sv[1], buf, sizeof buf));
    check("write after shutdown", send(sv[0], "x", 1, MSG_NOSIGNAL));
    check("reply", write(sv[1], "back", 4));
    memset(buf, 0, sizeof buf);
    check("read reply", read(sv[0], buf, sizeof buf));
    close(sv[1]);
    check("send to closed", send(sv[0], "x", 1, MSG_NOSIGNAL));
    check("read closed", read(sv[0], buf, sizeof buf));
    close(sv[0]);

    // Filling the buffer of a nonblocking pair, then draining it.
    check("socketpair nonblock", socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv));
    static char big[65536];
    long total = 0;
    for (;;) {
        ssize_t w = write(sv[0], big, sizeof big);
        if (w < 0) break;
        total += w;
    }
    printf("filled: %s errno %d\n", total > 65536 ? "more than 64 KiB" : "little", errno);
    long drained = 0;
    for (;;) {
        ssize_t r = read(sv[1], big, sizeof big);
        if (r <= 0) break;
        drained += r;
    }
    printf("drained all: %d\n", drained == total);
    close(sv[0]);
    close(sv[1]);
}

static void pair_dgram(int type, const char* name) {
    int sv[2];
    printf("-- %s\n", name);
    check("socketpair", socketpair(AF_UNIX, type, 0, sv));
    check("send a", send(sv[0], "first", 5, 0));
    check("send b", send(sv[0], "second message", 14, 0));
    check("send empty", send(sv[0], "", 0, 0));
    char buf[64] = {0};
    check("recv small", recv(sv[1], buf, 3, 0));
    printf("got '%s'\n", buf);
    check("recv trunc", recv(sv[1], buf, 3, MSG_TRUNC));
    check("recv empty", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    check("recv none", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    struct iovec iov = {buf, 4};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    check("send c", send(sv[1], "0123456789", 10, 0));
    check("recvmsg", recvmsg(sv[0], &m, 0));
    printf("msg_flags trunc %d\n", (m.msg_flags & MSG_TRUNC) != 0);
    int t = 0;
    socklen_t tl = sizeof t;
    getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &t, &tl);
    printf("SO_TYPE %d\n", t);
    close(sv[0]);
    if (type == SOCK_SEQPACKET) check("recv after close", recv(sv[1], buf, sizeof buf, 0));
    close(sv[1]);
}

static socklen_t un_addr(struct sockaddr_un* a, const char* path, int abstract) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    if (abstract) {
        memcpy(a->sun_path + 1, path, strlen(path));
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(path));
    }
    strcpy(a->sun_path, path);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

static void* echo_server(void* arg) {
    int l = *(int*)arg;
    for (int i = 0; i < 2; i++) {
        int c = accept(l, NULL, NULL);
        char buf[128];
        ssize_t n;
        while ((n = read(c, buf, sizeof buf)) > 0) write(c, buf, (size_t)n);
        close(c);
    }
    return NULL;
}

static void named(int abstract) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/ember-unix-%d.sock", (int)getpid());
    printf("-- %s name\n", abstract ? "abstract" : "path");
    if (!abstract) unlink(path);
    struct sockaddr_un a;
    socklen_t alen = un_addr(&a, path, abstract);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    check("listen unbound", listen(l, 4));
    check("bind", bind(l, (struct sockaddr*)&a, alen));
    int l2 = socket(AF_UNIX, SOCK_STREAM, 0);
    check("bind again", bind(l2, (struct sockaddr*)&a, alen));
    close(l2);
    if (!abstract) {
        struct stat st;
        check("stat", stat(path, &st));
        printf("is socket %d\n", S_ISSOCK(st.st_mode));
        check("open node", open(path, O_RDONLY));
    }
    struct sockaddr_un got;
    socklen_t glen = sizeof got;
    check("getsockname", getsockname(l, (struct sockaddr*)&got, &glen));
    printf("name len ok %d same %d\n", glen == alen, memcmp(&got, &a, alen) == 0);
    int c0 = socket(AF_UNIX, SOCK_STREAM, 0);
    check("connect before listen", connect(c0, (struct sockaddr*)&a, alen));
    close(c0);
    check("listen", listen(l, 4));
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7};
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    check("epoll idle", epoll_wait(ep, &ev, 1, 0));
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    check("connect", connect(c, (struct sockaddr*)&a, alen));
    check("epoll ready", epoll_wait(ep, &ev, 1, 0));
    printf("event %#x data %u\n", ev.events, ev.data.u32);
    glen = sizeof got;
    int s = accept(l, (struct sockaddr*)&got, &glen);
    printf("accepted %d, peer addr len %d\n", s >= 0, (int)glen);
    glen = sizeof got;
    check("getpeername", getpeername(c, (struct sockaddr*)&got, &glen));
    printf("peer is listener %d\n", glen == alen && memcmp(&got, &a, alen) == 0);
    glen = sizeof got;
    check("server getsockname", getsockname(s, (struct sockaddr*)&got, &glen));
    printf("server name is listener %d\n", glen == alen && memcmp(&got, &a, alen) == 0);
    struct ucred cr;
    socklen_t crl = sizeof cr;
    check("SO_PEERCRED", getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &crl));
    printf("peer pid is me %d uid %d gid %d len %d\n", cr.pid == getpid(), cr.uid == getuid(),
           cr.gid == getgid(), (int)crl);
    check("send", send(c, "ping", 4, 0));
    char buf[16] = {0};
    check("recv", recv(s, buf, sizeof buf, 0));
    printf("got '%s'\n", buf);
    int acc = 0;
    socklen_t al = sizeof acc;
    getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al);
    printf("SO_ACCEPTCONN %d\n", acc);
    close(s);
    close(c);
    close(ep);
    int flags = fcntl(l, F_GETFL);
    fcntl(l, F_SETFL, flags | O_NONBLOCK);
    check("accept nonblock", accept(l, NULL, NULL));
    fcntl(l, F_SETFL, flags);

    // A thread serves two connections.
    pthread_t th;
    pthread_create(&th, NULL, echo_server, &l);
    for (int i = 0; i < 2; i++) {
        int k = socket(AF_UNIX, SOCK_STREAM, 0);
        check("thread connect", connect(k, (struct sockaddr*)&a, alen));
        char msg[32];
        int len = snprintf(msg, sizeof msg, "echo %d", i);
        write(k, msg, (size_t)len);
        shutdown(k, SHUT_WR);
        memset(buf, 0, sizeof buf);
        ssize_t n, tot = 0;
        while ((n = read(k, buf + tot, sizeof buf - 1 - (size_t)tot)) > 0) tot += n;
        printf("thread echoed '%s'\n", buf);
        close(k);
    }
    pthread_join(th, NULL);
    close(l);
    int k = socket(AF_UNIX, SOCK_STREAM, 0);
    check("connect closed", connect(k, (struct sockaddr*)&a, alen));
    close(k);
    if (!abstract) {
        check("unlink", unlink(path));
        k = socket(AF_UNIX, SOCK_STREAM, 0);
        check("connect unlinked", connect(k, (struct sockaddr*)&a, alen));
        close(k);
    }
}

static void dgram_named(void) {
    printf("-- datagram names\n");
    char path[64];
    snprintf(path, sizeof path, "/tmp/ember-dgram-%d.sock", (int)getpid());
    unlink(path);
    struct sockaddr_un a, b;
    socklen_t alen = un_addr(&a, path, 0);
    socklen_t blen = un_addr(&b, "ember-dgram-client", 1);
    int srv = socket(AF_UNIX, SOCK_DGRAM, 0);
    check("bind", bind(srv, (struct sockaddr*)&a, alen));
    int cl = socket(AF_UNIX, SOCK_DGRAM, 0);
    check("send unconnected", send(cl, "x", 1, 0));
    check("sendto unbound client", sendto(cl, "anon", 4, 0, (struct sockaddr*)&a, alen));
    struct sockaddr_un from;
    socklen_t flen = sizeof from;
    char buf[32] = {0};
    check("recvfrom", recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr*)&from, &flen));
    printf("from len %d\n", (int)flen);
    check("bind client", bind(cl, (struct sockaddr*)&b, blen));
    check("sendto", sendto(cl, "named", 5, 0, (struct sockaddr*)&a, alen));
    flen = sizeof from;
    check("recvfrom", recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr*)&from, &flen));
    printf("from client %d\n", flen == blen && memcmp(&from, &b, blen) == 0);
    check("reply", sendto(srv, "r", 1, 0, (struct sockaddr*)&from, flen));
    check("client recv", recv(cl, buf, sizeof buf, 0));
    check("connect", connect(cl, (struct sockaddr*)&a, alen));
    check("send connected", send(cl, "c", 1, 0));
    check("recv", recv(srv, buf, sizeof buf, 0));
    struct sockaddr_un nowhere;
    socklen_t nlen = un_addr(&nowhere, "/tmp/ember-no-such-socket", 0);
    check("sendto missing", sendto(cl, "x", 1, 0, (struct sockaddr*)&nowhere, nlen));
    close(srv);
    check("send to closed", send(cl, "x", 1, 0));
    close(cl);
    unlink(path);
}

static void pass_fds(void) {
    printf("-- SCM_RIGHTS and SCM_CREDENTIALS\n");
    int sv[2], pfd[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pipe(pfd);
    char c = 'F';
    struct iovec iov = {&c, 1};
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = u.buf;
    m.msg_controllen = CMSG_SPACE(2 * sizeof(int));
    struct cmsghdr* cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(2 * sizeof(int));
    memcpy(CMSG_DATA(cm), (int[]){pfd[0], pfd[1]}, 2 * sizeof(int));
    check("sendmsg rights", sendmsg(sv[0], &m, 0));
    close(pfd[0]);
    close(pfd[1]);
    pid_t pid = fork();
    if (pid == 0) {
        // The child receives both pipe ends and writes through the received one.
        char r;
        union {
            char buf[CMSG_SPACE(2 * sizeof(int))];
            struct cmsghdr align;
        } v;
        struct iovec ri = {&r, 1};
        struct msghdr rm = {0};
        rm.msg_iov = &ri;
        rm.msg_iovlen = 1;
        rm.msg_control = v.buf;
        rm.msg_controllen = sizeof v.buf;
        ssize_t n = recvmsg(sv[1], &rm, MSG_CMSG_CLOEXEC);
        struct cmsghdr* h = CMSG_FIRSTHDR(&rm);
        int fds[2] = {-1, -1};
        if (h && h->cmsg_type == SCM_RIGHTS) memcpy(fds, CMSG_DATA(h), sizeof fds);
        printf("child: recvmsg %zd byte %c rights %d len %d cloexec %d\n", n, r,
               h && h->cmsg_type == SCM_RIGHTS, h ? (int)h->cmsg_len : -1,
               fcntl(fds[1], F_GETFD) == FD_CLOEXEC);
        write(fds[1], "via passed fd", 13);
        close(fds[1]);
        char b[32] = {0};
        n = read(fds[0], b, sizeof b);
        printf("child: pipe read %zd '%s'\n", n, b);
        _exit(3);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("child exited %d\n", WEXITSTATUS(st));

    // Too little control space: the fds are dropped, MSG_CTRUNC.
    int one[2];
    pipe(one);
    memcpy(CMSG_DATA(cm), (int[]){one[0], one[1]}, 2 * sizeof(int));
    check("sendmsg again", sendmsg(sv[0], &m, 0));
    close(one[0]);
    close(one[1]);
    char r;
    union {
        char buf[CMSG_LEN(sizeof(int))];
        struct cmsghdr align;
    } small;
    struct iovec ri = {&r, 1};
    struct msghdr rm = {0};
    rm.msg_iov = &ri;
    rm.msg_iovlen = 1;
    rm.msg_control = small.buf;
    rm.msg_controllen = sizeof small.buf;
    check("recvmsg small control", recvmsg(sv[1], &rm, 0));
    printf("ctrunc %d controllen %d\n", (rm.msg_flags & MSG_CTRUNC) != 0, (int)rm.msg_controllen);
    int kept;
    memcpy(&kept, CMSG_DATA(CMSG_FIRSTHDR(&rm)), sizeof kept);
    printf("kept fd is a pipe %d\n", fcntl(kept, F_GETFD) >= 0);
    close(kept);

    // SCM_CREDENTIALS with SO_PASSCRED.
    int on = 1;
    check("SO_PASSCRED", setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
    check("send", send(sv[0], "c", 1, 0));
    char cbuf[CMSG_SPACE(sizeof(struct ucred))];
    rm.msg_control = cbuf;
    rm.msg_controllen = sizeof cbuf;
    rm.msg_flags = 0;
    check("recvmsg creds", recvmsg(sv[1], &rm, 0));
    struct cmsghdr* h = CMSG_FIRSTHDR(&rm);
    struct ucred cr = {0};
    if (h && h->cmsg_type == SCM_CREDENTIALS) memcpy(&cr, CMSG_DATA(h), sizeof cr);
    printf("creds %d pid is me %d uid %d\n", h && h->cmsg_type == SCM_CREDENTIALS,
           cr.pid == getpid(), cr.uid == getuid());
    close(sv[0]);
    close(sv[1]);
}

static int g_pw[2];
static void* poller(void* arg) {
    int fd = *(int*)arg;
    // Blocks until the main thread writes: poll, then epoll, on only
    // guest-local sockets.
    struct pollfd p = {fd, POLLIN, 0};
    int n = poll(&p, 1, -1);
    char c;
    read(fd, &c, 1);
    printf("thread: poll %d revents %#x byte %c\n", n, p.revents, c);
    write(g_pw[0], "k", 1);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = 5};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    n = epoll_wait(ep, &ev, 1, -1);
    printf("thread: epoll %d events %#x data %u\n", n, ev.events, ev.data.u32);
    n = epoll_wait(ep, &ev, 1, 0);
    printf("thread: edge-triggered again %d\n", n);
    close(ep);
    return NULL;
}

static void blocking_poll(void) {
    printf("-- poll and epoll waiting for another thread\n");
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    socketpair(AF_UNIX, SOCK_DGRAM, 0, g_pw);
    pthread_t th;
    pthread_create(&th, NULL, poller, &sv[1]);
    usleep(20000);
    write(sv[0], "a", 1);
    char c;
    read(g_pw[1], &c, 1);
    usleep(20000);
    write(sv[0], "b", 1);
    pthread_join(th, NULL);
    close(sv[0]);
    close(sv[1]);
    close(g_pw[0]);
    close(g_pw[1]);
}

static void across_fork(void) {
    printf("-- fork\n");
    int sv[2];
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        char buf[64];
        ssize_t n;
        while ((n = recv(sv[1], buf, sizeof buf, 0)) > 0) {
            for (ssize_t i = 0; i < n; i++) buf[i] = (char)(buf[i] ^ 0x20);
            send(sv[1], buf, (size_t)n, 0);
        }
        _exit(n == 0 ? 0 : 1);
    }
    close(sv[1]);
    const char* words[] = {"alpha", "beta", "gamma"};
    for (int i = 0; i < 3; i++) {
        send(sv[0], words[i], strlen(words[i]), 0);
        char buf[64] = {0};
        ssize_t n = recv(sv[0], buf, sizeof buf, 0);
        printf("child answered %zd '%s'\n", n, buf);
    }
    close(sv[0]);
    int st;
    waitpid(pid, &st, 0);
    printf("child exited %d\n", WEXITSTATUS(st));
}

// "snapshot" mode: data waits in a stream pair and in an abstract-named
// datagram socket while the program blocks on stdin (READY for
// --snapshot-out); a restore reads it back, then answers the input line.
static int snapshot_mode(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct sockaddr_un a;
    socklen_t alen = un_addr(&a, "ember-snapshot-dgram", 1);
    int d = socket(AF_UNIX, SOCK_DGRAM, 0), c = socket(AF_UNIX, SOCK_DGRAM, 0);
    bind(d, (struct sockaddr*)&a, alen);
    write(sv[0], "queued in a stream", 18);
    sendto(c, "queued datagram", 15, 0, (struct sockaddr*)&a, alen);
    char line[64] = {0};
    ssize_t n = read(0, line, sizeof line - 1);
    char buf[64] = {0};
    ssize_t s1 = read(sv[1], buf, sizeof buf - 1);
    printf("stream %zd '%s'\n", s1, buf);
    memset(buf, 0, sizeof buf);
    ssize_t s2 = recv(d, buf, sizeof buf - 1, 0);
    printf("datagram %zd '%s'\n", s2, buf);
    write(sv[1], line, n > 0 ? (size_t)n : 0);
    memset(buf, 0, sizeof buf);
    read(sv[0], buf, sizeof buf - 1);
    printf("echoed %s", buf);
    return 0;
}

int main(int argc, char** argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "snapshot") == 0) return snapshot_mode();
    int raw = socket(AF_UNIX, SOCK_RAW, 0);
    int rt = 0;
    socklen_t rl = sizeof rt;
    getsockopt(raw, SOL_SOCKET, SO_TYPE, &rt, &rl);
    printf("socket raw: %d type %d\n", raw >= 0, rt);
    close(raw);
    pair_stream();
    pair_dgram(SOCK_DGRAM, "datagram pair");
    pair_dgram(SOCK_SEQPACKET, "seqpacket pair");
    named(0);
    named(1);
    dgram_named();
    pass_fds();
    blocking_poll();
    across_fork();
    printf("done\n");
    return 0;
}
