// wait.cpp - blocking and timeouts for sockets and readiness, the rx
// dispatch loop, and the registration of the net syscalls.
#include "net/net.h"
#include "net/usock.h"
#include "sched/sched.h"

namespace k::net {

namespace {
bool g_warned_block;
}

int64_t would_block() {
    if (!g_warned_block) {
        g_warned_block = true;
        klog("net: blocking call that no other thread or host event can complete: -EDEADLK");
    }
    return -EDEADLK;
}

void net_poll_rx() {
    ember_net_rec rec;
    const uint8_t* payload;
    while (rx_peek(&rec, &payload)) {
        socket_rx(rec, payload);
        rx_consume();
    }
    sockets_tick();
}

bool net_wait(uint32_t events, uint64_t deadline) {
    if (events == 0 && deadline == 0) {
        // Only another thread or process can change what the caller waits
        // for (pipes, guest-local sockets, eventfds): wait for one to act.
        if (block_for_others() == -EDEADLK) return false;
        net_poll_rx();
        return true;
    }
    wait_events(events, deadline);
    net_poll_rx();
    return true;
}

void net_pump(uint32_t events) {
    // A deadline in the past: the VMM collects what its sockets and stdin
    // have now (and drains the tx ring), then returns at once.
    wait_events(events, 1);
    net_poll_rx();
}

uint64_t deadline_after(int64_t ns) {
    if (ns < 0) return 0;
    const uint64_t now = monotonic_ns();
    constexpr uint64_t kFar = ~0ull >> 2;  // ~36 years: "no deadline" in practice
    return static_cast<uint64_t>(ns) >= kFar - now ? kFar : now + static_cast<uint64_t>(ns);
}

int64_t timespec_in(uint64_t uts, int64_t* ns) {
    linux_timespec ts;
    if (copy_from_user(&ts, uts, sizeof ts) < 0) return -EFAULT;
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return -EINVAL;
    *ns = ts.tv_sec >= 9000000000ll ? INT64_MAX : ts.tv_sec * 1000000000ll + ts.tv_nsec;
    return 0;
}

void wake_add_deadline(WakeSet* w, uint64_t deadline) {
    if (deadline && (w->deadline == 0 || deadline < w->deadline)) w->deadline = deadline;
}

void file_wake_sources(File* f, WakeSet* w, int depth) {
    if (is_socket(f)) {
        w->events |= EMBER_WAIT_NET;
    } else if (is_usock(f)) {
        if (usock_of(f)->host_id) w->events |= EMBER_WAIT_NET;  // UDP through the host
    } else if (f->inode->special == fs::Special::kStdin) {
        w->events |= EMBER_WAIT_STDIN;
    } else if (is_timerfd(f)) {
        wake_add_deadline(w, timerfd_deadline(f));
    } else if (is_epoll(f)) {
        epoll_wake_sources(f, w, depth + 1);
    } else if (is_signalfd(f)) {
        wake_add_deadline(w, g_timer_next);  // a timer's signal; other threads' wake us anyway
    }
}

uint64_t file_gen(File* f) {
    if (is_socket(f)) return socket_gen(f);
    if (is_usock(f)) return usock_gen(f);
    if (is_eventfd(f)) return eventfd_gen(f);
    if (is_timerfd(f)) return timerfd_gen(f);
    if (is_epoll(f)) return epoll_gen(f);
    if (is_signalfd(f)) return g_sig_gen;
    return 0;
}

int64_t anon_fd(uint32_t mode, const fs::FileOps* ops, uint32_t flags, void* priv, bool cloexec,
                File** out) {
    fs::Inode* i = fs::inode_new(fs::FsId::kAnon, mode);
    if (!i) return -ENOMEM;
    File* f = fs::file_new(i, ops, flags);
    if (!f) {
        fs::inode_maybe_free(i);
        return -ENOMEM;
    }
    int64_t fd = fs::fd_install(f, 0, cloexec);
    if (fd < 0) {
        fs::file_put(f);  // priv is still null: the release op does nothing
        return fd;
    }
    f->priv = priv;
    if (out) *out = f;
    return fd;
}

}  // namespace k::net

namespace k {

void register_net_syscalls() {
    net::rings_init(reinterpret_cast<void*>(EMBER_GPA_NET_RX), EMBER_NET_RX_SIZE,
                    reinterpret_cast<void*>(EMBER_GPA_NET_TX), EMBER_NET_TX_SIZE);
    net::sockets_reset();
    net::epoll_reset();
    fs::file_release_hook = net::epoll_forget;
    net::register_socket_syscalls();
    net::register_poll_syscalls();
    net::register_epoll_syscalls();
    net::register_eventfd_syscalls();
    net::register_timerfd_syscalls();
    net::register_signalfd_syscalls();
}

}  // namespace k
