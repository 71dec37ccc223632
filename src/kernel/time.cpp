// time.cpp - clocks and sleeping. Time comes from the TSC and the clock base
// in the boot info; sleeping is a blocking wait with a deadline.
#include "kernel.h"
#include "sched/signal.h"

namespace k {
namespace {

constexpr uint64_t kRealtime = 0, kMonotonic = 1, kProcessCpu = 2, kThreadCpu = 3,
                   kMonotonicRaw = 4, kRealtimeCoarse = 5, kMonotonicCoarse = 6, kBoottime = 7,
                   kTai = 11;

bool clock_now(uint64_t id, int64_t* ns) {
    switch (id) {
        case kRealtime:
        case kRealtimeCoarse:
        case kTai:
            *ns = realtime_ns();
            return true;
        case kMonotonic:
        case kMonotonicRaw:
        case kMonotonicCoarse:
        case kBoottime:
            *ns = static_cast<int64_t>(monotonic_ns());
            return true;
        case kProcessCpu:
        case kThreadCpu:
            // Approximation: the instance's CPU time is its run time.
            *ns = static_cast<int64_t>(monotonic_ns()) - boot()->mono_base_ns;
            return true;
        default:
            return false;
    }
}

bool read_timespec(uint64_t addr, int64_t* ns) {
    linux_timespec ts;
    if (get_user(&ts, addr) < 0) return false;
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) {
        *ns = -1;
        return true;
    }
    *ns = ts.tv_sec > 9000000000ll ? INT64_MAX : ts.tv_sec * 1000000000ll + ts.tv_nsec;
    return true;
}

int64_t write_timespec(uint64_t addr, int64_t ns) {
    const linux_timespec ts{ns / 1000000000, ns % 1000000000};
    return put_user(addr, ts);
}

// Sleeps until the monotonic clock reaches deadline; false when a signal
// interrupted it.
bool sleep_until(uint64_t deadline) {
    while (monotonic_ns() < deadline) {
        if (signal_pending_now()) return false;
        wait_events(0, deadline);
    }
    return true;
}

int64_t continue_sleep(const RestartBlock& b);

// A sleep interrupted by a signal: the time left in *rem (a bad rem is
// ignored, as a completed sleep's is), and EINTR when a handler runs; else
// (a stop and SIGCONT) the sleep goes on as restart_syscall, as on Linux.
int64_t interrupted_sleep(uint64_t rem, uint64_t deadline) {
    const uint64_t now = monotonic_ns();
    if (rem) (void)write_timespec(rem, static_cast<int64_t>(deadline > now ? deadline - now : 0));
    return restart_block_set({continue_sleep, deadline, rem, 0, 0});
}

// The rest of a sleep a stop interrupted (restart_syscall).
int64_t continue_sleep(const RestartBlock& b) {
    if (!sleep_until(b.deadline)) return interrupted_sleep(b.a, b.deadline);
    return 0;
}

int64_t sys_clock_gettime(uint64_t id, uint64_t tp, uint64_t, uint64_t, uint64_t, uint64_t) {
    int64_t ns;
    if (!clock_now(id, &ns)) return -EINVAL;
    return write_timespec(tp, ns);
}

int64_t sys_clock_getres(uint64_t id, uint64_t tp, uint64_t, uint64_t, uint64_t, uint64_t) {
    int64_t ns;
    if (!clock_now(id, &ns)) return -EINVAL;
    return tp ? write_timespec(tp, 1) : 0;
}

int64_t sys_gettimeofday(uint64_t tv, uint64_t tz, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (tv) {
        const int64_t ns = realtime_ns();
        const linux_timeval t{ns / 1000000000, (ns % 1000000000) / 1000};
        if (put_user(tv, t) < 0) return -EFAULT;
    }
    return tz ? clear_user(tz, 8) : 0;  // struct timezone: UTC, no DST
}

int64_t sys_time(uint64_t t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    const int64_t s = realtime_ns() / 1000000000;
    if (t && put_user(t, s) < 0) return -EFAULT;
    return s;
}

int64_t sys_nanosleep(uint64_t req, uint64_t rem, uint64_t, uint64_t, uint64_t, uint64_t) {
    int64_t ns;
    if (!read_timespec(req, &ns)) return -EFAULT;
    if (ns < 0) return -EINVAL;
    const uint64_t now = monotonic_ns();
    const uint64_t deadline =
        ns > static_cast<int64_t>(~0ull >> 2) ? ~0ull >> 2 : now + static_cast<uint64_t>(ns);
    if (!sleep_until(deadline)) return interrupted_sleep(rem, deadline);
    if (rem) (void)write_timespec(rem, 0);  // the sleep completed; a bad rem is ignored
    return 0;
}

int64_t sys_clock_nanosleep(uint64_t id, uint64_t flags, uint64_t req, uint64_t rem, uint64_t,
                            uint64_t) {
    int64_t now;
    if (!clock_now(id, &now) || id == kThreadCpu) return -EINVAL;
    int64_t ns;
    if (!read_timespec(req, &ns)) return -EFAULT;
    if (ns < 0) return -EINVAL;
    constexpr uint64_t kAbstime = 1;
    int64_t rel = (flags & kAbstime) ? ns - now : ns;
    if (rel > 0) {
        const uint64_t deadline = monotonic_ns() + static_cast<uint64_t>(rel);
        // An absolute sleep simply starts again after a stop (Linux's
        // ERESTARTNOHAND); a relative one continues with the time it had.
        if (!sleep_until(deadline))
            return (flags & kAbstime) ? -kErestartnohand : interrupted_sleep(rem, deadline);
    }
    if (rem && !(flags & kAbstime)) (void)write_timespec(rem, 0);  // as in nanosleep
    return 0;
}

}  // namespace

void register_time_syscalls() {
    syscall_register(nr::clock_gettime, "clock_gettime", sys_clock_gettime);
    syscall_register(nr::clock_getres, "clock_getres", sys_clock_getres);
    syscall_register(nr::gettimeofday, "gettimeofday", sys_gettimeofday);
    syscall_register(nr::time, "time", sys_time);
    syscall_register(nr::nanosleep, "nanosleep", sys_nanosleep);
    syscall_register(nr::clock_nanosleep, "clock_nanosleep", sys_clock_nanosleep);
}

}  // namespace k
