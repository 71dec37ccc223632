// eventfd.cpp - eventfd and eventfd2: a 64-bit counter as a file.
//
// Only the application itself can change the counter, so a blocking read of
// a zero counter (or a write that would overflow it) could never complete:
// it fails with -EDEADLK, like a pipe's, instead of hanging.
#include "net/net.h"

namespace k::net {

namespace {

constexpr uint64_t kMax = 0xfffffffffffffffeull;

struct EventFd {
    uint64_t count;
    uint64_t gen;
    bool semaphore;
};

EventFd* efd_of(File* f);

int64_t efd_read(File* f, void* buf, uint64_t len, uint64_t*) {
    EventFd* e = efd_of(f);
    if (len < sizeof(uint64_t)) return -EINVAL;
    if (e->count == 0) return (f->flags & O_NONBLOCK) ? -EAGAIN : would_block();
    const uint64_t v = e->semaphore ? 1 : e->count;
    e->count -= v;
    e->gen++;
    memcpy(buf, &v, sizeof v);
    return sizeof v;
}

int64_t efd_write(File* f, const void* buf, uint64_t len, uint64_t*) {
    EventFd* e = efd_of(f);
    if (len < sizeof(uint64_t)) return -EINVAL;
    uint64_t v;
    memcpy(&v, buf, sizeof v);
    if (v == ~0ull) return -EINVAL;
    if (v > kMax - e->count) return (f->flags & O_NONBLOCK) ? -EAGAIN : would_block();
    e->count += v;
    if (v) e->gen++;
    return sizeof v;
}

uint32_t efd_poll(File* f) {
    EventFd* e = efd_of(f);
    uint32_t m = 0;
    if (e->count > 0) m |= POLLIN | POLLRDNORM;
    if (e->count < kMax) m |= POLLOUT | POLLWRNORM;
    return m;
}

int64_t efd_ioctl(File* f, uint64_t cmd, uint64_t arg) {
    if (cmd != FIONREAD) return -ENOTTY;
    const int32_t n = efd_of(f)->count ? static_cast<int32_t>(sizeof(uint64_t)) : 0;
    return copy_to_user(arg, &n, sizeof n);
}

void efd_release(File* f) { kfree(f->priv); }

const fs::FileOps kEventFdOps = {efd_read,    efd_write, efd_ioctl,  efd_poll,
                                 efd_release, false,     "[eventfd]"};

EventFd* efd_of(File* f) { return static_cast<EventFd*>(f->priv); }

int64_t sys_eventfd2(uint64_t initval, uint64_t flags, uint64_t, uint64_t, uint64_t, uint64_t) {
    flags &= 0xffffffff;
    if (flags & ~(EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK)) return -EINVAL;
    auto* e = static_cast<EventFd*>(kmalloc(sizeof(EventFd)));
    if (!e) return -ENOMEM;
    e->count = initval & 0xffffffff;  // the C prototype takes an unsigned int
    e->semaphore = flags & EFD_SEMAPHORE;
    const uint32_t fl = static_cast<uint32_t>(O_RDWR | (flags & EFD_NONBLOCK));
    const int64_t fd = anon_fd(0600, &kEventFdOps, fl, e, flags & EFD_CLOEXEC, nullptr);
    if (fd < 0) kfree(e);
    return fd;
}

int64_t sys_eventfd(uint64_t initval, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_eventfd2(initval, 0, 0, 0, 0, 0);
}

}  // namespace

bool is_eventfd(const File* f) { return f->ops == &kEventFdOps; }
uint64_t eventfd_gen(File* f) { return is_eventfd(f) ? efd_of(f)->gen : 0; }

void register_eventfd_syscalls() {
    syscall_register(nr::eventfd, "eventfd", sys_eventfd);
    syscall_register(nr::eventfd2, "eventfd2", sys_eventfd2);
}

}  // namespace k::net
