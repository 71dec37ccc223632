// file_ops.cpp - the kinds of files that live in the tree: regular files,
// directories, O_PATH handles, /dev devices, and the stdin/console streams.
#include "fs/fd.h"
#include "fs/volume.h"

namespace k::fs {

namespace {

// ---- regular files (rootfs bytes in the archive, tmpfs bytes in memory) -----

int64_t reg_read(File* f, void* buf, uint64_t len, uint64_t* pos) {
    const Inode* i = f->inode;
    if (*pos >= i->size) return 0;
    uint64_t n = i->size - *pos;
    if (n > len) n = len;
    memcpy(buf, inode_bytes(i) + *pos, n);
    *pos += n;
    return static_cast<int64_t>(n);
}

int64_t reg_write(File* f, const void* buf, uint64_t len, uint64_t* pos) {
    Inode* i = f->inode;
    if (!fs_writable(i)) return -EROFS;
    if (f->flags & O_APPEND) *pos = i->size;
    int64_t n = tmpfs_write(i, buf, len, *pos);
    if (n > 0) *pos += static_cast<uint64_t>(n);
    return n;
}

int64_t reg_ioctl(File* f, uint64_t cmd, uint64_t arg) {
    if (cmd != FIONREAD) return -ENOTTY;
    uint64_t left = f->pos < f->inode->size ? f->inode->size - f->pos : 0;
    int32_t n = left > 0x7fffffff ? 0x7fffffff : static_cast<int32_t>(left);
    return copy_to_user(arg, &n, sizeof n);
}

constexpr FileOps kRegOps = {reg_read, reg_write, reg_ioctl, nullptr, nullptr, true};

// ---- directories (read with getdents64) and O_PATH handles ---------------------

int64_t dir_read(File*, void*, uint64_t, uint64_t*) { return -EISDIR; }
int64_t dir_write(File*, const void*, uint64_t, uint64_t*) { return -EISDIR; }
constexpr FileOps kDirOps = {dir_read, dir_write, nullptr, nullptr, nullptr, true};

// O_PATH files fail every I/O with -EBADF before reaching an op.
constexpr FileOps kPathOps = {nullptr, nullptr, nullptr, nullptr, nullptr, false};

// ---- character devices ------------------------------------------------------------

int64_t dev_read(File* f, void* buf, uint64_t len, uint64_t*) {
    switch (f->inode->special) {
        case Special::kNull:
            return 0;
        case Special::kZero:
        case Special::kFull:
            memset(buf, 0, len);
            return static_cast<int64_t>(len);
        case Special::kRandom:
            random_fill(buf, len);
            return static_cast<int64_t>(len);
        default:
            return -EINVAL;
    }
}

int64_t dev_write(File* f, const void*, uint64_t len, uint64_t*) {
    if (f->inode->special == Special::kFull) return -ENOSPC;
    return static_cast<int64_t>(len);
}

constexpr FileOps kDevOps = {dev_read, dev_write, nullptr, nullptr, nullptr, true};

// ---- stdin and the console -----------------------------------------------------

int64_t stdin_file_read(File* f, void* buf, uint64_t len, uint64_t*) {
    return stdin_read(buf, len, (f->flags & O_NONBLOCK) != 0);
}
uint32_t stdin_poll(File*) { return stdin_readable() ? POLLIN | POLLRDNORM : 0; }
constexpr FileOps kStdinOps = {stdin_file_read, nullptr, nullptr, stdin_poll, nullptr, false};

int64_t console_file_write(File* f, const void* buf, uint64_t len, uint64_t*) {
    console_write(f->inode->special == Special::kConsoleErr ? 2 : 1, buf, len);
    return static_cast<int64_t>(len);
}
uint32_t console_poll(File*) { return POLLOUT | POLLWRNORM; }
constexpr FileOps kConsoleOps = {nullptr, console_file_write, nullptr, console_poll, nullptr,
                                 false};

const FileOps* ops_for(const Inode* i) {
    switch (i->mode & S_IFMT) {
        case S_IFREG:
            return &kRegOps;
        case S_IFDIR:
            return &kDirOps;
        case S_IFCHR:
            switch (i->special) {
                case Special::kNull:
                case Special::kZero:
                case Special::kFull:
                case Special::kRandom:
                    return &kDevOps;
                case Special::kStdin:
                    return &kStdinOps;
                case Special::kConsoleOut:
                case Special::kConsoleErr:
                    return &kConsoleOps;
                default:
                    return nullptr;
            }
        default:
            return nullptr;  // archived fifos, sockets, block devices
    }
}

// Opens a new anonymous device inode as fd want_fd, which must be free.
int64_t open_anon(Special kind, uint32_t mode, uint32_t rdev, uint32_t flags, int64_t want_fd) {
    Inode* i = inode_new(FsId::kAnon, mode);
    if (!i) return -ENOMEM;
    i->special = kind;
    i->rdev = rdev;
    File* f = nullptr;
    int64_t r = open_inode(i, flags, &f);
    if (r < 0) {
        inode_maybe_free(i);
        return r;
    }
    r = fd_install(f, want_fd, false);
    if (r != want_fd) {
        if (r >= 0)
            fd_close(r);
        else
            file_put(f);
        return r < 0 ? r : -EBUSY;
    }
    return 0;
}

}  // namespace

int64_t open_inode(Inode* i, uint32_t flags, File** out) {
    const FileOps* ops;
    if (flags & O_PATH) {
        ops = &kPathOps;
        flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW;
    } else if (is_lnk(i)) {
        return -ELOOP;
    } else if (i->special == Special::kProcFile) {
        ops = &kProcFileOps;
    } else if (is_vol(i) && is_reg(i)) {
        ops = &kVolFileOps;
    } else if (!(ops = ops_for(i))) {
        return -ENXIO;
    }
    uint32_t keep = static_cast<uint32_t>(O_ACCMODE | O_APPEND | O_NONBLOCK | O_PATH | O_DIRECTORY |
                                          O_NOFOLLOW | O_SYNC | O_DSYNC | O_DIRECT | O_NOATIME);
    File* f = file_new(i, ops, (flags & keep) | static_cast<uint32_t>(O_LARGEFILE));
    if (!f) return -ENOMEM;
    *out = f;
    return 0;
}

int64_t open_stdio() {
    constexpr uint32_t kConsoleDev = (5 << 8) | 1;  // makedev(5, 1), /dev/console
    int64_t r = open_anon(Special::kStdin, S_IFCHR | 0620, kConsoleDev, O_RDONLY, 0);
    if (r == 0) r = open_anon(Special::kConsoleOut, S_IFCHR | 0620, kConsoleDev, O_WRONLY, 1);
    if (r == 0) r = open_anon(Special::kConsoleErr, S_IFCHR | 0620, kConsoleDev, O_WRONLY, 2);
    return r;
}

}  // namespace k::fs
