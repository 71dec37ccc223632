// proc_bench.c - process costs, timed inside the program (bench/proc_bench.sh
// runs it natively and in ember-vm): fork+_exit+wait of a parent with
// RES MiB resident, posix_spawn of a static program that exits at once (this
// binary, "exit" mode, through /proc/self/exe), pipe throughput between two
// processes, and a one-byte pipe ping-pong between two processes (two
// process switches a round) next to the same ping-pong between two threads.
// Usage: proc_bench [resident_mib] [forks] [spawns] [pipe_mib] [pingpongs]
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void* a, const void* b) {
    const double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

static void summary(const char* what, double* v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp);
    printf("%s: n=%d p50=%.1f us p90=%.1f us max=%.1f us\n", what, n, v[n / 2], v[n * 9 / 10],
           v[n - 1]);
}

static int g_pp[2][2];
static long g_rounds;

static void* thread_pong(void* arg) {
    (void)arg;
    char c;
    for (long i = 0; i < g_rounds; i++) {
        if (read(g_pp[0][0], &c, 1) != 1) break;
        write(g_pp[1][1], &c, 1);
    }
    return NULL;
}

static double pingpong(int use_fork) {
    pipe(g_pp[0]);
    pipe(g_pp[1]);
    pid_t c = 0;
    pthread_t t;
    if (use_fork) {
        c = fork();
        if (c == 0) {
            thread_pong(NULL);
            _exit(0);
        }
    } else {
        pthread_create(&t, NULL, thread_pong, NULL);
    }
    char x = 'x';
    double t0 = now_us();
    for (long i = 0; i < g_rounds; i++) {
        write(g_pp[0][1], &x, 1);
        read(g_pp[1][0], &x, 1);
    }
    double dt = now_us() - t0;
    if (use_fork)
        waitpid(c, NULL, 0);
    else
        pthread_join(t, NULL);
    for (int i = 0; i < 2; i++) {
        close(g_pp[i][0]);
        close(g_pp[i][1]);
    }
    return dt / (double)g_rounds;
}

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "exit") == 0) return 0;
    const long res_mib = argc > 1 ? atol(argv[1]) : 64;
    const int forks = argc > 2 ? atoi(argv[2]) : 20;
    const int spawns = argc > 3 ? atoi(argv[3]) : 20;
    const long pipe_mib = argc > 4 ? atol(argv[4]) : 64;
    g_rounds = argc > 5 ? atol(argv[5]) : 2000;
    double* v = calloc((size_t)(forks > spawns ? forks : spawns) + 1, sizeof(double));

    char* mem = malloc((size_t)res_mib << 20);
    memset(mem, 1, (size_t)res_mib << 20);
    for (int i = 0; i < forks; i++) {
        double t0 = now_us();
        pid_t c = fork();
        if (c == 0) _exit(0);
        waitpid(c, NULL, 0);
        v[i] = now_us() - t0;
    }
    char what[64];
    snprintf(what, sizeof what, "fork+exit+wait (%ld MiB resident)", res_mib);
    summary(what, v, forks);
    free(mem);

    char* sargs[] = {argv[0], "exit", NULL};
    for (int i = 0; i < spawns; i++) {
        double t0 = now_us();
        pid_t c;
        if (posix_spawn(&c, "/proc/self/exe", NULL, NULL, sargs, environ) != 0) return 1;
        waitpid(c, NULL, 0);
        v[i] = now_us() - t0;
    }
    summary("posix_spawn+wait (static, exits at once)", v, spawns);

    int p[2];
    pipe(p);
    static char buf[65536];
    pid_t c = fork();
    if (c == 0) {
        close(p[0]);
        for (long i = 0; i < pipe_mib * 16; i++) write(p[1], buf, sizeof buf);
        _exit(0);
    }
    close(p[1]);
    double t0 = now_us();
    long total = 0;
    for (ssize_t n; (n = read(p[0], buf, sizeof buf)) > 0;) total += n;
    double dt = now_us() - t0;
    waitpid(c, NULL, 0);
    close(p[0]);
    printf("pipe between processes: %ld MiB in %.1f ms = %.0f MB/s\n", total >> 20, dt / 1e3,
           (double)total / dt);

    printf("pipe ping-pong, processes: %.1f us a round\n", pingpong(1));
    printf("pipe ping-pong, threads:   %.1f us a round\n", pingpong(0));
    return 0;
}
