// signalfd.cpp - signalfd and signalfd4: the signals of a mask, pending for
// the reading thread, read as struct signalfd_siginfo records instead of
// being delivered (the program blocks them, as on Linux). poll/epoll see
// the file readable while one of them is pending; every signal sent bumps
// the file's generation and wakes waiters on host events to re-check.
#include "net/net.h"

namespace k::net {

namespace {

constexpr uint64_t kSfdCloexec = 02000000, kSfdNonblock = 04000;
constexpr uint64_t kUnblockable = sigbit(kSigKill) | sigbit(kSigStop);

struct SignalFd {
    uint64_t mask;
};

SignalFd* sfd_of(File* f) { return static_cast<SignalFd*>(f->priv); }

// struct signalfd_siginfo (128 bytes).
struct SfdInfo {
    uint32_t signo;
    int32_t err, code;
    uint32_t pid, uid;
    int32_t fd;
    uint32_t tid, band, overrun, trapno;
    int32_t status, int_;
    uint64_t ptr, utime, stime, addr;
    uint16_t addr_lsb;
    uint8_t pad[46];
};
static_assert(sizeof(SfdInfo) == 128, "struct signalfd_siginfo");

// The union of the siginfo as Linux's signalfd_copyinfo lays it out.
SfdInfo to_sfd(const SigInfo& i) {
    SfdInfo o{};
    o.signo = static_cast<uint32_t>(i.signo);
    o.err = i.err;
    o.code = i.code;
    const uint32_t lo = static_cast<uint32_t>(i.f[0]), hi = static_cast<uint32_t>(i.f[0] >> 32);
    const bool fault =
        i.code > 0 && i.code < 0x80 &&
        (i.signo == 4 || i.signo == 5 || i.signo == 7 || i.signo == 8 || i.signo == 11);
    if (fault) {
        o.addr = i.f[0];
    } else if (i.code == -2) {  // SI_TIMER
        o.tid = lo;
        o.overrun = hi;
        o.int_ = static_cast<int32_t>(i.f[1]);
        o.ptr = i.f[1];
    } else {  // kill, tkill, sigqueue
        o.pid = lo;
        o.uid = hi;
        o.int_ = static_cast<int32_t>(i.f[1]);
        o.ptr = i.f[1];
    }
    return o;
}

int64_t sfd_read(File* f, void* buf, uint64_t len, uint64_t*) {
    const uint64_t mask = sfd_of(f)->mask;
    if (len < sizeof(SfdInfo)) return -EINVAL;
    auto* out = static_cast<uint8_t*>(buf);
    uint64_t done = 0;
    while (len - done >= sizeof(SfdInfo)) {
        // Only the first record may wait (a blocking read), and only for
        // a signal of the mask; another signal interrupts it.
        if ((done || (f->flags & O_NONBLOCK)) && !signal_pending_in(mask)) break;
        SigInfo info;
        const int64_t sig = signal_wait(mask, 0, &info);
        if (sig < 0) return sig;
        const SfdInfo o = to_sfd(info);
        memcpy(out + done, &o, sizeof o);
        done += sizeof o;
    }
    return done ? static_cast<int64_t>(done) : -EAGAIN;
}

uint32_t sfd_poll(File* f) { return signal_pending_in(sfd_of(f)->mask) ? POLLIN | POLLRDNORM : 0; }

void sfd_release(File* f) { kfree(f->priv); }

const fs::FileOps kSignalFdOps = {sfd_read, nullptr, nullptr, sfd_poll, sfd_release, false};

int64_t sys_signalfd4(uint64_t fd, uint64_t umask, uint64_t size, uint64_t flags, uint64_t,
                      uint64_t) {
    if (flags & ~(kSfdCloexec | kSfdNonblock)) return -EINVAL;
    if (size != 8) return -EINVAL;
    uint64_t mask;
    if (get_user(&mask, umask) < 0) return -EFAULT;
    mask &= ~kUnblockable;
    if (static_cast<int32_t>(fd) != -1) {
        File* f = fs::fd_get(fd_arg(fd));
        if (!f) return -EBADF;
        if (f->ops != &kSignalFdOps) return -EINVAL;
        sfd_of(f)->mask = mask;
        return static_cast<int32_t>(fd);
    }
    auto* s = static_cast<SignalFd*>(kmalloc(sizeof(SignalFd)));
    if (!s) return -ENOMEM;
    s->mask = mask;
    const uint32_t fl = static_cast<uint32_t>(O_RDWR | (flags & kSfdNonblock));
    const int64_t nfd = anon_fd(0600, &kSignalFdOps, fl, s, flags & kSfdCloexec, nullptr);
    if (nfd < 0) kfree(s);
    return nfd;
}

int64_t sys_signalfd(uint64_t fd, uint64_t umask, uint64_t size, uint64_t, uint64_t, uint64_t) {
    return sys_signalfd4(fd, umask, size, 0, 0, 0);
}

}  // namespace

bool is_signalfd(const File* f) { return f->ops == &kSignalFdOps; }

void register_signalfd_syscalls() {
    syscall_register(nr::signalfd, "signalfd", sys_signalfd);
    syscall_register(nr::signalfd4, "signalfd4", sys_signalfd4);
}

}  // namespace k::net
