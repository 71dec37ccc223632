// threads.c - pthreads as a program uses them: create/join with results,
// a mutex + condition variable producer/consumer, a pipe between threads,
// sleeping and yielding threads, thread ids and the per-thread syscalls.
// The same binary runs natively and in ember-vm with the same output.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static __thread int tls_value;  // each thread's own copy (FS base per thread)

static void* square_sum(void* arg) {
    long n = (long)arg;
    tls_value = (int)n;
    long s = 0;
    for (long i = 1; i <= n * 1000; ++i) s += i % 7;
    sched_yield();
    if (tls_value != (int)n) return (void*)-1;
    double d = (double)n * 0.5;  // vector registers survive switches
    sched_yield();
    return (void*)(s + (long)(d * 2));
}

enum { kItems = 2000, kSlots = 8 };
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
static int queue[kSlots], head, count, done;
static long consumed_sum[2];

static void* producer(void* arg) {
    (void)arg;
    for (int i = 1; i <= kItems; ++i) {
        pthread_mutex_lock(&mu);
        while (count == kSlots) pthread_cond_wait(&not_full, &mu);
        queue[(head + count++) % kSlots] = i;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&mu);
    }
    pthread_mutex_lock(&mu);
    done = 1;
    pthread_cond_broadcast(&not_empty);
    pthread_mutex_unlock(&mu);
    return NULL;
}

static void* consumer(void* arg) {
    long id = (long)arg;
    for (;;) {
        pthread_mutex_lock(&mu);
        while (count == 0 && !done) pthread_cond_wait(&not_empty, &mu);
        if (count == 0 && done) {
            pthread_mutex_unlock(&mu);
            return NULL;
        }
        int v = queue[head];
        head = (head + 1) % kSlots;
        count--;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&mu);
        consumed_sum[id] += v;
    }
}

static int pipefd[2];
static void* pipe_writer(void* arg) {
    (void)arg;
    for (int i = 0; i < 100; ++i) {
        char b[64];
        int n = snprintf(b, sizeof b, "line %d\n", i);
        if (write(pipefd[1], b, (size_t)n) != n) return (void*)1;
    }
    close(pipefd[1]);
    return NULL;
}

static volatile int flag;
static void* sleeper(void* arg) {
    (void)arg;
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    flag = 1;
    return NULL;
}

static void* tid_thread(void* arg) {
    pid_t* out = arg;
    *out = (pid_t)syscall(SYS_gettid);
    return NULL;
}

// A thread's stack far below its stack pointer, lower half: written
// (arg != NULL) or checked to read as zero. After a thread that wrote there
// has exited, the next one's stack reads zero there as on Linux (glibc
// reuses the stack, dropping those pages with MADV_DONTNEED; musl maps a
// fresh one).
static void* stack_below_sp(void* arg) {
    pthread_attr_t a;
    void* lo = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &a) != 0) return (void*)3;
    pthread_attr_getstack(&a, &lo, &size);
    pthread_attr_destroy(&a);
    volatile char* p = lo;
    char here;
    const size_t n = ((size_t)(&here - (char*)lo) / 2) & ~(size_t)4095;
    int nonzero = 0;
    for (size_t i = 0; i < n; i += 512) {
        if (arg)
            p[i] = (char)0xab;
        else
            nonzero |= p[i];
    }
    return (void*)(uintptr_t)(nonzero ? 1 : n ? 2 : 4);
}

int main(void) {
    pthread_t t[6];
    for (long i = 0; i < 6; ++i) pthread_create(&t[i], NULL, square_sum, (void*)(i + 1));
    for (int i = 0; i < 6; ++i) {
        void* r;
        pthread_join(t[i], &r);
        printf("thread %d returned %ld\n", i, (long)r);
    }

    pthread_t p, c[2];
    pthread_create(&c[0], NULL, consumer, (void*)0);
    pthread_create(&c[1], NULL, consumer, (void*)1);
    pthread_create(&p, NULL, producer, NULL);
    pthread_join(p, NULL);
    pthread_join(c[0], NULL);
    pthread_join(c[1], NULL);
    printf("producer/consumer: total %ld (expected %ld)\n", consumed_sum[0] + consumed_sum[1],
           (long)kItems * (kItems + 1) / 2);

    if (pipe(pipefd) != 0) return 1;
    pthread_t w;
    pthread_create(&w, NULL, pipe_writer, NULL);
    char buf[8192];
    size_t got = 0;
    ssize_t n;
    while ((n = read(pipefd[0], buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)n;
    buf[got] = 0;
    pthread_join(w, NULL);
    printf("pipe: %zu bytes, last line %s", got, strrchr(buf, 'l') ? strrchr(buf, 'l') : "?\n");

    pthread_t s;
    pthread_create(&s, NULL, sleeper, NULL);
    long spins = 0;
    while (!flag) {
        sched_yield();
        spins++;
    }
    pthread_join(s, NULL);
    printf("yield until a sleeper woke: %s\n", spins > 0 ? "ok" : "no spins");

    pid_t other = 0;
    pthread_t tt;
    pthread_create(&tt, NULL, tid_thread, &other);
    pthread_join(tt, NULL);
    pid_t me = (pid_t)syscall(SYS_gettid);
    printf("gettid: main is pid %s, other thread differs %s\n", me == getpid() ? "yes" : "no",
           other != me && other > 0 ? "yes" : "no");
    printf("tgkill 0 to self: %ld, to a gone thread: %s\n",
           (long)syscall(SYS_tgkill, getpid(), me, 0),
           syscall(SYS_tgkill, getpid(), 0x3ffffff0, 0) == -1 && errno == ESRCH ? "ESRCH" : "?");

    pthread_t st;
    void* sr = NULL;
    pthread_create(&st, NULL, stack_below_sp, (void*)1);
    pthread_join(st, NULL);
    pthread_create(&st, NULL, stack_below_sp, NULL);
    pthread_join(st, &sr);
    printf("next thread's stack below sp: %s\n", sr == (void*)2 ? "zero" : "not zero");

    cpu_set_t set;
    CPU_ZERO(&set);
    int ar = sched_getaffinity(0, sizeof set, &set);
    printf("sched_getaffinity: %d, has a cpu %d\n", ar, CPU_COUNT(&set) > 0);
    unsigned cpu = 99, node = 99;
    printf("getcpu: %ld\n", (long)syscall(SYS_getcpu, &cpu, &node, NULL));
    long before = syscall(SYS_membarrier, 8 /* PRIVATE_EXPEDITED */, 0, 0);
    int e = errno;
    long reg = syscall(SYS_membarrier, 16 /* REGISTER_PRIVATE_EXPEDITED */, 0, 0);
    long after = syscall(SYS_membarrier, 8, 0, 0);
    printf("membarrier: before register %ld (%s), register %ld, after %ld\n", before,
           e == EPERM ? "EPERM" : "?", reg, after);
    return 0;
}
