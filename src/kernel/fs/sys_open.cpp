// sys_open.cpp - open, openat, creat, memfd_create, truncate, and the
// dirfd-relative path helpers shared by the path syscalls.
#include "fs/syscalls.h"
#include "fs/volume.h"

namespace k::fs {

int64_t start_dir(int64_t dirfd, const char* path, Inode** out) {
    if (path[0] == '/') {
        *out = root();
        return 0;
    }
    if (dirfd == AT_FDCWD) {
        *out = cwd();
        return 0;
    }
    File* f = fd_get(dirfd);
    if (!f) return -EBADF;
    if (!is_dir(f->inode)) return -ENOTDIR;
    *out = f->inode;
    return 0;
}

int64_t copy_path(uint64_t upath, bool empty_ok, char* buf) {
    if (upath == 0 && empty_ok) {
        buf[0] = 0;
        return 0;
    }
    int64_t r = user_strncpy(buf, upath, kPathMax);
    return r < 0 ? r : 0;
}

int64_t resolve_at(int64_t dirfd, const char* path, uint32_t flags, bool empty_ok, Lookup* out) {
    if (path[0] == 0) {
        if (!empty_ok) return -ENOENT;
        Inode* self = cwd();
        if (dirfd != AT_FDCWD) {
            File* f = fd_get(dirfd);
            if (!f) return -EBADF;
            self = f->inode;
        }
        memset(out, 0, sizeof *out);
        out->dir = out->node = self;
        out->dot = true;
        return 0;
    }
    Inode* start;
    if (int64_t r = start_dir(dirfd, path, &start); r < 0) return r;
    return lookup(start, path, flags, out);
}

int64_t at_lookup(int64_t dirfd, uint64_t upath, uint32_t flags, bool empty_ok, char* buf,
                  Lookup* out) {
    if (int64_t r = copy_path(upath, empty_ok, buf); r < 0) return r;
    return resolve_at(dirfd, buf, flags, empty_ok, out);
}

namespace {

int64_t install(File* f, uint64_t flags) {
    int64_t fd = fd_install(f, 0, (flags & O_CLOEXEC) != 0);
    if (fd < 0) file_put(f);
    return fd;
}

// An unnamed tmpfs file (O_TMPFILE, memfd): freed on its last close. dev:
// the tree it may later be linked into (0 for none).
int64_t open_unnamed(uint32_t mode, uint64_t flags, uint32_t dev) {
    Inode* i = inode_new(FsId::kTmpfs, S_IFREG | (mode & 07777));
    if (!i) return -ENOMEM;
    i->dev = dev;
    File* f;
    if (int64_t r = open_inode(i, static_cast<uint32_t>(flags), &f); r < 0) {
        inode_maybe_free(i);
        return r;
    }
    return install(f, flags);
}

int64_t open_tmpfile(int64_t dirfd, uint64_t upath, uint64_t flags, uint64_t mode) {
    uint64_t acc = flags & O_ACCMODE;
    if (acc != O_WRONLY && acc != O_RDWR) return -EINVAL;
    char buf[kPathMax];
    Lookup lk;
    if (int64_t r = at_lookup(dirfd, upath, kFollow, false, buf, &lk); r < 0) return r;
    if (!is_dir(lk.node)) return -ENOTDIR;
    if (!fs_writable(lk.node)) return -EOPNOTSUPP;
    return open_unnamed(static_cast<uint32_t>(mode) & ~umask(), flags & ~O_TMPFILE, lk.node->dev);
}

int64_t do_open(int64_t dirfd, uint64_t upath, uint64_t flags, uint64_t mode) {
    if (!fd_available()) return -EMFILE;  // Linux takes the fd before the lookup
    if ((flags & O_TMPFILE) == O_TMPFILE) return open_tmpfile(dirfd, upath, flags, mode);
    bool creat = (flags & O_CREAT) != 0, excl = creat && (flags & O_EXCL);
    bool path_only = (flags & O_PATH) != 0;
    uint64_t acc = flags & O_ACCMODE;
    bool wants_write = !path_only && (acc == O_WRONLY || acc == O_RDWR);
    uint32_t lf = 0;
    if (!(flags & O_NOFOLLOW) && !excl) lf |= kFollow;
    if (creat) lf |= kAllowMissing;

    char buf[kPathMax];
    Lookup lk;
    if (int64_t r = at_lookup(dirfd, upath, lf, false, buf, &lk); r < 0) return r;
    Inode* node = lk.node;
    bool created = false;
    if (!node && is_vol(lk.dir)) {
        if (lk.trailing_slash) return -EISDIR;
        if (lk.dir->nlink == 0) return -ENOENT;
        uint32_t m = static_cast<uint32_t>(mode) & 07777 & ~umask();
        if (int64_t r = vol_create(&lk, m, excl, &node); r < 0) return r;
        created = true;
    } else if (!node) {
        if (lk.trailing_slash) return -EISDIR;
        if (!fs_writable(lk.dir)) return -EROFS;
        if (lk.dir->nlink == 0) return -ENOENT;
        node = inode_new(FsId::kTmpfs, S_IFREG | (static_cast<uint32_t>(mode) & 07777 & ~umask()));
        if (!node) return -ENOMEM;
        if (!dir_link(lk.dir, lk.name, lk.name_len, node)) {
            inode_maybe_free(node);
            return -ENOMEM;
        }
        created = true;
    } else {
        if (excl) return -EEXIST;
        if (is_dir(node)) {
            if (creat || wants_write) return -EISDIR;
        } else if (flags & O_DIRECTORY) {
            return -ENOTDIR;
        }
        if (is_lnk(node) && !path_only) return -ELOOP;
        // /proc and /sys files are read-only. (Linux lets root open most of
        // /proc for writing and then fails the write; this says no at once.)
        if (is_proc(node) && !is_dir(node) && !path_only && (wants_write || (flags & O_TRUNC)))
            return -EACCES;
        if (lk.via_file && !path_only && node->special == Special::kPipe) {
            // /proc/self/fd/N of a pipe: N's open pipe end (Linux opens the
            // pipe anew, with the access mode asked for).
            file_get(lk.via_file);
            return install(lk.via_file, flags);
        }
        if (node->special == Special::kFdAlias && !path_only) {
            // /dev/stdout and friends share fd N's open file (Linux reopens
            // /proc/self/fd/N, which differs only for regular files' offsets).
            File* f = fd_get(node->alias_fd);
            if (!f) return -ENOENT;
            file_get(f);
            return install(f, flags);
        }
        if (!path_only && is_reg(node) && (wants_write || (flags & O_TRUNC)) &&
            (is_vol(node) ? vol_readonly(node) : !fs_writable(node)))
            return -EROFS;
    }
    File* f;
    if (int64_t r = open_inode(node, static_cast<uint32_t>(flags), &f); r < 0) return r;
    if (!created && !path_only && (flags & O_TRUNC) && is_reg(node) && node->size) {
        if (int64_t r = is_vol(node) ? vol_truncate(node, 0) : tmpfs_resize(node, 0); r < 0) {
            file_put(f);
            return r;
        }
    }
    return install(f, flags);
}

int64_t sys_open(uint64_t path, uint64_t flags, uint64_t mode, uint64_t, uint64_t, uint64_t) {
    return do_open(AT_FDCWD, path, flags, mode);
}
int64_t sys_openat(uint64_t dirfd, uint64_t path, uint64_t flags, uint64_t mode, uint64_t,
                   uint64_t) {
    return do_open(fd_arg(dirfd), path, flags, mode);
}
int64_t sys_creat(uint64_t path, uint64_t mode, uint64_t, uint64_t, uint64_t, uint64_t) {
    return do_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int64_t sys_memfd_create(uint64_t uname, uint64_t flags, uint64_t, uint64_t, uint64_t, uint64_t) {
    constexpr size_t kMaxName = 250;  // Linux: 249 bytes and the NUL
    char name[kMaxName];
    int64_t r = user_strncpy(name, uname, sizeof name);
    if (r == -ENAMETOOLONG) return -EINVAL;
    if (r < 0) return r;
    if (flags & ~(MFD_CLOEXEC | MFD_ALLOW_SEALING)) return -EINVAL;
    if (!fd_available()) return -EMFILE;
    return open_unnamed(0777, O_RDWR | ((flags & MFD_CLOEXEC) ? O_CLOEXEC : 0), 0);
}

int64_t sys_truncate(uint64_t upath, uint64_t len, uint64_t, uint64_t, uint64_t, uint64_t) {
    char buf[kPathMax];
    Lookup lk;
    if (int64_t r = at_lookup(AT_FDCWD, upath, kFollow, false, buf, &lk); r < 0) return r;
    if (static_cast<int64_t>(len) < 0) return -EINVAL;
    if (is_dir(lk.node)) return -EISDIR;
    if (!is_reg(lk.node)) return -EINVAL;
    if (is_vol(lk.node)) return vol_truncate(lk.node, len);
    if (!fs_writable(lk.node)) return -EROFS;
    return tmpfs_resize(lk.node, len);
}

}  // namespace

void register_open_syscalls() {
    syscall_register(nr::open, "open", sys_open);
    syscall_register(nr::openat, "openat", sys_openat);
    syscall_register(nr::creat, "creat", sys_creat);
    syscall_register(nr::memfd_create, "memfd_create", sys_memfd_create);
    syscall_register(nr::truncate, "truncate", sys_truncate);
}

}  // namespace k::fs
