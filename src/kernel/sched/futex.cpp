// futex.cpp - futexes between the threads of the process: one FIFO queue
// of waiters (few threads; a scan is cheaper than hashing), Linux's error
// rules and wake counts (kernel/futex/{syscalls,waitwake,requeue}.c).
// Waiters are keyed by the word's frame (mm_futex_key), so a futex in a
// MAP_SHARED page works between processes and private words of different
// processes never meet; private and shared futexes are the same. PI
// futexes and futex_waitv are ENOSYS; a signal ends a wait with EINTR or restarts it.
#include "mm_space.h"
#include "sched/signal.h"

namespace k {
namespace {

constexpr uint32_t kWait = 0, kWake = 1, kRequeue = 3, kCmpRequeue = 4, kWakeOp = 5,
                   kWaitBitset = 9, kWakeBitset = 10;
constexpr uint32_t kPrivate = 128, kClockRealtime = 256;
constexpr uint32_t kBitsetAny = ~0u;

Thread* g_head;  // waiters in arrival order
Thread* g_tail;

void enqueue(Thread* t, uint64_t uaddr, uint32_t bitset) {
    t->futex_addr = mm_futex_key(uaddr);
    t->futex_bitset = bitset;
    t->futex_next = nullptr;
    if (g_tail)
        g_tail->futex_next = t;
    else
        g_head = t;
    g_tail = t;
}

// Removes `t` given its predecessor (nullptr at the head).
void unlink(Thread* prev, Thread* t) {
    if (prev)
        prev->futex_next = t->futex_next;
    else
        g_head = t->futex_next;
    if (g_tail == t) g_tail = prev;
    t->futex_next = nullptr;
}

int64_t check_addr(uint64_t uaddr) {
    if (uaddr % 4) return -EINVAL;
    return user_ok(uaddr, 4) ? 0 : -EFAULT;
}

int64_t futex_wait(uint64_t uaddr, uint32_t val, uint64_t deadline, uint32_t bitset);

// A timed wait that a stop interrupted goes on (restart_syscall) until the
// same deadline, as Linux's futex_wait_restart.
int64_t futex_wait_restart(const RestartBlock& b) {
    return futex_wait(b.a, static_cast<uint32_t>(b.b), b.deadline, static_cast<uint32_t>(b.c));
}

int64_t futex_wait(uint64_t uaddr, uint32_t val, uint64_t deadline, uint32_t bitset) {
    if (!bitset) return -EINVAL;
    uint32_t cur;
    if (get_user(&cur, uaddr) < 0) return -EFAULT;
    if (cur != val) return -EAGAIN;
    if (deadline && monotonic_ns() >= deadline) return -ETIMEDOUT;
    // Interrupted: without a timeout the wait restarts under SA_RESTART;
    // with one a handler makes it EINTR, and a stop and SIGCONT continue it
    // until the same deadline (Linux's restart block).
    auto interrupted = [&]() -> int64_t {
        if (!deadline) return -kErestartsys;
        return restart_block_set({futex_wait_restart, deadline, uaddr, val, bitset});
    };
    if (signal_pending_now()) return interrupted();
    Thread* t = current();
    enqueue(t, uaddr, bitset);
    t->futex_woken = false;
    t->timed_out = false;
    t->deadline = deadline;
    t->state = ThreadState::kBlocked;
    t->wait = WaitKind::kFutex;
    schedule();
    t->deadline = 0;
    if (t->futex_woken) return 0;
    return t->timed_out ? -ETIMEDOUT : interrupted();
}

// Wakes or moves the waiters of uaddr1, as futex_requeue does: the first
// nr_wake are woken, the next nr_requeue move to uaddr2. Returns both counts.
int64_t requeue(uint64_t uaddr1, uint64_t uaddr2, int32_t nr_wake, int32_t nr_requeue,
                const uint32_t* cmpval) {
    if (nr_wake < 0 || nr_requeue < 0) return -EINVAL;
    if (int64_t e = check_addr(uaddr1); e < 0) return e;
    if (int64_t e = check_addr(uaddr2); e < 0) return e;
    if (cmpval) {
        uint32_t cur;
        if (get_user(&cur, uaddr1) < 0) return -EFAULT;
        if (cur != *cmpval) return -EAGAIN;
    }
    int64_t count = 0;
    Thread* moved_head = nullptr;
    Thread* moved_tail = nullptr;
    for (Thread *prev = nullptr, *t = g_head; t;) {
        if (count - nr_wake >= nr_requeue) break;
        Thread* next = t->futex_next;
        if (t->futex_addr != mm_futex_key(uaddr1)) {
            prev = t;
            t = next;
            continue;
        }
        unlink(prev, t);
        if (++count <= nr_wake) {
            t->futex_woken = true;
            make_runnable(t);
        } else {
            // Requeued waiters go behind the ones already on uaddr2.
            t->futex_addr = mm_futex_key(uaddr2);
            if (moved_tail)
                moved_tail->futex_next = t;
            else
                moved_head = t;
            moved_tail = t;
        }
        t = next;
    }
    if (moved_head) {
        if (g_tail)
            g_tail->futex_next = moved_head;
        else
            g_head = moved_head;
        g_tail = moved_tail;
    }
    return count;
}

// FUTEX_WAKE_OP's operation on *uaddr2; returns the comparison (0/1) or an
// error, after the store as Linux does.
int64_t wake_op_apply(uint64_t uaddr2, uint32_t encoded) {
    const uint32_t op = (encoded >> 28) & 7;
    const uint32_t cmp = (encoded >> 24) & 15;
    int32_t oparg = static_cast<int32_t>(encoded << 8) >> 20;          // bits 12..23, sign-extended
    const int32_t cmparg = static_cast<int32_t>(encoded << 20) >> 20;  // bits 0..11
    if (encoded & 0x80000000u) oparg = 1 << (oparg & 31);              // FUTEX_OP_OPARG_SHIFT
    uint32_t old;
    if (get_user(&old, uaddr2) < 0) return -EFAULT;
    uint32_t nv;
    const uint32_t a = static_cast<uint32_t>(oparg);
    switch (op) {
        case 0:
            nv = a;
            break;  // SET
        case 1:
            nv = old + a;
            break;  // ADD
        case 2:
            nv = old | a;
            break;  // OR
        case 3:
            nv = old & ~a;
            break;  // ANDN
        case 4:
            nv = old ^ a;
            break;  // XOR
        default:
            return -ENOSYS;
    }
    if (put_user(uaddr2, nv) < 0) return -EFAULT;
    const int32_t o = static_cast<int32_t>(old);
    switch (cmp) {
        case 0:
            return o == cmparg;
        case 1:
            return o != cmparg;
        case 2:
            return o < cmparg;
        case 3:
            return o <= cmparg;
        case 4:
            return o > cmparg;
        case 5:
            return o >= cmparg;
        default:
            return -ENOSYS;
    }
}

int64_t futex_wake_op(uint64_t uaddr1, uint64_t uaddr2, int32_t nr_wake, int32_t nr_wake2,
                      uint32_t encoded) {
    if (int64_t e = check_addr(uaddr1); e < 0) return e;
    if (int64_t e = check_addr(uaddr2); e < 0) return e;
    const int64_t op_ret = wake_op_apply(uaddr2, encoded);
    if (op_ret < 0) return op_ret;
    int64_t ret = futex_wake(uaddr1, nr_wake, kBitsetAny);
    if (op_ret > 0) ret += futex_wake(uaddr2, nr_wake2, kBitsetAny);
    return ret;
}

// The timeout argument of the waits, as an absolute monotonic deadline
// (0 = none).
int64_t wait_deadline(uint32_t cmd, uint32_t op, uint64_t utime, uint64_t* deadline) {
    *deadline = 0;
    if (!utime) return 0;
    linux_timespec ts;
    if (get_user(&ts, utime) < 0) return -EFAULT;
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return -EINVAL;
    constexpr int64_t kFar = INT64_MAX / 4;
    const int64_t t = ts.tv_sec >= kFar / 1000000000 ? kFar : ts.tv_sec * 1000000000 + ts.tv_nsec;
    const int64_t now = static_cast<int64_t>(monotonic_ns());
    int64_t d;
    if (cmd == kWait)
        d = now + t;  // relative, whatever the clock flag
    else if (op & kClockRealtime)
        d = now + (t - realtime_ns());
    else
        d = t;
    *deadline = d < 1 ? 1 : static_cast<uint64_t>(d);
    return 0;
}

int64_t sys_futex(uint64_t uaddr, uint64_t op64, uint64_t val, uint64_t utime, uint64_t uaddr2,
                  uint64_t val3) {
    const uint32_t op = static_cast<uint32_t>(op64);
    const uint32_t cmd = op & ~(kPrivate | kClockRealtime);
    if ((op & kClockRealtime) && cmd != kWait && cmd != kWaitBitset) return -ENOSYS;
    const uint32_t v = static_cast<uint32_t>(val);
    const uint32_t v3 = static_cast<uint32_t>(val3);
    // For the requeue and wake-op commands the timeout slot carries val2.
    const int32_t val2 = static_cast<int32_t>(static_cast<uint32_t>(utime));
    switch (cmd) {
        case kWait:
        case kWaitBitset: {
            if (cmd == kWaitBitset && !v3) return -EINVAL;
            uint64_t deadline;
            if (int64_t e = wait_deadline(cmd, op, utime, &deadline); e < 0) return e;
            if (int64_t e = check_addr(uaddr); e < 0) return e;
            return futex_wait(uaddr, v, deadline, cmd == kWait ? kBitsetAny : v3);
        }
        case kWake:
        case kWakeBitset: {
            const uint32_t bitset = cmd == kWake ? kBitsetAny : v3;
            if (!bitset) return -EINVAL;
            if (int64_t e = check_addr(uaddr); e < 0) return e;
            return futex_wake(uaddr, static_cast<int32_t>(v), bitset);
        }
        case kRequeue:
            return requeue(uaddr, uaddr2, static_cast<int32_t>(v), val2, nullptr);
        case kCmpRequeue:
            return requeue(uaddr, uaddr2, static_cast<int32_t>(v), val2, &v3);
        case kWakeOp:
            return futex_wake_op(uaddr, uaddr2, static_cast<int32_t>(v), val2, v3);
        default:
            return -ENOSYS;
    }
}

}  // namespace

void futex_unqueue(Thread* t) {
    for (Thread *prev = nullptr, *w = g_head; w; prev = w, w = w->futex_next) {
        if (w == t) {
            unlink(prev, t);
            return;
        }
    }
}

// Wakes up to n waiters of uaddr whose bitset intersects `bitset`. As on
// Linux, n <= 0 still wakes one.
int64_t futex_wake(uint64_t uaddr, int64_t n, uint32_t bitset) {
    const uint64_t key = mm_futex_key(uaddr);
    int64_t woken = 0;
    for (Thread *prev = nullptr, *t = g_head; t;) {
        Thread* next = t->futex_next;
        if (t->futex_addr == key && (t->futex_bitset & bitset)) {
            unlink(prev, t);
            t->futex_woken = true;
            make_runnable(t);
            if (++woken >= n) break;
        } else {
            prev = t;
        }
        t = next;
    }
    return woken;
}

void register_futex_syscalls() { syscall_register(nr::futex, "futex", sys_futex); }

}  // namespace k
