// signal_bench.c - signal delivery round trip: raise(SIGUSR1) until the
// handler has returned (raise's own syscalls, the delivery, the handler and
// rt_sigreturn), timed per call with the TSC, converted to ns with the
// monotonic clock over the whole run. Prints the median and the 99th
// percentile (bench/signal_bench.sh runs it natively and in ember-vm).
// Usage: signal_bench [iterations]
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile int g_count;
static void handler(int sig) {
    (void)sig;
    g_count++;
}

static inline uint64_t rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void* a, const void* b) {
    const uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
    const long n = argc > 1 ? atol(argv[1]) : 5000;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigaction(SIGUSR1, &sa, NULL);
    uint64_t* cycles = malloc((size_t)n * sizeof *cycles);
    if (!cycles) return 1;
    for (int i = 0; i < 100; i++) raise(SIGUSR1);  // warm: patched sites, caches
    const double t0 = now_ns();
    const uint64_t c0 = rdtsc();
    for (long i = 0; i < n; i++) {
        const uint64_t a = rdtsc();
        raise(SIGUSR1);
        cycles[i] = rdtsc() - a;
    }
    const double ns_per_cycle = (now_ns() - t0) / (double)(rdtsc() - c0);
    qsort(cycles, (size_t)n, sizeof *cycles, cmp);
    printf("signal round trip: median %.2f us p99 %.2f us (%ld raises, %d handled)\n",
           (double)cycles[n / 2] * ns_per_cycle / 1e3,
           (double)cycles[n * 99 / 100] * ns_per_cycle / 1e3, n, g_count);
    free(cycles);
    return 0;
}
