// sys_stat.cpp - metadata syscalls: the stat family, access, readlink,
// statfs, chmod/chown/utimes, umask and the (empty) extended attributes.
#include "fs/syscalls.h"
#include "fs/volume.h"

namespace k::fs {

namespace {

constexpr int64_t kNsPerSec = 1000000000;

int64_t path_flags(uint64_t flags, uint64_t allowed, uint32_t* lf) {
    if (flags & ~allowed) return -EINVAL;
    *lf = (flags & AT_SYMLINK_NOFOLLOW) ? 0 : kFollow;
    return 0;
}

int64_t stat_out(const Inode* i, uint64_t ubuf) {
    linux_stat st;
    inode_stat(i, &st);
    return copy_to_user(ubuf, &st, sizeof st);
}

int64_t sys_newfstatat(uint64_t dirfd, uint64_t upath, uint64_t ubuf, uint64_t flags, uint64_t,
                       uint64_t) {
    uint32_t lf;
    if (int64_t r = path_flags(flags, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT, &lf);
        r < 0)
        return r;
    char buf[kPathMax];
    Lookup lk;
    if (int64_t r = at_lookup(fd_arg(dirfd), upath, lf, flags & AT_EMPTY_PATH, buf, &lk); r < 0)
        return r;
    // A volume's names were just asked of the host; "." and fds were not.
    if (is_vol(lk.node) && lk.dot) vol_refresh(lk.node);
    return stat_out(lk.node, ubuf);
}
int64_t sys_stat(uint64_t path, uint64_t buf, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_newfstatat(static_cast<uint64_t>(AT_FDCWD), path, buf, 0, 0, 0);
}
int64_t sys_lstat(uint64_t path, uint64_t buf, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_newfstatat(static_cast<uint64_t>(AT_FDCWD), path, buf, AT_SYMLINK_NOFOLLOW, 0, 0);
}
int64_t sys_fstat(uint64_t fd, uint64_t buf, uint64_t, uint64_t, uint64_t, uint64_t) {
    File* f = fd_get(fd_arg(fd));
    if (f && is_vol(f->inode)) vol_refresh(f->inode);  // size and times are the host's
    return f ? stat_out(f->inode, buf) : -EBADF;
}

int64_t sys_statx(uint64_t dirfd, uint64_t upath, uint64_t flags, uint64_t mask, uint64_t ubuf,
                  uint64_t) {
    uint32_t lf;
    uint64_t allowed = AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE;
    if (int64_t r = path_flags(flags, allowed, &lf); r < 0) return r;
    if ((flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE) return -EINVAL;
    if (mask & STATX__RESERVED) return -EINVAL;
    char buf[kPathMax];
    Lookup lk;
    if (int64_t r = at_lookup(fd_arg(dirfd), upath, lf, flags & AT_EMPTY_PATH, buf, &lk); r < 0)
        return r;
    linux_statx stx;
    if (is_vol(lk.node) && lk.dot) vol_refresh(lk.node);
    inode_statx(lk.node, &stx);
    return copy_to_user(ubuf, &stx, sizeof stx);
}

// We run as root: only read-only file systems and missing execute bits say no.
int64_t sys_faccessat2(uint64_t dirfd, uint64_t upath, uint64_t mode, uint64_t flags, uint64_t,
                       uint64_t) {
    uint32_t lf;
    if (int64_t r = path_flags(flags, AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH, &lf); r < 0)
        return r;
    if (mode & ~(R_OK | W_OK | X_OK)) return -EINVAL;
    char buf[kPathMax];
    Lookup lk;
    if (int64_t r = at_lookup(fd_arg(dirfd), upath, lf, flags & AT_EMPTY_PATH, buf, &lk); r < 0)
        return r;
    const Inode* i = lk.node;
    uint32_t type = i->mode & S_IFMT;
    bool plain = type == S_IFREG || type == S_IFDIR || type == S_IFLNK;
    if ((mode & W_OK) && is_proc(i) && !is_dir(i)) return -EACCES;  // as open() says
    if ((mode & W_OK) && plain && !fs_writable(i)) return -EROFS;
    if ((mode & X_OK) && type != S_IFDIR && !(i->mode & 0111)) return -EACCES;
    return 0;
}
int64_t sys_faccessat(uint64_t dirfd, uint64_t path, uint64_t mode, uint64_t, uint64_t, uint64_t) {
    return sys_faccessat2(dirfd, path, mode, 0, 0, 0);
}
int64_t sys_access(uint64_t path, uint64_t mode, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_faccessat2(static_cast<uint64_t>(AT_FDCWD), path, mode, 0, 0, 0);
}

int64_t sys_readlinkat(uint64_t dirfd, uint64_t upath, uint64_t ubuf, uint64_t size, uint64_t,
                       uint64_t) {
    if (static_cast<int32_t>(size) <= 0) return -EINVAL;  // bufsiz is a C int
    size &= 0x7fffffff;
    if (upath == 0) return -EFAULT;
    char buf[kPathMax];
    Lookup lk;
    // An empty path names dirfd itself (an O_PATH symlink), as on Linux.
    if (int64_t r = at_lookup(fd_arg(dirfd), upath, 0, true, buf, &lk); r < 0) return r;
    if (!is_lnk(lk.node)) return buf[0] ? -EINVAL : -ENOENT;
    uint32_t len;
    const char* target = link_target(lk.node, &len);
    uint64_t n = len < size ? len : size;
    if (copy_to_user(ubuf, target, n) < 0) return -EFAULT;
    return static_cast<int64_t>(n);
}
int64_t sys_readlink(uint64_t path, uint64_t buf, uint64_t size, uint64_t, uint64_t, uint64_t) {
    return sys_readlinkat(static_cast<uint64_t>(AT_FDCWD), path, buf, size, 0, 0);
}

int64_t statfs_out(const Inode* i, uint64_t ubuf) {
    linux_statfs s;
    memset(&s, 0, sizeof s);
    constexpr int64_t kStValid = 0x20;  // Linux sets it on every statfs answer
    const ember_boot_info* b = boot();
    s.f_bsize = s.f_frsize = 4096;
    s.f_namelen = kNameMax;
    s.f_fsid[0] = static_cast<int32_t>(i->dev ? i->dev : static_cast<uint32_t>(i->fs));
    s.f_flags = kStValid;
    switch (i->fs) {
        case FsId::kRootfs:
            s.f_type = RAMFS_MAGIC;
            s.f_blocks = (b->rootfs_size + 4095) / 4096;
            s.f_flags |= ST_RDONLY;
            break;
        case FsId::kProcfs:
        case FsId::kSysfs:
            s.f_type = i->fs == FsId::kProcfs ? PROC_SUPER_MAGIC : SYSFS_MAGIC;
            s.f_flags |= ST_RDONLY;
            break;
        case FsId::kAnon:
            s.f_type = i->special == Special::kPipe ? PIPEFS_MAGIC : TMPFS_MAGIC;
            break;
        default:
            s.f_type = TMPFS_MAGIC;
            s.f_blocks = ram_size() / 4096;
            s.f_bfree = s.f_bavail = mem_free_bytes() / 4096;
            s.f_files = s.f_ffree = s.f_bfree;
            break;
    }
    return copy_to_user(ubuf, &s, sizeof s);
}
int64_t sys_statfs(uint64_t upath, uint64_t ubuf, uint64_t, uint64_t, uint64_t, uint64_t) {
    char buf[kPathMax];
    Lookup lk;
    if (int64_t r = at_lookup(AT_FDCWD, upath, kFollow, false, buf, &lk); r < 0) return r;
    return statfs_out(lk.node, ubuf);
}
int64_t sys_fstatfs(uint64_t fd, uint64_t ubuf, uint64_t, uint64_t, uint64_t, uint64_t) {
    File* f = fd_get(fd_arg(fd));
    return f ? statfs_out(f->inode, ubuf) : -EBADF;
}

// ---- chmod, chown, times ---------------------------------------------------------

// The inode named by (dirfd, path) or, for path == 0 with use_fd, by the fd.
int64_t target(int64_t dirfd, uint64_t upath, uint32_t lf, bool empty_ok, Inode** out) {
    char buf[kPathMax];
    Lookup lk;
    if (int64_t r = at_lookup(dirfd, upath, lf, empty_ok, buf, &lk); r < 0) return r;
    *out = lk.node;
    return 0;
}

int64_t fd_target(uint64_t fd, Inode** out) {
    File* f = fd_get(fd_arg(fd));
    if (!f || (f->flags & O_PATH)) return -EBADF;
    *out = f->inode;
    return 0;
}

int64_t set_mode(Inode* i, uint64_t mode) {
    if (!meta_writable(i)) return -EROFS;
    if (is_vol(i)) return vol_chmod(i, static_cast<uint32_t>(mode));
    i->mode = (i->mode & S_IFMT) | (static_cast<uint32_t>(mode) & 07777);
    inode_touch(i, false);
    return 0;
}

int64_t sys_fchmodat(uint64_t dirfd, uint64_t path, uint64_t mode, uint64_t, uint64_t, uint64_t) {
    Inode* i;
    int64_t r = target(fd_arg(dirfd), path, kFollow, false, &i);
    return r < 0 ? r : set_mode(i, mode);
}
int64_t sys_chmod(uint64_t path, uint64_t mode, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_fchmodat(static_cast<uint64_t>(AT_FDCWD), path, mode, 0, 0, 0);
}
int64_t sys_fchmod(uint64_t fd, uint64_t mode, uint64_t, uint64_t, uint64_t, uint64_t) {
    Inode* i;
    int64_t r = fd_target(fd, &i);
    return r < 0 ? r : set_mode(i, mode);
}

// Owners stay root (uid/gid 0); changing them is accepted where writable.
int64_t chown_result(int64_t r, Inode* i) {
    if (r < 0) return r;
    if (!meta_writable(i)) return -EROFS;
    inode_touch(i, false);
    return 0;
}
int64_t sys_fchownat(uint64_t dirfd, uint64_t path, uint64_t, uint64_t, uint64_t flags, uint64_t) {
    uint32_t lf;
    if (int64_t r = path_flags(flags, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH, &lf); r < 0) return r;
    Inode* i = nullptr;
    int64_t r = target(fd_arg(dirfd), path, lf, flags & AT_EMPTY_PATH, &i);
    return chown_result(r, i);
}
int64_t sys_chown(uint64_t path, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    Inode* i = nullptr;
    int64_t r = target(AT_FDCWD, path, kFollow, false, &i);
    return chown_result(r, i);
}
int64_t sys_lchown(uint64_t path, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    Inode* i = nullptr;
    int64_t r = target(AT_FDCWD, path, 0, false, &i);
    return chown_result(r, i);
}
int64_t sys_fchown(uint64_t fd, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    Inode* i = nullptr;
    int64_t r = fd_target(fd, &i);
    return chown_result(r, i);
}

// ns < 0: leave the time unchanged.
int64_t set_times(Inode* i, int64_t atime_ns, int64_t mtime_ns) {
    if (!meta_writable(i)) return -EROFS;
    if (is_vol(i)) return vol_utimes(i, atime_ns, mtime_ns);
    if (atime_ns >= 0) i->atime_ns = atime_ns;
    if (mtime_ns >= 0) i->mtime_ns = mtime_ns;
    inode_touch(i, false);
    return 0;
}

int64_t ts_to_ns(const linux_timespec& ts, int64_t now, int64_t* out) {
    if (ts.tv_nsec == static_cast<int64_t>(UTIME_NOW))
        *out = now;
    else if (ts.tv_nsec == static_cast<int64_t>(UTIME_OMIT))
        *out = -1;
    else if (ts.tv_nsec < 0 || ts.tv_nsec >= kNsPerSec || ts.tv_sec < 0 ||
             ts.tv_sec > INT64_MAX / kNsPerSec - 1)
        return -EINVAL;
    else
        *out = ts.tv_sec * kNsPerSec + ts.tv_nsec;
    return 0;
}

int64_t sys_utimensat(uint64_t dirfd, uint64_t upath, uint64_t utimes, uint64_t flags, uint64_t,
                      uint64_t) {
    uint32_t lf;
    if (int64_t r = path_flags(flags, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH, &lf); r < 0) return r;
    int64_t now = realtime_ns(), at = now, mt = now;
    if (utimes) {
        linux_timespec ts[2];
        if (copy_from_user(ts, utimes, sizeof ts) < 0) return -EFAULT;
        if (int64_t r = ts_to_ns(ts[0], now, &at); r < 0) return r;
        if (int64_t r = ts_to_ns(ts[1], now, &mt); r < 0) return r;
    }
    Inode* i;
    if (upath == 0) {  // futimens
        if (fd_arg(dirfd) == AT_FDCWD) return -EFAULT;
        File* f = fd_get(fd_arg(dirfd));
        if (!f) return -EBADF;
        i = f->inode;
    } else if (int64_t r = target(fd_arg(dirfd), upath, lf, flags & AT_EMPTY_PATH, &i); r < 0) {
        return r;
    }
    return set_times(i, at, mt);
}

// utimes/futimesat take two struct timeval, utime one struct utimbuf.
int64_t sys_futimesat(uint64_t dirfd, uint64_t upath, uint64_t utv, uint64_t, uint64_t, uint64_t) {
    int64_t now = realtime_ns(), at = now, mt = now;
    if (utv) {
        linux_timeval tv[2];
        if (copy_from_user(tv, utv, sizeof tv) < 0) return -EFAULT;
        for (const linux_timeval& t : tv)
            if (t.tv_usec < 0 || t.tv_usec >= 1000000 || t.tv_sec < 0 ||
                t.tv_sec > INT64_MAX / kNsPerSec - 1)
                return -EINVAL;
        at = tv[0].tv_sec * kNsPerSec + tv[0].tv_usec * 1000;
        mt = tv[1].tv_sec * kNsPerSec + tv[1].tv_usec * 1000;
    }
    Inode* i;
    if (int64_t r = target(fd_arg(dirfd), upath, kFollow, false, &i); r < 0) return r;
    return set_times(i, at, mt);
}
int64_t sys_utimes(uint64_t path, uint64_t utv, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_futimesat(static_cast<uint64_t>(AT_FDCWD), path, utv, 0, 0, 0);
}
int64_t sys_utime(uint64_t path, uint64_t ubuf, uint64_t, uint64_t, uint64_t, uint64_t) {
    int64_t now = realtime_ns(), at = now, mt = now;
    if (ubuf) {
        int64_t t[2];  // actime, modtime
        if (copy_from_user(t, ubuf, sizeof t) < 0) return -EFAULT;
        if (t[0] < 0 || t[1] < 0 || t[0] > INT64_MAX / kNsPerSec || t[1] > INT64_MAX / kNsPerSec)
            return -EINVAL;
        at = t[0] * kNsPerSec;
        mt = t[1] * kNsPerSec;
    }
    Inode* i;
    if (int64_t r = target(AT_FDCWD, path, kFollow, false, &i); r < 0) return r;
    return set_times(i, at, mt);
}

int64_t sys_umask(uint64_t mask, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return set_umask(static_cast<uint32_t>(mask));
}

// ---- extended attributes: none are stored ---------------------------------------

enum XattrOp { kGet, kList, kSet, kRemove };
int64_t xattr_result(XattrOp op) {
    switch (op) {
        case kGet:
            return -ENODATA;
        case kList:
            return 0;
        case kSet:
            return -EOPNOTSUPP;
        case kRemove:
            return -ENODATA;
    }
    return -EINVAL;
}
template <XattrOp op, bool follow>
int64_t sys_path_xattr(uint64_t path, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    Inode* i;
    int64_t r = target(AT_FDCWD, path, follow ? kFollow : 0, false, &i);
    return r < 0 ? r : xattr_result(op);
}
template <XattrOp op>
int64_t sys_fd_xattr(uint64_t fd, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    Inode* i;
    int64_t r = fd_target(fd, &i);
    return r < 0 ? r : xattr_result(op);
}

}  // namespace

void register_stat_syscalls() {
    syscall_register(nr::stat, "stat", sys_stat);
    syscall_register(nr::lstat, "lstat", sys_lstat);
    syscall_register(nr::fstat, "fstat", sys_fstat);
    syscall_register(nr::newfstatat, "newfstatat", sys_newfstatat);
    syscall_register(nr::statx, "statx", sys_statx);
    syscall_register(nr::access, "access", sys_access);
    syscall_register(nr::faccessat, "faccessat", sys_faccessat);
    syscall_register(nr::faccessat2, "faccessat2", sys_faccessat2);
    syscall_register(nr::readlink, "readlink", sys_readlink);
    syscall_register(nr::readlinkat, "readlinkat", sys_readlinkat);
    syscall_register(nr::statfs, "statfs", sys_statfs);
    syscall_register(nr::fstatfs, "fstatfs", sys_fstatfs);
    syscall_register(nr::chmod, "chmod", sys_chmod);
    syscall_register(nr::fchmod, "fchmod", sys_fchmod);
    syscall_register(nr::fchmodat, "fchmodat", sys_fchmodat);
    syscall_register(nr::chown, "chown", sys_chown);
    syscall_register(nr::fchown, "fchown", sys_fchown);
    syscall_register(nr::lchown, "lchown", sys_lchown);
    syscall_register(nr::fchownat, "fchownat", sys_fchownat);
    syscall_register(nr::utimensat, "utimensat", sys_utimensat);
    syscall_register(nr::futimesat, "futimesat", sys_futimesat);
    syscall_register(nr::utimes, "utimes", sys_utimes);
    syscall_register(nr::utime, "utime", sys_utime);
    syscall_register(nr::umask, "umask", sys_umask);
    syscall_register(nr::getxattr, "getxattr", sys_path_xattr<kGet, true>);
    syscall_register(nr::lgetxattr, "lgetxattr", sys_path_xattr<kGet, false>);
    syscall_register(nr::fgetxattr, "fgetxattr", sys_fd_xattr<kGet>);
    syscall_register(nr::listxattr, "listxattr", sys_path_xattr<kList, true>);
    syscall_register(nr::llistxattr, "llistxattr", sys_path_xattr<kList, false>);
    syscall_register(nr::flistxattr, "flistxattr", sys_fd_xattr<kList>);
    syscall_register(nr::setxattr, "setxattr", sys_path_xattr<kSet, true>);
    syscall_register(nr::lsetxattr, "lsetxattr", sys_path_xattr<kSet, false>);
    syscall_register(nr::fsetxattr, "fsetxattr", sys_fd_xattr<kSet>);
    syscall_register(nr::removexattr, "removexattr", sys_path_xattr<kRemove, true>);
    syscall_register(nr::lremovexattr, "lremovexattr", sys_path_xattr<kRemove, false>);
    syscall_register(nr::fremovexattr, "fremovexattr", sys_fd_xattr<kRemove>);
}

}  // namespace k::fs
