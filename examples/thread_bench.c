// thread_bench.c - thread create+join and futex ping-pong between two
// threads, timed inside the program (bench/thread_bench.sh runs it natively
// and in ember-vm). The futex calls are inline `mov $202,%eax; syscall`
// windows, as glibc's own futex sites are, so Ember patches them.
// Usage: thread_bench [create_joins] [pingpong_rounds]
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline long futex3(uint32_t* addr, long op, long val) {
    long ret;
    register long r10 __asm__("r10") = 0;
    __asm__ volatile("mov $202, %%eax\n\tsyscall"
                     : "=a"(ret)
                     : "D"(addr), "S"(op), "d"(val), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void* nothing(void* arg) { return arg; }

static uint32_t ping, pong;
static long rounds;
static void* ponger(void* arg) {
    (void)arg;
    for (uint32_t i = 1; i <= (uint32_t)rounds; ++i) {
        while (__atomic_load_n(&ping, __ATOMIC_ACQUIRE) != i)
            futex3(&ping, 128 /* WAIT_PRIVATE */, i - 1);
        __atomic_store_n(&pong, i, __ATOMIC_RELEASE);
        futex3(&pong, 129 /* WAKE_PRIVATE */, 1);
    }
    return NULL;
}

int main(int argc, char** argv) {
    long joins = argc > 1 ? atol(argv[1]) : 500;
    rounds = argc > 2 ? atol(argv[2]) : 20000;
    pthread_t t;
    pthread_create(&t, NULL, nothing, NULL);  // warm: stack cache, patched sites
    pthread_join(t, NULL);
    double t0 = now_ns();
    for (long i = 0; i < joins; ++i) {
        pthread_create(&t, NULL, nothing, NULL);
        pthread_join(t, NULL);
    }
    double t1 = now_ns();
    pthread_create(&t, NULL, ponger, NULL);
    double t2 = now_ns();
    for (uint32_t i = 1; i <= (uint32_t)rounds; ++i) {
        __atomic_store_n(&ping, i, __ATOMIC_RELEASE);
        futex3(&ping, 129, 1);
        while (__atomic_load_n(&pong, __ATOMIC_ACQUIRE) != i) futex3(&pong, 128, i - 1);
    }
    double t3 = now_ns();
    pthread_join(t, NULL);
    printf("create_join_us=%.2f pingpong_switch_us=%.3f joins=%ld rounds=%ld\n",
           (t1 - t0) / joins / 1e3, (t3 - t2) / (2.0 * rounds) / 1e3, joins, rounds);
    return 0;
}
