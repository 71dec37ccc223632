// timer.cpp - timers that send signals: alarm, setitimer/getitimer and the
// POSIX timers (timer_create ... timer_delete with SIGEV_SIGNAL,
// SIGEV_THREAD_ID and SIGEV_NONE; glibc and musl build SIGEV_THREAD on
// SIGEV_THREAD_ID).
//
// Every armed timer has an expiry on the monotonic clock; g_timer_next is
// the earliest. Expiries are noticed where the kernel already looks at the
// clock: at the end of a syscall while a timer is armed (syscall.cpp), in
// the scheduler (every switch, the idle host wait's deadline, preemption;
// preempt_want is set while a timer is armed so a spinning thread is
// kicked), and in a single thread's host wait, whose deadline includes it.
// A real-time clock timer is converted to the monotonic clock when it is
// set (a later change of the wall clock does not move it). ITIMER_VIRTUAL
// and ITIMER_PROF count run time like the CPU clocks do (time.cpp).
//
// Timers belong to the process that made them (ProcTimers, allocated at
// its first timer) and signal that process: a fork child has none, exec
// keeps the interval timers and deletes the POSIX ones, and they go with
// the process's end, as on Linux. g_timer_next covers every process.
#include "proc/proc.h"

namespace k {

uint64_t g_timer_next;

namespace {

constexpr int kMaxPosixTimers = 32;
constexpr int kItimerReal = 0, kItimerVirtual = 1, kItimerProf = 2;
constexpr int32_t kSigevSignal = 0, kSigevNone = 1, kSigevThreadId = 4;
constexpr int32_t kSiTimer = -2, kSiKernel = 0x80;

struct KTimer {
    bool used;
    bool realtime;   // a POSIX timer on a real-time clock (absolute times)
    int32_t notify;  // SIGEV_*
    int32_t signo;
    int32_t tid;  // SIGEV_THREAD_ID
    uint64_t value;
    uint64_t next;      // monotonic ns of the next expiry, 0 = disarmed
    uint64_t interval;  // ns, 0 = one-shot
    int32_t overrun;    // expiries merged into the last signal
    int32_t pending_overrun;
};
constexpr int kTimers = kMaxPosixTimers + 3;

}  // namespace

// One process's timers: POSIX timers first, then the three interval timers.
struct ProcTimers {
    KTimer t[kTimers];
};

namespace {

// The running process's timers; created (nullptr when out of memory) or not.
ProcTimers* own_timers(bool create) {
    Process* p = proc_running();
    if (!p->timers && create) p->timers = static_cast<ProcTimers*>(kcalloc(1, sizeof(ProcTimers)));
    return p->timers;
}

void recompute() {
    uint64_t next = 0;
    for (const Process* p = proc_list(); p; p = p->next) {
        if (!p->timers) continue;
        for (const KTimer& t : p->timers->t)
            if (t.used && t.next && (next == 0 || t.next < next)) next = t.next;
    }
    g_timer_next = next;
    update_preempt_want();
}

// Its next expiry is set before the signal goes: sending may end the
// process, and with it the timers (timers_exit).
void expire(Process* p, int id, KTimer& t, uint64_t now) {
    int32_t missed = 0;
    if (t.interval) {
        const uint64_t late = (now - t.next) / t.interval;
        missed = late > 0x7fffffff ? 0x7fffffff : static_cast<int32_t>(late);
        t.next += (late + 1) * t.interval;
    } else {
        t.next = 0;
    }
    if (t.notify == kSigevNone) return;
    SigInfo info{};
    info.signo = t.signo;
    if (id < kMaxPosixTimers) {
        info.code = kSiTimer;
        t.overrun = missed;
        info.f[0] = static_cast<uint32_t>(id) | (static_cast<uint64_t>(missed) << 32);
        info.f[1] = t.value;
    } else {
        info.code = kSiKernel;
    }
    Thread* target = nullptr;
    if (t.notify == kSigevThreadId) {
        target = thread_by_tid(t.tid);
        if (!target || target->proc != p) return;  // the thread is gone: Linux drops it too
    }
    proc_send_thread(p, target, t.signo, info);
}

// The first armed timer of any process that is due at now.
bool find_due(uint64_t now, Process** owner, int* id) {
    for (Process* p = proc_list(); p; p = p->next) {
        if (!p->timers || p->state != ProcState::kLive) continue;
        for (int i = 0; i < kTimers; ++i) {
            const KTimer& t = p->timers->t[i];
            if (t.used && t.next && t.next <= now) {
                *owner = p;
                *id = i;
                return true;
            }
        }
    }
    return false;
}

}  // namespace

void timers_fire() {
    if (!g_timer_next) return;
    const uint64_t now = monotonic_ns();
    if (now < g_timer_next) return;
    // One at a time, looking again after each: a signal may end a process
    // (and free its timers) or reap one.
    Process* p;
    int id;
    while (find_due(now, &p, &id)) expire(p, id, p->timers->t[id], now);
    recompute();
}

void timers_exec() {
    if (ProcTimers* pt = own_timers(false)) {
        for (int i = 0; i < kMaxPosixTimers; ++i) pt->t[i] = KTimer{};
        recompute();
    }
}

void timers_exit(Process* p) {
    if (!p->timers) return;
    kfree(p->timers);
    p->timers = nullptr;
    recompute();
}

namespace {

uint64_t ns_of(const linux_timespec& ts) {
    const uint64_t ns =
        static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
    constexpr uint64_t kFar = ~0ull >> 2;
    return static_cast<uint64_t>(ts.tv_sec) >= kFar / 1000000000ull ? kFar : ns;
}

bool valid_ts(const linux_timespec& ts) {
    return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000;
}

linux_timespec ts_of(uint64_t ns) {
    return {static_cast<int64_t>(ns / 1000000000ull), static_cast<int64_t>(ns % 1000000000ull)};
}

// The time left and the interval of t, as Linux reports them (an armed
// timer never shows 0 left).
linux_itimerspec current(const KTimer& t) {
    uint64_t left = 0;
    if (t.next) {
        const uint64_t now = monotonic_ns();
        left = t.next > now ? t.next - now : 1;
    }
    return {ts_of(t.interval), ts_of(left)};
}

void arm(KTimer& t, uint64_t value_ns, uint64_t interval_ns, bool abs_realtime, bool abs_mono) {
    if (value_ns == 0) {
        t.next = 0;
    } else {
        const uint64_t now = monotonic_ns();
        uint64_t at = now + value_ns;
        if (abs_mono) at = value_ns;
        if (abs_realtime) {
            const int64_t real = realtime_ns();
            const int64_t delta = static_cast<int64_t>(value_ns) - real;
            at = delta > 0 ? now + static_cast<uint64_t>(delta) : now;
        }
        t.next = at ? at : 1;
    }
    t.interval = interval_ns;
    recompute();
    timers_fire();  // already due (an absolute time in the past)
}

// ---- setitimer, getitimer, alarm -------------------------------------------

struct Itimerval {
    linux_timeval interval, value;
};

linux_timeval tv_of(const linux_timespec& ts) { return {ts.tv_sec, ts.tv_nsec / 1000}; }

int itimer_signal(int which) {
    return which == kItimerReal ? 14 : which == kItimerVirtual ? 26 : 27;
}

int64_t sys_getitimer(uint64_t which, uint64_t uval, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (which > kItimerProf) return -EINVAL;
    const ProcTimers* pt = own_timers(false);
    const linux_itimerspec cur = pt ? current(pt->t[kMaxPosixTimers + which]) : linux_itimerspec{};
    const Itimerval v = {tv_of(cur.it_interval), tv_of(cur.it_value)};
    return put_user(uval, v);
}

int64_t do_setitimer(int which, const Itimerval& v, Itimerval* old) {
    ProcTimers* pt = own_timers(true);
    if (!pt) return -ENOMEM;
    KTimer& t = pt->t[kMaxPosixTimers + which];
    const linux_itimerspec cur = current(t);
    if (old) *old = {tv_of(cur.it_interval), tv_of(cur.it_value)};
    auto ns = [](const linux_timeval& tv) {
        return static_cast<uint64_t>(tv.tv_sec) * 1000000000ull +
               static_cast<uint64_t>(tv.tv_usec) * 1000ull;
    };
    t.used = true;
    t.notify = kSigevSignal;
    t.signo = itimer_signal(which);
    arm(t, ns(v.value), ns(v.interval), false, false);
    return 0;
}

int64_t sys_setitimer(uint64_t which, uint64_t unew, uint64_t uold, uint64_t, uint64_t, uint64_t) {
    if (which > kItimerProf) return -EINVAL;
    Itimerval v{};
    if (unew && get_user(&v, unew) < 0) return -EFAULT;
    auto bad = [](const linux_timeval& tv) {
        return tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000;
    };
    if (bad(v.value) || bad(v.interval)) return -EINVAL;
    Itimerval old;
    if (int64_t r = do_setitimer(static_cast<int>(which), v, &old); r < 0) return r;
    return uold && put_user(uold, old) < 0 ? -EFAULT : 0;
}

int64_t sys_alarm(uint64_t secs, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    Itimerval v{}, old;
    v.value.tv_sec = static_cast<int64_t>(static_cast<uint32_t>(secs));
    if (int64_t r = do_setitimer(kItimerReal, v, &old); r < 0) return r;
    // As Linux: the seconds left, rounded to nearest, never 0 if armed.
    int64_t left = old.value.tv_sec;
    if (old.value.tv_usec >= 500000) left++;
    if (left == 0 && old.value.tv_usec) left = 1;
    return left;
}

// ---- POSIX timers ----------------------------------------------------------

struct Sigevent {
    uint64_t value;
    int32_t signo, notify;
    int32_t tid;
    int32_t pad[11];
};
static_assert(sizeof(Sigevent) == 64, "struct sigevent");

KTimer* posix_timer(uint64_t id) {
    ProcTimers* pt = own_timers(false);
    if (!pt || id >= kMaxPosixTimers || !pt->t[id].used) return nullptr;
    return &pt->t[id];
}

int64_t sys_timer_create(uint64_t clock, uint64_t usev, uint64_t uid, uint64_t, uint64_t,
                         uint64_t) {
    if (clock > 11 || clock == 10 || clock == 3) return -EINVAL;  // known, not per-thread CPU
    Sigevent ev{};
    if (usev) {
        if (get_user(&ev, usev) < 0) return -EFAULT;
    } else {
        ev.notify = kSigevSignal;
        ev.signo = 14;  // SIGALRM, with the timer id as the value
    }
    if (ev.notify != kSigevSignal && ev.notify != kSigevNone && ev.notify != kSigevThreadId)
        return -EINVAL;
    if (ev.notify != kSigevNone && (ev.signo < 1 || ev.signo > 64)) return -EINVAL;
    if (ev.notify == kSigevThreadId) {
        const Thread* th = thread_by_tid(ev.tid);
        if (!th || th->proc != proc_running()) return -EINVAL;
    }
    ProcTimers* pt = own_timers(true);
    if (!pt) return -ENOMEM;
    int id = 0;
    while (id < kMaxPosixTimers && pt->t[id].used) ++id;
    if (id == kMaxPosixTimers) return -EAGAIN;
    if (put_user(uid, static_cast<int32_t>(id)) < 0) return -EFAULT;
    KTimer& t = pt->t[id];
    t = KTimer{};
    t.used = true;
    t.notify = ev.notify;
    t.signo = ev.signo;
    t.tid = ev.tid;
    t.realtime = clock == 0 || clock == 5 || clock == 8 || clock == 11;
    t.value = usev ? ev.value : static_cast<uint64_t>(id);
    return 0;
}

int64_t sys_timer_settime(uint64_t id, uint64_t flags, uint64_t unew, uint64_t uold, uint64_t,
                          uint64_t) {
    KTimer* t = posix_timer(id);
    if (!t) return -EINVAL;
    linux_itimerspec v;
    if (get_user(&v, unew) < 0) return -EFAULT;
    if (!valid_ts(v.it_value) || !valid_ts(v.it_interval)) return -EINVAL;
    const linux_itimerspec old = current(*t);
    constexpr uint64_t kAbstime = 1;
    const bool abs = flags & kAbstime;
    arm(*t, ns_of(v.it_value), ns_of(v.it_interval), abs && t->realtime, abs && !t->realtime);
    return uold && put_user(uold, old) < 0 ? -EFAULT : 0;
}

int64_t sys_timer_gettime(uint64_t id, uint64_t uval, uint64_t, uint64_t, uint64_t, uint64_t) {
    KTimer* t = posix_timer(id);
    if (!t) return -EINVAL;
    return put_user(uval, current(*t));
}

int64_t sys_timer_getoverrun(uint64_t id, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    KTimer* t = posix_timer(id);
    return t ? t->overrun : -EINVAL;
}

int64_t sys_timer_delete(uint64_t id, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    KTimer* t = posix_timer(id);
    if (!t) return -EINVAL;
    *t = KTimer{};
    recompute();
    return 0;
}

}  // namespace

void register_timer_syscalls() {
    syscall_register(nr::alarm, "alarm", sys_alarm);
    syscall_register(nr::setitimer, "setitimer", sys_setitimer);
    syscall_register(nr::getitimer, "getitimer", sys_getitimer);
    syscall_register(nr::timer_create, "timer_create", sys_timer_create);
    syscall_register(nr::timer_settime, "timer_settime", sys_timer_settime);
    syscall_register(nr::timer_gettime, "timer_gettime", sys_timer_gettime);
    syscall_register(nr::timer_getoverrun, "timer_getoverrun", sys_timer_getoverrun);
    syscall_register(nr::timer_delete, "timer_delete", sys_timer_delete);
}

}  // namespace k
