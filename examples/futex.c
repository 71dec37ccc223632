// futex.c - the futex syscall's operations, results and errors, between
// raw threads: ping-pong, timeouts, requeue, wake-op, bitsets, robust
// mutexes and CHILD_CLEARTID (pthread_join). Same output natively and in
// ember-vm.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// The Linux ABI values (<linux/futex.h> is not in musl's include path).
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAKE_OP 5
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256
#define FUTEX_WAIT_PRIVATE (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAIT_BITSET_PRIVATE (FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_BITSET_PRIVATE (FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG)
#define FUTEX_BITSET_MATCH_ANY 0xffffffffu
#define FUTEX_OP_SET 0
#define FUTEX_OP_ADD 1
#define FUTEX_OP_OPARG_SHIFT 8
#define FUTEX_OP_CMP_EQ 0
#define FUTEX_OP_CMP_GT 4
#define FUTEX_OP(op, oparg, cmp, cmparg) \
    ((((op)&0xf) << 28) | (((cmp)&0xf) << 24) | (((oparg)&0xfff) << 12) | ((cmparg)&0xfff))

static long futex(uint32_t* uaddr, int op, uint32_t val, const void* ts_or_val2, uint32_t* uaddr2,
                  uint32_t val3) {
    return syscall(SYS_futex, uaddr, op, val, ts_or_val2, uaddr2, val3);
}

static const char* err(long r) {
    if (r >= 0) return "ok";
    switch (errno) {
        case EAGAIN:
            return "EAGAIN";
        case ETIMEDOUT:
            return "ETIMEDOUT";
        case EINVAL:
            return "EINVAL";
        case EFAULT:
            return "EFAULT";
        case ENOSYS:
            return "ENOSYS";
        default:
            return "other";
    }
}

static uint32_t ping, pong;
enum { kRounds = 1000 };

