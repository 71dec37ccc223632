// sys_dir.cpp - name-space syscalls: getcwd, chdir, mkdir, unlink/rmdir,
// rename, link, symlink. Only tmpfs directories change; elsewhere -EROFS.
#include "fs/syscalls.h"
#include "fs/volume.h"

namespace k::fs {

namespace {

int64_t sys_getcwd(uint64_t ubuf, uint64_t size, uint64_t, uint64_t, uint64_t, uint64_t) {
    char buf[kPathMax];
    if (size == 0) return -ERANGE;
    int64_t n = dir_path(cwd(), buf, size < kPathMax ? size : kPathMax);
    if (n < 0) return n;
    if (copy_to_user(ubuf, buf, static_cast<uint64_t>(n)) < 0) return -EFAULT;
    return n;  // the syscall returns the length including the NUL
}

int64_t sys_chdir(uint64_t upath, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    char buf[kPathMax];
    Lookup lk;
    if (int64_t r = at_lookup(AT_FDCWD, upath, kFollow, false, buf, &lk); r < 0) return r;
    if (!is_dir(lk.node)) return -ENOTDIR;
    set_cwd(lk.node);
    return 0;
}

int64_t sys_fchdir(uint64_t fd, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    File* f = fd_get(fd_arg(fd));
    if (!f) return -EBADF;
    if (!is_dir(f->inode)) return -ENOTDIR;
    set_cwd(f->inode);
    return 0;
}

// Looks up where a new name goes: it must not exist, and its directory must
// be a live tmpfs directory.
int64_t new_name(int64_t dirfd, const char* path, Lookup* lk) {
    if (int64_t r = resolve_at(dirfd, path, kAllowMissing, false, lk); r < 0) return r;
    if (lk->node) return -EEXIST;
    if (!fs_writable(lk->dir) && !is_vol(lk->dir)) return -EROFS;
    if (lk->dir->nlink == 0) return -ENOENT;
    return 0;
}

// Creates a tmpfs inode and links it at lk; frees it on failure.
int64_t link_new(Lookup* lk, Inode* i) {
    if (!dir_link(lk->dir, lk->name, lk->name_len, i)) {
        inode_maybe_free(i);
        return -ENOMEM;
    }
    return 0;
}

int64_t sys_mkdirat(uint64_t dirfd, uint64_t upath, uint64_t mode, uint64_t, uint64_t, uint64_t) {
    char buf[kPathMax];
    Lookup lk;
    if (int64_t r = copy_path(upath, false, buf); r < 0) return r;
    if (int64_t r = new_name(fd_arg(dirfd), buf, &lk); r < 0) return r;
    if (is_vol(lk.dir)) return vol_mkdir(&lk, static_cast<uint32_t>(mode) & 07777 & ~umask());
    Inode* i = inode_new(FsId::kTmpfs, S_IFDIR | (static_cast<uint32_t>(mode) & 07777 & ~umask()));
    if (!i) return -ENOMEM;
    return link_new(&lk, i);
}
int64_t sys_mkdir(uint64_t path, uint64_t mode, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_mkdirat(static_cast<uint64_t>(AT_FDCWD), path, mode, 0, 0, 0);
}

int64_t sys_unlinkat(uint64_t dirfd, uint64_t upath, uint64_t flags, uint64_t, uint64_t, uint64_t) {
    if (flags & ~AT_REMOVEDIR) return -EINVAL;
    bool rmdir = (flags & AT_REMOVEDIR) != 0;
    char buf[kPathMax];
    Lookup lk;
    if (int64_t r = at_lookup(fd_arg(dirfd), upath, 0, false, buf, &lk); r < 0) return r;
    Inode* i = lk.node;
    if (lk.dot) {
        if (!rmdir) return -EISDIR;
        if (lk.name_len == 0) return -EBUSY;             // "/"
        return lk.name_len == 1 ? -EINVAL : -ENOTEMPTY;  // "." or ".."
    }
    if (is_vol(lk.dir)) {
        if (rmdir && !is_dir(i)) return -ENOTDIR;
        if (!rmdir && is_dir(i)) return -EISDIR;
        return vol_unlink(&lk, rmdir);  // the host says whether a directory is empty
    }
    if (!fs_writable(lk.dir)) return -EROFS;
    if (rmdir) {
        if (!is_dir(i)) return -ENOTDIR;
        if (!dir_empty(i)) return -ENOTEMPTY;
    } else if (is_dir(i)) {
        return -EISDIR;
    }
    Dirent* d = dir_find(lk.dir, lk.name, lk.name_len);
    KCHECK(d && d->inode == i);
    dir_unlink(lk.dir, d);
    return 0;
}
int64_t sys_unlink(uint64_t path, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_unlinkat(static_cast<uint64_t>(AT_FDCWD), path, 0, 0, 0, 0);
}
int64_t sys_rmdir(uint64_t path, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_unlinkat(static_cast<uint64_t>(AT_FDCWD), path, AT_REMOVEDIR, 0, 0, 0);
}

int64_t sys_renameat2(uint64_t olddfd, uint64_t uold, uint64_t newdfd, uint64_t unew,
                      uint64_t flags, uint64_t) {
    if (flags & ~RENAME_NOREPLACE) return -EINVAL;  // RENAME_EXCHANGE/WHITEOUT: unsupported
    char obuf[kPathMax], nbuf[kPathMax];
    Lookup o, n;
    if (int64_t r = copy_path(uold, false, obuf); r < 0) return r;
    if (int64_t r = copy_path(unew, false, nbuf); r < 0) return r;
    if (int64_t r = resolve_at(fd_arg(olddfd), obuf, 0, false, &o); r < 0) return r;
    if (int64_t r = resolve_at(fd_arg(newdfd), nbuf, kAllowMissing, false, &n); r < 0) return r;
    if (o.dot || n.dot) return -EBUSY;
    if (o.dir->dev != n.dir->dev) return -EXDEV;
    if (is_vol(o.dir)) {
        if (!is_dir(o.node) && (o.trailing_slash || n.trailing_slash)) return -ENOTDIR;
        for (const Inode* d = n.dir; d; d = d->parent)
            if (d == o.node) return -EINVAL;  // into its own subtree
        return vol_rename(&o, &n, flags);     // the host checks the rest
    }
    if (!fs_writable(o.dir)) return -EROFS;
    Inode* src = o.node;
    Inode* dst = n.node;
    if (!is_dir(src) && (o.trailing_slash || n.trailing_slash)) return -ENOTDIR;
    if (dst && (flags & RENAME_NOREPLACE)) return -EEXIST;
    if (src == dst) return 0;
    if (is_dir(src)) {
        if (dst && !is_dir(dst)) return -ENOTDIR;
        if (dst && !dir_empty(dst)) return -ENOTEMPTY;
        for (const Inode* d = n.dir; d; d = d->parent)
            if (d == src) return -EINVAL;  // into its own subtree
    } else if (dst && is_dir(dst)) {
        return -EISDIR;
    }
    if (n.dir->nlink == 0) return -ENOENT;
    Dirent* nd = dirent_new(n.name, n.name_len);
    if (!nd) return -ENOMEM;
    Dirent* od = dir_find(o.dir, o.name, o.name_len);
    KCHECK(od && od->inode == src);
    if (dst) dir_unlink(n.dir, dir_find(n.dir, n.name, n.name_len));
    dir_move(o.dir, od, n.dir, nd);
    return 0;
}
int64_t sys_renameat(uint64_t olddfd, uint64_t uold, uint64_t newdfd, uint64_t unew, uint64_t,
                     uint64_t) {
    return sys_renameat2(olddfd, uold, newdfd, unew, 0, 0);
}
int64_t sys_rename(uint64_t uold, uint64_t unew, uint64_t, uint64_t, uint64_t, uint64_t) {
    auto cwd_fd = static_cast<uint64_t>(AT_FDCWD);
    return sys_renameat2(cwd_fd, uold, cwd_fd, unew, 0, 0);
}

int64_t sys_linkat(uint64_t olddfd, uint64_t uold, uint64_t newdfd, uint64_t unew, uint64_t flags,
                   uint64_t) {
    if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return -EINVAL;
    char obuf[kPathMax], nbuf[kPathMax];
    Lookup o, n;
    uint32_t lf = (flags & AT_SYMLINK_FOLLOW) ? kFollow : 0;
    bool empty_ok = (flags & AT_EMPTY_PATH) != 0;
    if (int64_t r = copy_path(uold, empty_ok, obuf); r < 0) return r;
    if (int64_t r = copy_path(unew, false, nbuf); r < 0) return r;
    if (int64_t r = resolve_at(fd_arg(olddfd), obuf, lf, empty_ok, &o); r < 0) return r;
    if (int64_t r = resolve_at(fd_arg(newdfd), nbuf, kAllowMissing, false, &n); r < 0) return r;
    if (n.node) return -EEXIST;
    if (n.trailing_slash) return -ENOENT;
    if (is_dir(o.node)) return -EPERM;
    if (o.node->dev != n.dir->dev) return -EXDEV;
    if (is_vol(n.dir)) return vol_link(o.node, &n);
    if (!fs_writable(n.dir)) return -EROFS;
    if (n.dir->nlink == 0) return -ENOENT;
    return dir_link(n.dir, n.name, n.name_len, o.node) ? 0 : -ENOMEM;
}
int64_t sys_link(uint64_t uold, uint64_t unew, uint64_t, uint64_t, uint64_t, uint64_t) {
    auto cwd_fd = static_cast<uint64_t>(AT_FDCWD);
    return sys_linkat(cwd_fd, uold, cwd_fd, unew, 0, 0);
}

int64_t sys_symlinkat(uint64_t utarget, uint64_t newdfd, uint64_t upath, uint64_t, uint64_t,
                      uint64_t) {
    char target[kPathMax];
    int64_t len = user_strncpy(target, utarget, kPathMax);
    if (len < 0) return len;
    char buf[kPathMax];
    if (int64_t r = copy_path(upath, false, buf); r < 0) return r;
    if (len == 0) return -ENOENT;
    Lookup lk;
    if (int64_t r = new_name(fd_arg(newdfd), buf, &lk); r < 0) return r;
    if (lk.trailing_slash) return -ENOENT;
    if (is_vol(lk.dir)) return vol_symlink(&lk, target, static_cast<uint32_t>(len));
    Inode* i = inode_new(FsId::kTmpfs, S_IFLNK | 0777);
    if (!i) return -ENOMEM;
    if (tmpfs_set_link(i, target, static_cast<uint32_t>(len)) < 0) {
        inode_maybe_free(i);
        return -ENOMEM;
    }
    return link_new(&lk, i);
}
int64_t sys_symlink(uint64_t utarget, uint64_t upath, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_symlinkat(utarget, static_cast<uint64_t>(AT_FDCWD), upath, 0, 0, 0);
}

}  // namespace

void register_dir_syscalls() {
    syscall_register(nr::getcwd, "getcwd", sys_getcwd);
    syscall_register(nr::chdir, "chdir", sys_chdir);
    syscall_register(nr::fchdir, "fchdir", sys_fchdir);
    syscall_register(nr::mkdir, "mkdir", sys_mkdir);
    syscall_register(nr::mkdirat, "mkdirat", sys_mkdirat);
    syscall_register(nr::unlink, "unlink", sys_unlink);
    syscall_register(nr::unlinkat, "unlinkat", sys_unlinkat);
    syscall_register(nr::rmdir, "rmdir", sys_rmdir);
    syscall_register(nr::rename, "rename", sys_rename);
    syscall_register(nr::renameat, "renameat", sys_renameat);
    syscall_register(nr::renameat2, "renameat2", sys_renameat2);
    syscall_register(nr::link, "link", sys_link);
    syscall_register(nr::linkat, "linkat", sys_linkat);
    syscall_register(nr::symlink, "symlink", sys_symlink);
    syscall_register(nr::symlinkat, "symlinkat", sys_symlinkat);
}

}  // namespace k::fs

namespace k {

void register_fs_syscalls() {
    fs::register_rw_syscalls();
    fs::register_fd_syscalls();
    fs::register_open_syscalls();
    fs::register_stat_syscalls();
    fs::register_dir_syscalls();
}

}  // namespace k
