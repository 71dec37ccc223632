// sock_bench.c - sockets inside one instance, timed inside the program
// (bench/sock_bench.sh runs it natively and in ember-vm): AF_UNIX stream
// throughput between two threads, and one-byte round trips between two
// threads over an AF_UNIX socketpair, loopback TCP and loopback UDP.
// Usage: sock_bench [megabytes] [rounds]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long g_bytes, g_rounds;
static char g_chunk[65536];

static void* writer(void* arg) {
    int fd = *(int*)arg;
    for (long done = 0; done < g_bytes;) {
        ssize_t n = write(fd, g_chunk, sizeof g_chunk);
        if (n <= 0) break;
        done += n;
    }
    close(fd);
    return NULL;
}

static void* echo(void* arg) {
    int fd = *(int*)arg;
    char c;
    for (long i = 0; i < g_rounds; i++) {
        if (read(fd, &c, 1) != 1) break;
        if (write(fd, &c, 1) != 1) break;
    }
    return NULL;
}

// Microseconds per round trip of one byte between this thread and an echo thread.
static double rtt(int a, int b) {
    pthread_t th;
    pthread_create(&th, NULL, echo, &b);
    char c = 'x';
    double t0 = now_ns();
    for (long i = 0; i < g_rounds; i++) {
        if (write(a, &c, 1) != 1 || read(a, &c, 1) != 1) return -1;
    }
    double us = (now_ns() - t0) / 1e3 / (double)g_rounds;
    pthread_join(th, NULL);
    return us;
}

static void tcp_pair(int sv[2]) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(l, (struct sockaddr*)&a, sizeof a);
    listen(l, 1);
    getsockname(l, (struct sockaddr*)&a, &len);
    sv[0] = socket(AF_INET, SOCK_STREAM, 0);
    connect(sv[0], (struct sockaddr*)&a, sizeof a);
    sv[1] = accept(l, NULL, NULL);
    int one = 1;
    setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(sv[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    close(l);
}

static void udp_pair(int sv[2]) {
    struct sockaddr_in a[2];
    for (int i = 0; i < 2; i++) {
        sv[i] = socket(AF_INET, SOCK_DGRAM, 0);
        a[i] =
            (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a[i];
        bind(sv[i], (struct sockaddr*)&a[i], sizeof a[i]);
        getsockname(sv[i], (struct sockaddr*)&a[i], &len);
    }
    connect(sv[0], (struct sockaddr*)&a[1], sizeof a[1]);
    connect(sv[1], (struct sockaddr*)&a[0], sizeof a[0]);
}

int main(int argc, char** argv) {
    g_bytes = (argc > 1 ? atol(argv[1]) : 256) << 20;
    g_rounds = argc > 2 ? atol(argv[2]) : 2000;
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pthread_t th;
    pthread_create(&th, NULL, writer, &sv[0]);
    static char buf[65536];
    long got = 0;
    double t0 = now_ns();
    for (ssize_t n; (n = read(sv[1], buf, sizeof buf)) > 0;) got += n;
    double secs = (now_ns() - t0) / 1e9;
    pthread_join(th, NULL);
    close(sv[1]);
    printf("unix_stream_MBps=%.0f", (double)got / (1 << 20) / secs);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    printf(" unix_rtt_us=%.2f", rtt(sv[0], sv[1]));
    close(sv[0]);
    close(sv[1]);
    tcp_pair(sv);
    printf(" tcp_loopback_rtt_us=%.2f", rtt(sv[0], sv[1]));
    close(sv[0]);
    close(sv[1]);
    udp_pair(sv);
    printf(" udp_loopback_rtt_us=%.2f\n", rtt(sv[0], sv[1]));
    return 0;
}
