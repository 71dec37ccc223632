// sys_fd.cpp - fd-table syscalls: close, dup, fcntl, ioctl, pipe, flock.
#include "fs/syscalls.h"

namespace k::fs {

namespace {

int64_t sys_close(uint64_t fd, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return fd_close(fd_arg(fd));
}

int64_t sys_close_range(uint64_t first, uint64_t last, uint64_t flags, uint64_t, uint64_t,
                        uint64_t) {
    first &= 0xffffffff;
    last &= 0xffffffff;
    if (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) return -EINVAL;
    if (first > last) return -EINVAL;
    for (uint64_t fd = first; fd <= last && fd < static_cast<uint64_t>(kMaxFds); fd++) {
        if (!fd_get(static_cast<int64_t>(fd))) continue;
        if (flags & CLOSE_RANGE_CLOEXEC)
            fd_set_cloexec(static_cast<int64_t>(fd), true);
        else
            fd_close(static_cast<int64_t>(fd));
    }
    return 0;
}

int64_t dup_min(File* f, int64_t min_fd, bool cloexec) {
    file_get(f);
    int64_t r = fd_install(f, min_fd, cloexec);
    if (r < 0) file_put(f);
    return r;
}

int64_t sys_dup(uint64_t fd, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    File* f = fd_get(fd_arg(fd));
    return f ? dup_min(f, 0, false) : -EBADF;
}

int64_t sys_dup2(uint64_t oldfd, uint64_t newfd, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (!fd_get(fd_arg(oldfd))) return -EBADF;
    if (fd_arg(oldfd) == fd_arg(newfd)) return fd_arg(newfd);
    return fd_dup_to(fd_arg(oldfd), fd_arg(newfd), false);
}

int64_t sys_dup3(uint64_t oldfd, uint64_t newfd, uint64_t flags, uint64_t, uint64_t, uint64_t) {
    if (flags & ~O_CLOEXEC) return -EINVAL;
    if (fd_arg(oldfd) == fd_arg(newfd)) return -EINVAL;
    return fd_dup_to(fd_arg(oldfd), fd_arg(newfd), (flags & O_CLOEXEC) != 0);
}

int64_t sys_fcntl(uint64_t fd_, uint64_t cmd, uint64_t arg, uint64_t, uint64_t, uint64_t) {
    int64_t fd = fd_arg(fd_);
    File* f = fd_get(fd);
    if (!f) return -EBADF;
    bool path_only = (f->flags & O_PATH) != 0;
    switch (cmd) {
        case F_DUPFD:
        case F_DUPFD_CLOEXEC: {
            auto min_fd = static_cast<int64_t>(static_cast<int32_t>(arg));
            if (min_fd < 0 || min_fd >= kMaxFds) return -EINVAL;
            return dup_min(f, min_fd, cmd == F_DUPFD_CLOEXEC);
        }
        case F_GETFD:
            return fd_cloexec(fd) ? static_cast<int64_t>(FD_CLOEXEC) : 0;
        case F_SETFD:
            fd_set_cloexec(fd, (arg & FD_CLOEXEC) != 0);
            return 0;
        case F_GETFL:
            return f->flags;
        case F_SETFL: {
            if (path_only) return -EBADF;
            auto mask =
                static_cast<uint32_t>(O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME);
            f->flags = (f->flags & ~mask) | (static_cast<uint32_t>(arg) & mask);
            return 0;
        }
        case F_GETLK:
        case F_SETLK:
        case F_SETLKW:
        case F_OFD_GETLK:
        case F_OFD_SETLK:
        case F_OFD_SETLKW:
            if (path_only) return -EBADF;
            return lock_fcntl(f, cmd, arg);  // lock.cpp
        // The owner that O_ASYNC would signal. Ember does not send SIGIO
        // (nothing it runs needs it: nginx sets it on its channels and
        // reads them with epoll); the owner is kept and reported.
        case F_SETOWN:
            if (path_only) return -EBADF;
            f->owner = static_cast<int32_t>(arg);
            f->owner_tid = 0;
            return 0;
        case F_GETOWN:
            return f->owner_tid ? f->owner_tid : f->owner;
        case F_SETOWN_EX: {
            linux_f_owner_ex ex{};
            if (copy_from_user(&ex, arg, sizeof ex) < 0) return -EFAULT;
            if (ex.type < F_OWNER_TID || ex.type > F_OWNER_PGRP || ex.pid < 0) return -EINVAL;
            f->owner = ex.type == F_OWNER_PGRP ? -ex.pid : (ex.type == F_OWNER_PID ? ex.pid : 0);
            f->owner_tid = ex.type == F_OWNER_TID ? ex.pid : 0;
            return 0;
        }
        case F_GETOWN_EX: {
            linux_f_owner_ex ex{};
            ex.type = f->owner_tid ? F_OWNER_TID : (f->owner < 0 ? F_OWNER_PGRP : F_OWNER_PID);
            ex.pid = f->owner_tid ? f->owner_tid : (f->owner < 0 ? -f->owner : f->owner);
            return copy_to_user(arg, &ex, sizeof ex);
        }
        case F_GETPIPE_SZ:
            return f->inode->special == Special::kPipe ? static_cast<int64_t>(kPipeSize) : -EBADF;
        case F_SETPIPE_SZ:
            if (f->inode->special != Special::kPipe) return -EBADF;
            // The ring has a fixed size; smaller requests keep it.
            return arg <= kPipeSize ? static_cast<int64_t>(kPipeSize) : -EPERM;
        default:
            return -EINVAL;
    }
}

int64_t sys_ioctl(uint64_t fd_, uint64_t cmd, uint64_t arg, uint64_t, uint64_t, uint64_t) {
    int64_t fd = fd_arg(fd_);
    File* f = fd_get(fd);
    if (!f || (f->flags & O_PATH)) return -EBADF;
    cmd &= 0xffffffff;
    switch (cmd) {
        case FIOCLEX:
        case FIONCLEX:
            fd_set_cloexec(fd, cmd == FIOCLEX);
            return 0;
        case FIONBIO:
        case FIOASYNC: {
            int32_t on;
            if (copy_from_user(&on, arg, sizeof on) < 0) return -EFAULT;
            uint32_t bit = static_cast<uint32_t>(cmd == FIONBIO ? O_NONBLOCK : O_ASYNC);
            f->flags = on ? f->flags | bit : f->flags & ~bit;
            return 0;
        }
        default:
            // Nothing is a terminal, so TCGETS and TIOCGWINSZ end up here too.
            return f->ops->ioctl ? f->ops->ioctl(f, cmd, arg) : -ENOTTY;
    }
}

int64_t sys_pipe2(uint64_t ufds, uint64_t flags, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT)) return -EINVAL;
    if (!user_ok_write(ufds, 2 * sizeof(int32_t))) return -EFAULT;
    File *rd, *wr;
    if (int64_t r = pipe_create(static_cast<uint32_t>(flags), &rd, &wr); r < 0) return r;
    bool cloexec = (flags & O_CLOEXEC) != 0;
    int64_t a = fd_install(rd, 0, cloexec);
    if (a < 0) {
        file_put(rd);
        file_put(wr);
        return a;
    }
    int64_t b = fd_install(wr, 0, cloexec);
    if (b < 0) {
        fd_close(a);
        file_put(wr);
        return b;
    }
    const int32_t fds[2] = {static_cast<int32_t>(a), static_cast<int32_t>(b)};
    if (copy_to_user(ufds, fds, sizeof fds) < 0) {  // checked above: cannot happen today
        fd_close(a);
        fd_close(b);
        return -EFAULT;
    }
    return 0;
}

int64_t sys_pipe(uint64_t ufds, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_pipe2(ufds, 0, 0, 0, 0, 0);
}

int64_t sys_flock(uint64_t fd, uint64_t op, uint64_t, uint64_t, uint64_t, uint64_t) {
    File* f = fd_get(fd_arg(fd));
    if (!f || (f->flags & O_PATH)) return -EBADF;
    return lock_flock(f, op);
}

}  // namespace

void register_fd_syscalls() {
    syscall_register(nr::close, "close", sys_close);
    syscall_register(nr::close_range, "close_range", sys_close_range);
    syscall_register(nr::dup, "dup", sys_dup);
    syscall_register(nr::dup2, "dup2", sys_dup2);
    syscall_register(nr::dup3, "dup3", sys_dup3);
    syscall_register(nr::fcntl, "fcntl", sys_fcntl);
    syscall_register(nr::ioctl, "ioctl", sys_ioctl);
    syscall_register(nr::pipe, "pipe", sys_pipe);
    syscall_register(nr::pipe2, "pipe2", sys_pipe2);
    syscall_register(nr::flock, "flock", sys_flock);
}

}  // namespace k::fs
