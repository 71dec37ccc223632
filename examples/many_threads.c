// many_threads.c - N threads with the default stack size alive at once (all
// wait on one barrier), then joined: a server's worker pool. In Ember every
// page of a thread's stack is a frame of --mem, so this checks that the
// default stack size (glibc: RLIMIT_STACK) leaves room for N threads at the
// default --mem. Usage: many_threads [N] (default 40). Prints what it made.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_barrier_t all_up;

static void* worker(void* arg) {
    pthread_barrier_wait(&all_up);
    return arg;
}

int main(int argc, char** argv) {
    int n = argc > 1 ? atoi(argv[1]) : 40;
    if (n < 1 || n > 1000) return 2;
    pthread_t* t = calloc((size_t)n, sizeof *t);
    pthread_barrier_init(&all_up, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++) {
        int e = pthread_create(&t[i], NULL, worker, (void*)(long)i);
        if (e != 0) {
            printf("thread %d of %d: %s\n", i, n, strerror(e));
            return 1;
        }
    }
    pthread_barrier_wait(&all_up);
    long sum = 0;
    for (int i = 0; i < n; i++) {
        void* r;
        pthread_join(t[i], &r);
        sum += (long)r;
    }
    printf("made and joined %d threads (sum %ld)\n", n, sum);
    return 0;
}
