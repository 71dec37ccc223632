// thread_stdin.c - a main thread reads lines from stdin and hands each to
// one of two worker threads waiting on a condition variable, which answers.
// It reaches READY (every thread blocked, main on stdin), so it snapshots
// with three threads and its restores must answer as a fresh run does.
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER, done_cv = PTHREAD_COND_INITIALIZER;
static char line[256];
static int pending, closed, answered;

static void* worker(void* arg) {
    long id = (long)arg;
    (void)id;
    for (;;) {
        pthread_mutex_lock(&mu);
        while (!pending && !closed) pthread_cond_wait(&cv, &mu);
        if (!pending) {
            pthread_mutex_unlock(&mu);
            return NULL;
        }
        for (char* p = line; *p; ++p) *p = (char)toupper((unsigned char)*p);
        printf("answer %d: %s", ++answered, line);
        fflush(stdout);
        pending = 0;
        pthread_cond_signal(&done_cv);
        pthread_mutex_unlock(&mu);
    }
}

int main(void) {
    pthread_t w[2];
    for (long i = 0; i < 2; ++i) pthread_create(&w[i], NULL, worker, (void*)i);
    char buf[256];
    while (fgets(buf, sizeof buf, stdin)) {
        pthread_mutex_lock(&mu);
        memcpy(line, buf, sizeof line);
        pending = 1;
        pthread_cond_signal(&cv);
        while (pending) pthread_cond_wait(&done_cv, &mu);
        pthread_mutex_unlock(&mu);
    }
    pthread_mutex_lock(&mu);
    closed = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < 2; ++i) pthread_join(w[i], NULL);
    printf("answered %d\n", answered);
    return 0;
}
