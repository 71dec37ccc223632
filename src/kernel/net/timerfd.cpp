// timerfd.cpp - timerfd_create, timerfd_settime, timerfd_gettime.
//
// A timer keeps its next expiry as a guest monotonic deadline, whatever its
// clock: CLOCK_REALTIME times are converted when the timer is set (the wall
// clock does not jump under a running guest). Reading returns the number of
// expirations since the last read; blocking waits for the deadline.
#include "net/net.h"

namespace k::net {

namespace {

struct TimerFd {
    uint64_t clock;
    uint64_t next;      // monotonic ns of the next expiry; 0: disarmed
    uint64_t interval;  // ns; 0: one-shot
    uint64_t ticks;     // expirations not yet read
    uint64_t gen;
};

TimerFd* tfd_of(File* f);

// Moves expirations that are due into ticks.
void advance(TimerFd* t) {
    if (!t->next) return;
    const uint64_t now = monotonic_ns();
    if (now < t->next) return;
    if (t->interval) {
        const uint64_t n = 1 + (now - t->next) / t->interval;
        t->ticks += n;
        t->next += n * t->interval;
    } else {
        t->ticks++;
        t->next = 0;
    }
    t->gen++;
}

int64_t tfd_read(File* f, void* buf, uint64_t len, uint64_t*) {
    TimerFd* t = tfd_of(f);
    if (len < sizeof(uint64_t)) return -EINVAL;
    for (;;) {
        advance(t);
        if (t->ticks) break;
        if (f->flags & O_NONBLOCK) return -EAGAIN;
        if (!t->next) return would_block();  // disarmed: nothing will ever expire
        if (signal_pending_now()) return -kErestartsys;
        // Sockets keep flowing while we sleep.
        net_wait(streams_open() ? EMBER_WAIT_NET : 0, t->next);
    }
    const uint64_t v = t->ticks;
    t->ticks = 0;
    memcpy(buf, &v, sizeof v);
    return sizeof v;
}

uint32_t tfd_poll(File* f) {
    TimerFd* t = tfd_of(f);
    advance(t);
    return t->ticks ? POLLIN | POLLRDNORM : 0;
}

int64_t tfd_ioctl(File* f, uint64_t cmd, uint64_t arg) {
    constexpr uint64_t kSetTicks = 0x40085400;  // TFD_IOC_SET_TICKS
    if (cmd != kSetTicks) return -ENOTTY;
    uint64_t v;
    if (copy_from_user(&v, arg, sizeof v) < 0) return -EFAULT;
    if (v == 0) return -EINVAL;
    TimerFd* t = tfd_of(f);
    t->ticks = v;
    t->gen++;
    return 0;
}

void tfd_release(File* f) { kfree(f->priv); }

const fs::FileOps kTimerFdOps = {tfd_read,    nullptr, tfd_ioctl,  tfd_poll,
                                 tfd_release, false,   "[timerfd]"};

TimerFd* tfd_of(File* f) { return static_cast<TimerFd*>(f->priv); }

bool clock_ok(uint64_t c) {
    return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC || c == CLOCK_BOOTTIME ||
           c == CLOCK_REALTIME_ALARM || c == CLOCK_BOOTTIME_ALARM;
}
bool is_realtime(uint64_t c) { return c == CLOCK_REALTIME || c == CLOCK_REALTIME_ALARM; }

bool valid(const linux_timespec& ts) {
    return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000;
}

int64_t get_timer(uint64_t fd, TimerFd** t) {
    File* f = fs::fd_get(fd_arg(fd));
    if (!f) return -EBADF;
    if (!is_timerfd(f)) return -EINVAL;
    *t = tfd_of(f);
    return 0;
}

// Writes the timer's current setting (time to the next expiry, interval).
int64_t put_setting(TimerFd* t, uint64_t uout) {
    advance(t);
    const uint64_t now = monotonic_ns();
    const uint64_t left = t->next > now ? t->next - now : (t->next ? 1 : 0);
    linux_itimerspec its{
        {static_cast<int64_t>(t->interval / 1000000000),
         static_cast<int64_t>(t->interval % 1000000000)},
        {static_cast<int64_t>(left / 1000000000), static_cast<int64_t>(left % 1000000000)}};
    return copy_to_user(uout, &its, sizeof its);
}

int64_t sys_timerfd_create(uint64_t clock, uint64_t flags, uint64_t, uint64_t, uint64_t, uint64_t) {
    clock &= 0xffffffff;
    flags &= 0xffffffff;
    if (!clock_ok(clock) || (flags & ~(TFD_CLOEXEC | TFD_NONBLOCK))) return -EINVAL;
    auto* t = static_cast<TimerFd*>(kmalloc(sizeof(TimerFd)));
    if (!t) return -ENOMEM;
    t->clock = clock;
    const uint32_t fl = static_cast<uint32_t>(O_RDWR | (flags & TFD_NONBLOCK));
    const int64_t fd = anon_fd(0600, &kTimerFdOps, fl, t, flags & TFD_CLOEXEC, nullptr);
    if (fd < 0) kfree(t);
    return fd;
}

int64_t sys_timerfd_settime(uint64_t fd, uint64_t flags, uint64_t unew, uint64_t uold, uint64_t,
                            uint64_t) {
    TimerFd* t;
    if (int64_t r = get_timer(fd, &t); r < 0) return r;
    flags &= 0xffffffff;
    if (flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)) return -EINVAL;
    linux_itimerspec its;
    if (copy_from_user(&its, unew, sizeof its) < 0) return -EFAULT;
    if (!valid(its.it_interval) || !valid(its.it_value)) return -EINVAL;
    if (uold) {
        if (int64_t r = put_setting(t, uold); r < 0) return r;
    }
    constexpr int64_t kMaxSec = 4000000000ll;  // keeps every sum below 2^63
    auto to_ns = [](const linux_timespec& ts) {
        return ts.tv_sec >= kMaxSec ? static_cast<uint64_t>(kMaxSec) * 1000000000ull
                                    : static_cast<uint64_t>(ts.tv_sec) * 1000000000ull +
                                          static_cast<uint64_t>(ts.tv_nsec);
    };
    const uint64_t value = to_ns(its.it_value);
    t->interval = to_ns(its.it_interval);
    t->ticks = 0;
    t->gen++;
    if (value == 0) {
        t->next = 0;
        return 0;
    }
    const uint64_t now = monotonic_ns();
    if (!(flags & TFD_TIMER_ABSTIME)) {
        t->next = now + value;
    } else if (is_realtime(t->clock)) {
        const int64_t rel = static_cast<int64_t>(value) - realtime_ns();
        t->next = rel > 0 ? now + static_cast<uint64_t>(rel) : now;
    } else {
        t->next = value;
    }
    if (t->next == 0) t->next = 1;  // 0 means disarmed; an expiry at time 0 is in the past
    return 0;
}

int64_t sys_timerfd_gettime(uint64_t fd, uint64_t uout, uint64_t, uint64_t, uint64_t, uint64_t) {
    TimerFd* t;
    if (int64_t r = get_timer(fd, &t); r < 0) return r;
    return put_setting(t, uout);
}

}  // namespace

bool is_timerfd(const File* f) { return f->ops == &kTimerFdOps; }
uint64_t timerfd_gen(File* f) {
    if (!is_timerfd(f)) return 0;
    advance(tfd_of(f));
    return tfd_of(f)->gen;
}
uint64_t timerfd_deadline(File* f) { return is_timerfd(f) ? tfd_of(f)->next : 0; }

void register_timerfd_syscalls() {
    syscall_register(nr::timerfd_create, "timerfd_create", sys_timerfd_create);
    syscall_register(nr::timerfd_settime, "timerfd_settime", sys_timerfd_settime);
    syscall_register(nr::timerfd_gettime, "timerfd_gettime", sys_timerfd_gettime);
}

}  // namespace k::net
