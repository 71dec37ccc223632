// epoll.cpp - epoll instances: interest lists evaluated by polling.
//
// There are no wake-up callbacks in this kernel: epoll_wait asks every
// registered file for its readiness (file_poll), as poll does. Level-
// triggered items report whenever they are ready. Edge-triggered items
// report when their poll mask gains a bit, or when the file's generation
// (file_gen: bumped by sockets, eventfds and timerfds whenever new data or
// state arrives) moved since the item was last looked at - which is what
// Linux's wake-ups amount to. EPOLLONESHOT disables an item after one report
// until EPOLL_CTL_MOD. Items are keyed by (file, fd) like Linux, and vanish
// when their file is freed (fs::file_release_hook).
#include "net/net.h"

namespace k::net {

namespace {

constexpr uint32_t kBuckets = 256;
constexpr int kMaxNest = 4;  // EP_MAX_NESTS
constexpr uint32_t kAlways = EPOLLERR | EPOLLHUP;
constexpr uint32_t kFlagBits = EPOLLET | EPOLLONESHOT | EPOLLWAKEUP | EPOLLEXCLUSIVE;

struct EpItem {
    EpItem* hnext;  // bucket chain
    EpItem* next;   // the interest list, in report order
    EpItem* prev;
    File* file;
    int32_t fd;
    uint32_t events;  // as requested, with kAlways added
    uint64_t data;
    bool disabled;       // EPOLLONESHOT fired
    uint32_t last_mask;  // edge-triggered: mask at the last evaluation
    uint64_t last_gen;   // edge-triggered: generation at the last evaluation
};

struct Epoll {
    Epoll* all_next;  // every epoll instance (epoll_forget walks them)
    Epoll* all_prev;
    EpItem* first;
    EpItem* last;
    uint32_t count;
    uint64_t gen;
    EpItem* buckets[kBuckets];
};

Epoll* g_epolls;
int g_depth;  // nesting of epoll_poll_op (an epoll inside an epoll)

uint32_t hash(const File* f) {
    return static_cast<uint32_t>((reinterpret_cast<uintptr_t>(f) >> 4) % kBuckets);
}

Epoll* ep_of(File* f);

EpItem* find(Epoll* ep, File* f, int32_t fd) {
    for (EpItem* it = ep->buckets[hash(f)]; it; it = it->hnext)
        if (it->file == f && it->fd == fd) return it;
    return nullptr;
}

void list_unlink(Epoll* ep, EpItem* it) {
    (it->prev ? it->prev->next : ep->first) = it->next;
    (it->next ? it->next->prev : ep->last) = it->prev;
    it->next = it->prev = nullptr;
}

void list_append(Epoll* ep, EpItem* it) {
    it->prev = ep->last;
    it->next = nullptr;
    (ep->last ? ep->last->next : ep->first) = it;
    ep->last = it;
}

void remove(Epoll* ep, EpItem* it) {
    for (EpItem** p = &ep->buckets[hash(it->file)]; *p; p = &(*p)->hnext) {
        if (*p == it) {
            *p = it->hnext;
            break;
        }
    }
    list_unlink(ep, it);
    ep->count--;
    ep->gen++;
    kfree(it);
}

// The events an item would report now (0: none). With commit, an edge-
// triggered item's state advances and a one-shot item is disabled.
uint32_t evaluate(EpItem* it, bool commit) {
    if (it->disabled) return 0;
    const uint32_t m = file_poll(it->file) & (it->events & ~kFlagBits);
    uint32_t report = m;
    if (it->events & EPOLLET) {
        const uint64_t gen = file_gen(it->file);
        if (!(m & ~it->last_mask) && gen == it->last_gen) report = 0;
        if (commit) {
            it->last_mask = m;
            it->last_gen = gen;
        }
    }
    if (report && commit && (it->events & EPOLLONESHOT)) it->disabled = true;
    return report;
}

// Would adding `target` to `ep` close a loop of epolls?
bool reaches(File* target, const Epoll* ep, int depth) {
    Epoll* t = ep_of(target);
    if (!t) return false;
    if (t == ep || depth >= kMaxNest) return true;
    for (EpItem* it = t->first; it; it = it->next)
        if (reaches(it->file, ep, depth + 1)) return true;
    return false;
}

// ---- the file ops --------------------------------------------------------------

uint32_t epoll_poll_op(File* f) {
    Epoll* ep = ep_of(f);
    if (g_depth >= kMaxNest) return 0;
    g_depth++;
    uint32_t r = 0;
    for (EpItem* it = ep->first; it && !r; it = it->next)
        if (evaluate(it, false)) r = POLLIN | POLLRDNORM;
    g_depth--;
    return r;
}

void epoll_release_op(File* f) {
    Epoll* ep = ep_of(f);
    if (!ep) return;
    while (ep->first) remove(ep, ep->first);
    (ep->all_prev ? ep->all_prev->all_next : g_epolls) = ep->all_next;
    if (ep->all_next) ep->all_next->all_prev = ep->all_prev;
    kfree(ep);
}

const fs::FileOps kEpollOps = {nullptr,          nullptr, nullptr,      epoll_poll_op,
                               epoll_release_op, false,   "[eventpoll]"};

Epoll* ep_of(File* f) { return f->ops == &kEpollOps ? static_cast<Epoll*>(f->priv) : nullptr; }

// ---- syscalls ---------------------------------------------------------------------

int64_t do_create(uint64_t flags) {
    if (flags & ~EPOLL_CLOEXEC) return -EINVAL;
    auto* ep = static_cast<Epoll*>(kmalloc(sizeof(Epoll)));
    if (!ep) return -ENOMEM;
    const int64_t fd = anon_fd(0600, &kEpollOps, static_cast<uint32_t>(O_RDWR), ep,
                               flags & EPOLL_CLOEXEC, nullptr);
    if (fd < 0) {
        kfree(ep);
        return fd;
    }
    ep->all_next = g_epolls;
    if (g_epolls) g_epolls->all_prev = ep;
    g_epolls = ep;
    return fd;
}

int64_t sys_epoll_create(uint64_t size, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return static_cast<int32_t>(size) <= 0 ? -EINVAL : do_create(0);
}
int64_t sys_epoll_create1(uint64_t flags, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return do_create(flags & 0xffffffff);
}

int64_t sys_epoll_ctl(uint64_t epfd, uint64_t op, uint64_t fd_, uint64_t uev, uint64_t, uint64_t) {
    File* ef = fs::fd_get(fd_arg(epfd));
    const int64_t fd = fd_arg(fd_);
    File* f = fs::fd_get(fd);
    if (!ef || !f) return -EBADF;
    Epoll* ep = ep_of(ef);
    if (!ep || f == ef) return -EINVAL;
    // Regular files and directories are always ready: Linux refuses them.
    if (fs::is_reg(f->inode) || fs::is_dir(f->inode)) return -EPERM;
    linux_epoll_event ev{};
    op &= 0xffffffff;
    if (op != EPOLL_CTL_DEL && copy_from_user(&ev, uev, sizeof ev) < 0) return -EFAULT;
    EpItem* it = find(ep, f, static_cast<int32_t>(fd));
    switch (op) {
        case EPOLL_CTL_ADD: {
            if (it) return -EEXIST;
            if ((ev.events & EPOLLEXCLUSIVE) && ep_of(f)) return -EINVAL;
            if (reaches(f, ep, 0)) return -ELOOP;
            it = static_cast<EpItem*>(kmalloc(sizeof(EpItem)));
            if (!it) return -ENOMEM;
            it->file = f;
            it->fd = static_cast<int32_t>(fd);
            it->events = ev.events | kAlways;
            it->data = ev.data;
            it->hnext = ep->buckets[hash(f)];
            ep->buckets[hash(f)] = it;
            list_append(ep, it);
            ep->count++;
            ep->gen++;
            return 0;
        }
        case EPOLL_CTL_MOD:
            if (!it) return -ENOENT;
            if ((ev.events | it->events) & EPOLLEXCLUSIVE) return -EINVAL;
            it->events = ev.events | kAlways;
            it->data = ev.data;
            it->disabled = false;
            it->last_mask = 0;  // report again if ready, as Linux does on MOD
            ep->gen++;
            return 0;
        case EPOLL_CTL_DEL:
            if (!it) return -ENOENT;
            remove(ep, it);
            return 0;
        default:
            return -EINVAL;
    }
}

int64_t do_wait(uint64_t epfd, uint64_t uevents, uint64_t maxevents, int64_t timeout_ns) {
    File* ef = fs::fd_get(fd_arg(epfd));
    if (!ef) return -EBADF;
    Epoll* ep = ep_of(ef);
    if (!ep) return -EINVAL;
    const auto max = static_cast<int32_t>(maxevents);
    if (max <= 0 || static_cast<uint64_t>(max) > 0x7fffffff / sizeof(linux_epoll_event))
        return -EINVAL;
    auto* out = static_cast<linux_epoll_event*>(
        user_buffer_write(uevents, static_cast<uint64_t>(max) * sizeof(linux_epoll_event)));
    if (!out) return -EFAULT;
    uint64_t deadline;
    return wait_ready(timeout_ns, &deadline, [&](WakeSet* w) {
        int64_t n = 0;
        EpItem* const stop = ep->last;  // reported items move behind it
        for (EpItem* it = ep->first; it && n < max;) {
            EpItem* next = it == stop ? nullptr : it->next;
            const uint32_t m = evaluate(it, true);
            file_wake_sources(it->file, w, 0);
            if (m) {
                out[n].events = m;
                out[n].data = it->data;
                n++;
                // Reported items go to the back, so that a small maxevents
                // cannot starve the others.
                list_unlink(ep, it);
                list_append(ep, it);
            }
            it = next;
        }
        return n;
    });
}

int64_t sys_epoll_wait(uint64_t epfd, uint64_t ev, uint64_t max, uint64_t timeout_ms, uint64_t,
                       uint64_t) {
    const auto ms = static_cast<int32_t>(timeout_ms);
    return do_wait(epfd, ev, max, ms < 0 ? -1 : ms * 1000000ll);
}

int64_t sys_epoll_pwait2(uint64_t epfd, uint64_t ev, uint64_t max, uint64_t uts, uint64_t,
                         uint64_t) {
    int64_t ns = -1;
    if (uts) {
        if (int64_t r = timespec_in(uts, &ns); r < 0) return r;
    }
    return do_wait(epfd, ev, max, ns);
}

}  // namespace

bool is_epoll(const File* f) { return f->ops == &kEpollOps; }

uint64_t epoll_gen(File* f) {
    Epoll* ep = ep_of(f);
    if (!ep) return 0;
    uint64_t g = ep->gen;
    for (EpItem* it = ep->first; it; it = it->next) g += file_gen(it->file);
    return g;
}

void epoll_wake_sources(File* f, WakeSet* w, int depth) {
    Epoll* ep = ep_of(f);
    if (!ep || depth > kMaxNest) return;
    for (EpItem* it = ep->first; it; it = it->next) file_wake_sources(it->file, w, depth);
}

void epoll_forget(File* f) {
    for (Epoll* ep = g_epolls; ep; ep = ep->all_next) {
        for (EpItem* it = ep->buckets[hash(f)]; it;) {
            EpItem* next = it->hnext;
            if (it->file == f) remove(ep, it);
            it = next;
        }
    }
}

void epoll_reset() { g_epolls = nullptr; }

void register_epoll_syscalls() {
    syscall_register(nr::epoll_create, "epoll_create", sys_epoll_create);
    syscall_register(nr::epoll_create1, "epoll_create1", sys_epoll_create1);
    syscall_register(nr::epoll_ctl, "epoll_ctl", sys_epoll_ctl);
    syscall_register(nr::epoll_wait, "epoll_wait", sys_epoll_wait);
    // The signal mask of epoll_pwait is irrelevant: no signal is ever delivered.
    syscall_register(nr::epoll_pwait, "epoll_pwait", sys_epoll_wait);
    syscall_register(nr::epoll_pwait2, "epoll_pwait2", sys_epoll_pwait2);
}

}  // namespace k::net
