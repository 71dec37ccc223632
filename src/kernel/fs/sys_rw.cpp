// sys_rw.cpp - data syscalls: read/write and their vector and positional
// forms, lseek, sendfile, getdents, ftruncate, fallocate, fsync.
#include "fs/syscalls.h"
#include "fs/volume.h"

namespace k::fs {

namespace {

constexpr uint64_t kFastIov = 16;

// Copies the iovec array in (so the application cannot change it while we
// use it) and checks every buffer. Returns the number of entries or -errno;
// *out is `fast` or a kmalloc'd array the caller frees.
// kernel_writes: the segments are filled (readv), so they must be writable.
int64_t iov_load(uint64_t uiov, uint64_t cnt, linux_iovec* fast, linux_iovec** out,
                 bool kernel_writes) {
    if (cnt > IOV_MAX) return -EINVAL;
    *out = fast;
    if (cnt == 0) return 0;
    linux_iovec* v = fast;
    if (cnt > kFastIov) {
        v = static_cast<linux_iovec*>(kcalloc(cnt, sizeof(linux_iovec)));
        if (!v) return -ENOMEM;
    }
    int64_t r = copy_from_user(v, uiov, cnt * sizeof(linux_iovec));
    uint64_t total = 0;
    for (uint64_t i = 0; r == 0 && i < cnt; i++) {
        if (v[i].iov_len > INT64_MAX - total)
            r = -EINVAL;
        else if (v[i].iov_len && !(kernel_writes ? user_ok_write(v[i].iov_base, v[i].iov_len)
                                                 : user_ok(v[i].iov_base, v[i].iov_len)))
            r = -EFAULT;
        else
            total += v[i].iov_len;
    }
    if (r < 0) {
        if (v != fast) kfree(v);
        return r;
    }
    *out = v;
    return static_cast<int64_t>(cnt);
}

// Transfers segment by segment; stops at the first short transfer. off < 0:
// at the file position.
int64_t iov_rw(File* f, bool write, const linux_iovec* v, uint64_t cnt, int64_t off) {
    uint64_t total = 0;
    for (uint64_t i = 0; i < cnt && total < kMaxRw; i++) {
        uint64_t len = v[i].iov_len < kMaxRw - total ? v[i].iov_len : kMaxRw - total;
        if (len == 0) continue;
        void* buf = user_buffer(v[i].iov_base, len);  // checked by iov_load
        int64_t n;
        if (off < 0 && !write && total > 0 && !f->ops->seekable) {
            // One readv is one read: once some bytes arrived, the later
            // segments of a stream (socket, pipe, stdin) take only what is
            // already there instead of blocking.
            const uint32_t saved = f->flags;
            f->flags |= static_cast<uint32_t>(O_NONBLOCK);
            n = file_read(f, buf, len);
            f->flags = saved;
        } else if (off < 0)
            n = write ? file_write(f, buf, len) : file_read(f, buf, len);
        else if (write)
            n = file_pwrite(f, buf, len, static_cast<uint64_t>(off) + total);
        else
            n = file_pread(f, buf, len, static_cast<uint64_t>(off) + total);
        if (n < 0) return total ? static_cast<int64_t>(total) : n;
        total += static_cast<uint64_t>(n);
        if (static_cast<uint64_t>(n) < len) break;
    }
    return static_cast<int64_t>(total);
}

// Common checks of every read/write flavour. off: -1 for the file position.
int64_t rw_file(uint64_t fd, bool write, int64_t off, File** out) {
    File* f = fd_get(fd_arg(fd));
    if (!f) return -EBADF;
    if (write ? !file_can_write(f) : !file_can_read(f)) return -EBADF;
    if (off != -1) {
        if (off < 0) return -EINVAL;
        if (!f->ops->seekable) return -ESPIPE;
    }
    *out = f;
    return 0;
}

int64_t do_rw(uint64_t fd, bool write, uint64_t buf, uint64_t len, int64_t off) {
    File* f;
    if (int64_t r = rw_file(fd, write, off, &f); r < 0) return r;
    if (len == 0) return is_dir(f->inode) ? -EISDIR : 0;
    if (len > kMaxRw) len = kMaxRw;
    void* p = write ? user_buffer(buf, len) : user_buffer_write(buf, len);
    if (!p) return -EFAULT;
    if (off < 0) return write ? file_write(f, p, len) : file_read(f, p, len);
    return write ? file_pwrite(f, p, len, static_cast<uint64_t>(off))
                 : file_pread(f, p, len, static_cast<uint64_t>(off));
}

int64_t do_rwv(uint64_t fd, bool write, uint64_t uiov, uint64_t cnt, int64_t off) {
    File* f;
    if (int64_t r = rw_file(fd, write, off, &f); r < 0) return r;
    linux_iovec fast[kFastIov];
    linux_iovec* v;
    int64_t n = iov_load(uiov, cnt, fast, &v, !write);
    if (n <= 0) return n;
    int64_t r = iov_rw(f, write, v, static_cast<uint64_t>(n), off);
    if (v != fast) kfree(v);
    return r;
}

int64_t sys_read(uint64_t fd, uint64_t buf, uint64_t len, uint64_t, uint64_t, uint64_t) {
    return do_rw(fd, false, buf, len, -1);
}
int64_t sys_write(uint64_t fd, uint64_t buf, uint64_t len, uint64_t, uint64_t, uint64_t) {
    return do_rw(fd, true, buf, len, -1);
}
int64_t sys_pread64(uint64_t fd, uint64_t buf, uint64_t len, uint64_t off, uint64_t, uint64_t) {
    if (static_cast<int64_t>(off) < 0) return -EINVAL;
    return do_rw(fd, false, buf, len, static_cast<int64_t>(off));
}
int64_t sys_pwrite64(uint64_t fd, uint64_t buf, uint64_t len, uint64_t off, uint64_t, uint64_t) {
    if (static_cast<int64_t>(off) < 0) return -EINVAL;
    return do_rw(fd, true, buf, len, static_cast<int64_t>(off));
}
int64_t sys_readv(uint64_t fd, uint64_t iov, uint64_t cnt, uint64_t, uint64_t, uint64_t) {
    return do_rwv(fd, false, iov, cnt, -1);
}
int64_t sys_writev(uint64_t fd, uint64_t iov, uint64_t cnt, uint64_t, uint64_t, uint64_t) {
    return do_rwv(fd, true, iov, cnt, -1);
}
// On x86-64 the whole offset is in pos_l; pos_h is unused.
int64_t sys_preadv(uint64_t fd, uint64_t iov, uint64_t cnt, uint64_t off, uint64_t, uint64_t) {
    if (static_cast<int64_t>(off) < 0) return -EINVAL;
    return do_rwv(fd, false, iov, cnt, static_cast<int64_t>(off));
}
int64_t sys_pwritev(uint64_t fd, uint64_t iov, uint64_t cnt, uint64_t off, uint64_t, uint64_t) {
    if (static_cast<int64_t>(off) < 0) return -EINVAL;
    return do_rwv(fd, true, iov, cnt, static_cast<int64_t>(off));
}

int64_t sys_lseek(uint64_t fd, uint64_t uoff, uint64_t whence, uint64_t, uint64_t, uint64_t) {
    File* f = fd_get(fd_arg(fd));
    if (!f || (f->flags & O_PATH)) return -EBADF;
    if (!f->ops->seekable) return -ESPIPE;
    if (whence > SEEK_HOLE) return -EINVAL;
    const Inode* i = f->inode;
    auto off = static_cast<int64_t>(uoff);
    if ((i->mode & S_IFMT) == S_IFCHR) {  // /dev/null and friends: always 0, like Linux
        f->pos = 0;
        return 0;
    }
    // /proc and /sys files, like Linux's seq_file: no end to seek from.
    if (is_proc(i) && !is_dir(i) && whence != SEEK_SET && whence != SEEK_CUR) return -EINVAL;
    if (is_vol(i) && !is_dir(i) && whence != SEEK_SET && whence != SEEK_CUR)
        vol_refresh(const_cast<Inode*>(i));  // the size is the host's
    if (is_dir(i)) {                         // positions are getdents cookies: only rewind/restore
        if (whence == SEEK_SET && off >= 0) return static_cast<int64_t>(f->pos = uoff);
        if (whence == SEEK_CUR && off == 0) return static_cast<int64_t>(f->pos);
        return -EINVAL;
    }
    auto size = static_cast<int64_t>(i->size);
    int64_t base = 0;
    switch (whence) {
        case SEEK_SET:
            base = 0;
            break;
        case SEEK_CUR:
            base = static_cast<int64_t>(f->pos);
            break;
        case SEEK_END:
            base = size;
            break;
        case SEEK_DATA:
        case SEEK_HOLE:
            if (off < 0 || off >= size) return -ENXIO;
            f->pos = static_cast<uint64_t>(whence == SEEK_DATA ? off : size);
            return static_cast<int64_t>(f->pos);
    }
    int64_t pos;
    if (__builtin_add_overflow(base, off, &pos)) return -EOVERFLOW;
    if (pos < 0) return -EINVAL;
    f->pos = static_cast<uint64_t>(pos);
    return pos;
}

int64_t sys_sendfile(uint64_t out_fd, uint64_t in_fd, uint64_t uoff, uint64_t count, uint64_t,
                     uint64_t) {
    File* in = fd_get(fd_arg(in_fd));
    File* out = fd_get(fd_arg(out_fd));
    if (!in || !out || !file_can_read(in) || !file_can_write(out)) return -EBADF;
    if (out->flags & O_APPEND) return -EINVAL;
    if (is_dir(in->inode)) return -EINVAL;
    bool seekable = in->ops->seekable;
    uint64_t pos = in->pos;
    if (uoff) {
        int64_t off;
        if (!seekable) return -ESPIPE;
        if (copy_from_user(&off, uoff, sizeof off) < 0) return -EFAULT;
        if (off < 0) return -EINVAL;
        pos = static_cast<uint64_t>(off);
    }
    if (count > kMaxRw) count = kMaxRw;
    // Read-only archive files are sent straight from the archive; anything
    // else goes through a bounce buffer.
    bool direct = in->inode->fs == FsId::kRootfs && is_reg(in->inode);
    uint8_t buf[4096];
    uint64_t done = 0;
    int64_t err = 0;
    while (done < count) {
        uint64_t want = count - done;
        const void* src = buf;
        int64_t n;
        if (direct) {
            n = pos < in->inode->size ? static_cast<int64_t>(in->inode->size - pos) : 0;
            if (static_cast<uint64_t>(n) > want) n = static_cast<int64_t>(want);
            src = inode_bytes(in->inode) + pos;
        } else {
            if (want > sizeof buf) want = sizeof buf;
            n = seekable ? file_pread(in, buf, want, pos) : file_read(in, buf, want);
        }
        if (n <= 0) {
            err = n;
            break;
        }
        int64_t w = file_write(out, src, static_cast<uint64_t>(n));
        if (w < 0) {
            err = w;
            break;
        }
        done += static_cast<uint64_t>(w);
        pos += static_cast<uint64_t>(w);
        if (w < n) break;
    }
    if (done == 0 && err < 0) return err;
    if (uoff) {
        auto off = static_cast<int64_t>(pos);
        if (copy_to_user(uoff, &off, sizeof off) < 0) return -EFAULT;
    } else if (seekable) {
        in->pos = pos;
    }
    return static_cast<int64_t>(done);
}

// getdents64 (wide = true) and the old getdents: "." and "..", then the
// entries whose cookie is at or past the file position.
int64_t do_getdents(uint64_t fd, uint64_t ubuf, uint64_t count, bool wide) {
    File* f = fd_get(fd_arg(fd));
    if (!f || (f->flags & O_PATH)) return -EBADF;
    Inode* dir = f->inode;
    if (!is_dir(dir)) return -ENOTDIR;
    if (dir->nlink == 0) return -ENOENT;
    if (is_vol(dir)) return vol_getdents(f, ubuf, count, wide);
    if (dir->special == Special::kProcDir) proc_fill(dir);
    if (count > kMaxRw) count = kMaxRw;
    auto* out = static_cast<uint8_t*>(count ? user_buffer_write(ubuf, count) : nullptr);
    if (count && !out) return -EFAULT;
    uint64_t used = 0;
    Dirent* next_entry = dir->first;
    for (;;) {
        const char* name;
        uint32_t len;
        const Inode* node;
        uint64_t next_pos;
        if (f->pos == 0) {
            name = ".", len = 1, node = dir, next_pos = 1;
        } else if (f->pos == 1) {
            name = "..", len = 2, node = dir->parent ? dir->parent : dir, next_pos = 2;
        } else {
            while (next_entry && next_entry->cookie < f->pos) next_entry = next_entry->next;
            if (!next_entry) break;
            name = next_entry->name, len = next_entry->len, node = next_entry->inode;
            next_pos = next_entry->cookie + 1;
        }
        uint64_t hdr = wide ? sizeof(linux_dirent64_hdr) : 18;
        uint64_t reclen = (hdr + len + (wide ? 1 : 2) + 7) & ~7ull;
        if (used + reclen > count) {
            if (used == 0) return -EINVAL;
            break;
        }
        uint8_t* rec = out + used;
        uint8_t type = static_cast<uint8_t>((node->mode & S_IFMT) >> 12);
        uint64_t ino = node->ino;
        auto off = static_cast<int64_t>(next_pos);
        auto rl = static_cast<uint16_t>(reclen);
        memset(rec, 0, reclen);
        memcpy(rec, &ino, 8);
        memcpy(rec + 8, &off, 8);
        memcpy(rec + 16, &rl, 2);
        if (wide)
            rec[18] = type;
        else
            rec[reclen - 1] = type;
        memcpy(rec + hdr, name, len);
        used += reclen;
        f->pos = next_pos;
    }
    return static_cast<int64_t>(used);
}

int64_t sys_getdents64(uint64_t fd, uint64_t buf, uint64_t count, uint64_t, uint64_t, uint64_t) {
    return do_getdents(fd, buf, count, true);
}
int64_t sys_getdents(uint64_t fd, uint64_t buf, uint64_t count, uint64_t, uint64_t, uint64_t) {
    return do_getdents(fd, buf, count, false);
}

int64_t sys_ftruncate(uint64_t fd, uint64_t len, uint64_t, uint64_t, uint64_t, uint64_t) {
    File* f = fd_get(fd_arg(fd));
    if (!f || (f->flags & O_PATH)) return -EBADF;
    if (static_cast<int64_t>(len) < 0) return -EINVAL;
    if (!is_reg(f->inode) || !file_can_write(f)) return -EINVAL;
    if (is_vol(f->inode)) return vol_truncate(f->inode, len);
    if (!fs_writable(f->inode)) return -EROFS;
    return tmpfs_resize(f->inode, len);
}

int64_t sys_fallocate(uint64_t fd, uint64_t mode, uint64_t off, uint64_t len, uint64_t, uint64_t) {
    File* f = fd_get(fd_arg(fd));
    if (!f || (f->flags & O_PATH)) return -EBADF;
    if (static_cast<int64_t>(off) < 0 || static_cast<int64_t>(len) <= 0) return -EINVAL;
    if (mode & ~FALLOC_FL_KEEP_SIZE) return -EOPNOTSUPP;
    if (!file_can_write(f)) return -EBADF;
    if (is_dir(f->inode)) return -EISDIR;
    if (!is_reg(f->inode)) return -ENODEV;
    if (off + len > kMaxFileSize) return -EFBIG;
    if (is_vol(f->inode)) {
        vol_refresh(f->inode);
        bool grow = !(mode & FALLOC_FL_KEEP_SIZE) && off + len > f->inode->size;
        return grow ? vol_truncate(f->inode, off + len) : 0;
    }
    if (!fs_writable(f->inode)) return -EROFS;
    if (!(mode & FALLOC_FL_KEEP_SIZE) && off + len > f->inode->size)
        return tmpfs_resize(f->inode, off + len);
    return 0;
}

// Everything but volumes lives in memory: syncing has nothing to do. A
// volume's file returns once the host's fsync did.
int64_t do_fsync(uint64_t fd, bool datasync) {
    File* f = fd_get(fd_arg(fd));
    if (!f || (f->flags & O_PATH)) return -EBADF;
    return is_vol(f->inode) ? vol_fsync(f->inode, datasync) : 0;
}
int64_t sys_fsync(uint64_t fd, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return do_fsync(fd, false);
}
int64_t sys_fdatasync(uint64_t fd, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return do_fsync(fd, true);
}

int64_t sys_fadvise64(uint64_t fd, uint64_t, uint64_t, uint64_t advice, uint64_t, uint64_t) {
    File* f = fd_get(fd_arg(fd));
    if (!f || (f->flags & O_PATH)) return -EBADF;
    if (f->inode->special == Special::kPipe) return -ESPIPE;
    return advice > 5 ? -EINVAL : 0;
}

}  // namespace

void register_rw_syscalls() {
    syscall_register(nr::read, "read", sys_read);
    syscall_register(nr::write, "write", sys_write);
    syscall_register(nr::pread64, "pread64", sys_pread64);
    syscall_register(nr::pwrite64, "pwrite64", sys_pwrite64);
    syscall_register(nr::readv, "readv", sys_readv);
    syscall_register(nr::writev, "writev", sys_writev);
    syscall_register(nr::preadv, "preadv", sys_preadv);
    syscall_register(nr::pwritev, "pwritev", sys_pwritev);
    syscall_register(nr::lseek, "lseek", sys_lseek);
    syscall_register(nr::sendfile, "sendfile", sys_sendfile);
    syscall_register(nr::getdents64, "getdents64", sys_getdents64);
    syscall_register(nr::getdents, "getdents", sys_getdents);
    syscall_register(nr::ftruncate, "ftruncate", sys_ftruncate);
    syscall_register(nr::fallocate, "fallocate", sys_fallocate);
    syscall_register(nr::fsync, "fsync", sys_fsync);
    syscall_register(nr::fdatasync, "fdatasync", sys_fdatasync);
    syscall_register(nr::fadvise64, "fadvise64", sys_fadvise64);
}

}  // namespace k::fs
