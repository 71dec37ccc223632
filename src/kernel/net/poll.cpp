// poll.cpp - poll, ppoll, select and pselect6 over every kind of fd.
//
// Readiness is evaluated by asking each file (file_poll); when nothing is
// ready the call waits for what could change that: host events for sockets
// and stdin, the earliest timerfd expiry, and the call's own timeout. A set
// that nothing could ever make ready (only pipes and eventfds, no timeout)
// fails with -EDEADLK instead of hanging, like the fs layer's pipes. Signals
// are never delivered, so the sigmask arguments are accepted and ignored.
#include "net/net.h"

namespace k::net {

namespace {

constexpr uint64_t kFastFds = 64;
constexpr int64_t kInfinite = -1;

// Remaining time of a deadline for the "timeout is updated" calls.
int64_t remaining_ns(uint64_t deadline) {
    const uint64_t now = monotonic_ns();
    return deadline > now ? static_cast<int64_t>(deadline - now) : 0;
}

int64_t do_poll(uint64_t ufds, uint64_t nfds, int64_t timeout_ns, uint64_t* deadline) {
    if (nfds > static_cast<uint64_t>(fs::kMaxFds)) return -EINVAL;
    linux_pollfd fast[kFastFds];
    linux_pollfd* p = fast;
    if (nfds > kFastFds) {
        p = static_cast<linux_pollfd*>(kcalloc(nfds, sizeof(linux_pollfd)));
        if (!p) return -ENOMEM;
    }
    int64_t r = copy_from_user(p, ufds, nfds * sizeof(linux_pollfd));
    if (r == 0) {
        r = wait_ready(timeout_ns, deadline, [&](WakeSet* w) {
            int64_t count = 0;
            for (uint64_t i = 0; i < nfds; i++) {
                p[i].revents = 0;
                if (p[i].fd < 0) continue;
                File* f = fs::fd_get(p[i].fd);
                uint32_t m;
                if (!f) {
                    m = POLLNVAL;
                } else {
                    const uint32_t want = static_cast<uint16_t>(p[i].events) | POLLERR | POLLHUP;
                    m = file_poll(f) & want;
                    file_wake_sources(f, w, 0);
                }
                p[i].revents = static_cast<int16_t>(m);
                if (m) count++;
            }
            return count;
        });
    }
    if (r >= 0 && copy_to_user(ufds, p, nfds * sizeof(linux_pollfd)) < 0) r = -EFAULT;
    if (p != fast) kfree(p);
    return r;
}

int64_t sys_poll(uint64_t ufds, uint64_t nfds, uint64_t timeout_ms, uint64_t, uint64_t, uint64_t) {
    const auto ms = static_cast<int32_t>(timeout_ms);
    uint64_t deadline;
    return do_poll(ufds, nfds, ms < 0 ? kInfinite : ms * 1000000ll, &deadline);
}

int64_t sys_ppoll(uint64_t ufds, uint64_t nfds, uint64_t uts, uint64_t, uint64_t, uint64_t) {
    int64_t ns = kInfinite;
    if (uts) {
        if (int64_t r = timespec_in(uts, &ns); r < 0) return r;
    }
    uint64_t deadline;
    const int64_t r = do_poll(ufds, nfds, ns, &deadline);
    if (r >= 0 && uts && ns > 0) {
        const int64_t left = r == 0 ? 0 : remaining_ns(deadline);
        linux_timespec ts{left / 1000000000, left % 1000000000};
        (void)put_user(uts, ts);  // Linux ignores a failure here too
    }
    return r;
}

// ---- select -------------------------------------------------------------------------

constexpr uint32_t kSelIn = POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR;
constexpr uint32_t kSelOut = POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR;
constexpr uint32_t kSelEx = POLLPRI;
constexpr uint64_t kSetWords = fs::kMaxFds / 64;

int64_t do_select(uint64_t nfds, uint64_t urd, uint64_t uwr, uint64_t uex, int64_t timeout_ns,
                  uint64_t* deadline) {
    if (static_cast<int32_t>(nfds) < 0) return -EINVAL;
    nfds &= 0xffffffff;
    if (nfds > static_cast<uint64_t>(fs::kMaxFds)) nfds = fs::kMaxFds;
    const uint64_t words = (nfds + 63) / 64, bytes = (nfds + 7) / 8;
    uint64_t in[3][kSetWords] = {}, out[3][kSetWords];
    const uint64_t uset[3] = {urd, uwr, uex};
    for (int k = 0; k < 3; k++)
        if (uset[k] && copy_from_user(in[k], uset[k], bytes) < 0) return -EFAULT;
    // Bits past nfds in the last byte are ignored.
    if (nfds % 64)
        for (auto& set : in) set[words - 1] &= (1ull << (nfds % 64)) - 1;
    for (uint64_t fd = 0; fd < nfds; fd++) {
        const bool any = ((in[0][fd / 64] | in[1][fd / 64] | in[2][fd / 64]) >> (fd % 64)) & 1;
        if (any && !fs::fd_get(static_cast<int64_t>(fd))) return -EBADF;
    }
    int64_t r = wait_ready(timeout_ns, deadline, [&](WakeSet* w) {
        int64_t count = 0;
        for (auto& set : out)
            for (uint64_t i = 0; i < words; i++) set[i] = 0;
        for (uint64_t i = 0; i < words; i++) {
            const uint64_t want = in[0][i] | in[1][i] | in[2][i];
            for (uint64_t bits = want; bits; bits &= bits - 1) {
                const uint64_t fd = i * 64 + static_cast<uint64_t>(__builtin_ctzll(bits));
                const uint64_t bit = 1ull << (fd % 64);
                File* f = fs::fd_get(static_cast<int64_t>(fd));
                const uint32_t m = file_poll(f);
                file_wake_sources(f, w, 0);
                const uint32_t mask[3] = {kSelIn, kSelOut, kSelEx};
                for (int k = 0; k < 3; k++) {
                    if ((in[k][i] & bit) && (m & mask[k])) {
                        out[k][i] |= bit;
                        count++;
                    }
                }
            }
        }
        return count;
    });
    if (r < 0) return r;
    for (int k = 0; k < 3; k++)
        if (uset[k] && copy_to_user(uset[k], out[k], bytes) < 0) return -EFAULT;
    return r;
}

int64_t sys_select(uint64_t nfds, uint64_t rd, uint64_t wr, uint64_t ex, uint64_t utv, uint64_t) {
    int64_t ns = kInfinite;
    linux_timeval tv;
    if (utv) {
        if (copy_from_user(&tv, utv, sizeof tv) < 0) return -EFAULT;
        if (tv.tv_sec < 0 || tv.tv_usec < 0) return -EINVAL;
        // Linux normalises large tv_usec values instead of failing.
        ns = tv.tv_sec >= 4000000000ll || tv.tv_usec >= 4000000000000000ll
                 ? INT64_MAX
                 : tv.tv_sec * 1000000000ll + tv.tv_usec * 1000;
    }
    uint64_t deadline;
    const int64_t r = do_select(nfds, rd, wr, ex, ns, &deadline);
    if (r >= 0 && utv && ns > 0) {
        const int64_t left = r == 0 ? 0 : remaining_ns(deadline);
        tv = {left / 1000000000, (left % 1000000000) / 1000};
        (void)put_user(utv, tv);  // as in ppoll
    }
    return r;
}

int64_t sys_pselect6(uint64_t nfds, uint64_t rd, uint64_t wr, uint64_t ex, uint64_t uts, uint64_t) {
    int64_t ns = kInfinite;
    if (uts) {
        if (int64_t r = timespec_in(uts, &ns); r < 0) return r;
    }
    uint64_t deadline;
    const int64_t r = do_select(nfds, rd, wr, ex, ns, &deadline);
    if (r >= 0 && uts && ns > 0) {
        const int64_t left = r == 0 ? 0 : remaining_ns(deadline);
        linux_timespec ts{left / 1000000000, left % 1000000000};
        (void)put_user(uts, ts);  // as in ppoll
    }
    return r;
}

}  // namespace

void register_poll_syscalls() {
    syscall_register(nr::poll, "poll", sys_poll);
    syscall_register(nr::ppoll, "ppoll", sys_ppoll);
    syscall_register(nr::select, "select", sys_select);
    syscall_register(nr::pselect6, "pselect6", sys_pselect6);
}

}  // namespace k::net