static void* ponger(void* arg) {
    (void)arg;
    for (uint32_t i = 1; i <= kRounds; ++i) {
        while (__atomic_load_n(&ping, __ATOMIC_ACQUIRE) != i)
            futex(&ping, FUTEX_WAIT_PRIVATE, i - 1, NULL, NULL, 0);
        __atomic_store_n(&pong, i, __ATOMIC_RELEASE);
        futex(&pong, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
    return NULL;
}

static uint32_t gate, gate2;
static int woke[4];
static int tids[4];  // of the waiters, for settle()
static void* waiter(void* arg) {
    long id = (long)arg;
    __atomic_store_n(&tids[id], (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
    while (__atomic_load_n(&gate, __ATOMIC_ACQUIRE) == 0)
        futex(&gate, FUTEX_WAIT, 0, NULL, NULL, 0);
    __atomic_fetch_add(&woke[id], 1, __ATOMIC_RELAXED);
    return NULL;
}

static void* bitset_waiter(void* arg) {
    long id = (long)arg;
    __atomic_store_n(&tids[id], (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
    long r = futex(&gate2, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, 1u << id);
    __atomic_fetch_add(&woke[id], r == 0 ? 1 : 100, __ATOMIC_RELAXED);
    return NULL;
}

// Lets the n waiters reach their futex waits. Natively: until /proc says
// each sleeps (a loaded host may take long). In Ember (no /proc yet) a sleep
// runs every other thread until it blocks.
static void settle_n(int n) {
    struct timespec ts = {0, 1000000};
    for (int tries = 0; tries < 5000; ++tries) {
        nanosleep(&ts, NULL);
        int sleeping = 0;
        for (int i = 0; i < n; ++i) {
            int tid = __atomic_load_n(&tids[i], __ATOMIC_ACQUIRE);
            char path[64], buf[256];
            snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
            FILE* f = tid ? fopen(path, "r") : NULL;
            if (!f) {
                if (access("/proc/self/stat", R_OK) != 0) return;  // no /proc: one sleep was enough
                continue;
            }
            size_t len = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[len] = 0;
            char* p = strrchr(buf, ')');
            if (p && p[1] == ' ' && p[2] == 'S') sleeping++;
        }
        if (sleeping == n) return;
    }
}
static int g_waiters;
static void settle(void) { settle_n(g_waiters); }

static pthread_mutex_t robust;
static void* die_holding(void* arg) {
    (void)arg;
    pthread_mutex_lock(&robust);
    return NULL;  // exits with the robust mutex held
}

int main(void) {
    // Errors on a single thread.
    uint32_t v = 5;
    struct timespec short_ts = {0, 1000000}, bad_ts = {0, 2000000000};
    printf("wait wrong value: %s\n", err(futex(&v, FUTEX_WAIT_PRIVATE, 4, NULL, NULL, 0)));
    printf("wait 1ms: %s\n", err(futex(&v, FUTEX_WAIT_PRIVATE, 5, &short_ts, NULL, 0)));
    printf("wait bad timespec: %s\n", err(futex(&v, FUTEX_WAIT_PRIVATE, 5, &bad_ts, NULL, 0)));
    printf("wait misaligned: %s\n",
           err(futex((uint32_t*)((char*)&v + 1), FUTEX_WAIT, 5, NULL, NULL, 0)));
    printf("wait null: %s\n", err(futex(NULL, FUTEX_WAIT, 5, NULL, NULL, 0)));
    printf("wait_bitset 0: %s\n", err(futex(&v, FUTEX_WAIT_BITSET, 5, NULL, NULL, 0)));
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    now.tv_nsec += 1000000;
    if (now.tv_nsec >= 1000000000) {
        now.tv_sec++;
        now.tv_nsec -= 1000000000;
    }
    printf("wait_bitset absolute monotonic: %s\n",
           err(futex(&v, FUTEX_WAIT_BITSET_PRIVATE, 5, &now, NULL, FUTEX_BITSET_MATCH_ANY)));
    clock_gettime(CLOCK_REALTIME, &now);
    now.tv_nsec += 1000000;
    if (now.tv_nsec >= 1000000000) {
        now.tv_sec++;
        now.tv_nsec -= 1000000000;
    }
    printf("wait_bitset absolute realtime: %s\n",
           err(futex(&v, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 5, &now, NULL, ~0u)));
    struct timespec past = {1, 0};
    printf("wait_bitset in the past: %s\n", err(futex(&v, FUTEX_WAIT_BITSET, 5, &past, NULL, ~0u)));
    printf("wake nobody: %ld\n", futex(&v, FUTEX_WAKE, 1, NULL, NULL, 0));
    printf("wake with clock_realtime: %s\n",
           err(futex(&v, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, 0)));
    printf("cmp_requeue mismatch: %s\n", err(futex(&v, FUTEX_CMP_REQUEUE, 1, (void*)1, &gate, 4)));
    printf("requeue negative: %s\n", err(futex(&v, FUTEX_REQUEUE, 1, (void*)(long)-1, &gate, 0)));
    printf("unknown op: %s\n", err(futex(&v, 99, 1, NULL, NULL, 0)));

    // Ping-pong: every round is a wait and a wake on each side.
    pthread_t t;
    pthread_create(&t, NULL, ponger, NULL);
    for (uint32_t i = 1; i <= kRounds; ++i) {
        __atomic_store_n(&ping, i, __ATOMIC_RELEASE);
        futex(&ping, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        while (__atomic_load_n(&pong, __ATOMIC_ACQUIRE) != i)
            futex(&pong, FUTEX_WAIT_PRIVATE, i - 1, NULL, NULL, 0);
    }
    pthread_join(t, NULL);
    printf("ping-pong: %u rounds\n", pong);

    // Four waiters on gate: wake one, requeue two onto gate2, cmp_requeue.
    pthread_t w[4];
    g_waiters = 4;
    for (long i = 0; i < 4; ++i) pthread_create(&w[i], NULL, waiter, (void*)i);
    settle();
    printf("wake 1 of 4 (value unchanged, it sleeps again): %ld\n",
           futex(&gate, FUTEX_WAKE, 1, NULL, NULL, 0));
    settle();
    printf("cmp_requeue wake 1 move 2: %ld\n",
           futex(&gate, FUTEX_CMP_REQUEUE, 1, (void*)2, &gate2, 0));
    settle();
    printf("wake on gate2 (value of gate still 0): %ld\n",
           futex(&gate2, FUTEX_WAKE, 10, NULL, NULL, 0));
    settle();
    __atomic_store_n(&gate, 1, __ATOMIC_RELEASE);
    long total =
        futex(&gate, FUTEX_WAKE, 10, NULL, NULL, 0) + futex(&gate2, FUTEX_WAKE, 10, NULL, NULL, 0);
    for (int i = 0; i < 4; ++i) pthread_join(w[i], NULL);
    printf("final wake: %ld, every waiter left once: %d\n", total,
           woke[0] + woke[1] + woke[2] + woke[3]);

    // Wake-op: *gate2 = 1 (old 0), wake on gate, then on gate2 if old == 0.
    for (int i = 0; i < 4; ++i) woke[i] = 0;
    gate = 0;
    gate2 = 0;
    memset(tids, 0, sizeof tids);
    g_waiters = 1;
    pthread_create(&w[0], NULL, waiter, (void*)0);
    settle();
    __atomic_store_n(&gate, 1, __ATOMIC_RELEASE);
    long r = futex(&gate, FUTEX_WAKE_OP, 1, (void*)1, &gate2,
                   FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_EQ, 0));
    pthread_join(w[0], NULL);
    printf("wake_op: %ld, gate2 now %u\n", r, gate2);
    uint32_t x = 6;
    r = futex(&gate, FUTEX_WAKE_OP, 1, (void*)1, &x,
              FUTEX_OP((FUTEX_OP_ADD | FUTEX_OP_OPARG_SHIFT), 3, FUTEX_OP_CMP_GT, 5));
    printf("wake_op add 1<<3: %ld, x now %u\n", r, x);
    const char* bad =
        err(futex(&gate, FUTEX_WAKE_OP, 1, (void*)1, &x, (4u << 28) | (9u << 24) | (1u << 12) | 1));
    printf("wake_op bad cmp: %s, x now %u\n", bad, x);

    // Bitsets: waiters 0..2 wait with bits 1<<id; wake bits 0b101.
    for (int i = 0; i < 4; ++i) woke[i] = 0;
    gate2 = 0;
    memset(tids, 0, sizeof tids);
    g_waiters = 3;
    for (long i = 0; i < 3; ++i) pthread_create(&w[i], NULL, bitset_waiter, (void*)i);
    settle();
    printf("wake_bitset 0b101: %ld\n", futex(&gate2, FUTEX_WAKE_BITSET_PRIVATE, 10, NULL, NULL, 5));
    printf("wake_bitset 0: %s\n", err(futex(&gate2, FUTEX_WAKE_BITSET_PRIVATE, 10, NULL, NULL, 0)));
    for (int i = 0; i < 5000 && woke[0] + woke[2] < 2; ++i)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    printf("woken so far: %d %d %d\n", woke[0], woke[1], woke[2]);
    printf("wake the rest: %ld\n", futex(&gate2, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0));
    for (int i = 0; i < 3; ++i) pthread_join(w[i], NULL);

    // A robust mutex whose owner died: the next locker gets EOWNERDEAD.
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&robust, &a);
    pthread_create(&t, NULL, die_holding, NULL);
    pthread_join(t, NULL);
    int lr = pthread_mutex_lock(&robust);
    printf("robust mutex after its owner died: %s\n", lr == EOWNERDEAD ? "EOWNERDEAD" : "?");
    return 0;
}
