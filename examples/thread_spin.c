// thread_spin.c - a thread that spins must not starve the others.
//   spin  (default): the main thread spins forever in userspace (no
//         syscall) after creating a thread that prints and ends the
//         process with exit_group; only preemption lets that thread run.
//   pair: two threads spin, each until it has seen the other one count
//         1000 times while it was spinning itself, and neither stops before
//         both have (else the first to finish could leave the other spinning
//         forever), so both must get time slices; then main joins them.
//   sleep: the main thread spins until a thread that sleeps 20 ms sets a
//         flag (the sleeper must wake while nothing else is runnable).
//   busy: one thread spins for about 300 ms alone and exits (a single busy
//         thread must cost nothing: no preemption).
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile unsigned long g_count[2];
static volatile int g_saw[2];

static void* finisher(void* arg) {
    (void)arg;
    printf("the other thread ran\n");
    fflush(stdout);
    exit(0);  // exit_group, while the main thread still spins
}

static void* spinner(void* arg) {
    const int me = (int)(long)arg;
    const unsigned long start = g_count[1 - me];
    while (!g_saw[0] || !g_saw[1]) {
        g_count[me]++;
        if (g_count[1 - me] - start >= 1000) g_saw[me] = 1;
    }
    return NULL;
}

static volatile int g_woke;

static void* sleeper(void* arg) {
    (void)arg;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    g_woke = 1;
    return NULL;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
    const char* mode = argc > 1 ? argv[1] : "spin";
    if (strcmp(mode, "busy") == 0) {
        const double end = now_s() + 0.3;
        volatile unsigned long n = 0;
        while (now_s() < end)
            for (int i = 0; i < 100000; i++) n++;
        printf("busy done\n");
        return 0;
    }
    if (strcmp(mode, "pair") == 0) {
        pthread_t t[2];
        for (long i = 0; i < 2; i++) pthread_create(&t[i], NULL, spinner, (void*)i);
        for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
        printf("both spinners saw each other\n");
        return 0;
    }
    if (strcmp(mode, "sleep") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, sleeper, NULL);
        while (!g_woke) {
        }
        pthread_join(t, NULL);
        printf("the sleeper woke while main spun\n");
        return 0;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, finisher, NULL) != 0) return 2;
    volatile unsigned long n = 0;
    for (;;) n++;
}
