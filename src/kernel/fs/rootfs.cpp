// rootfs.cpp - builds the tree at boot: the read-only root file system from
// the cpio archive (file bytes stay in the archive), then the synthetic
// directories: a tmpfs at /tmp, devices in /dev (with a tmpfs /dev/shm),
// /proc and /sys (procfs.cpp). These replace whatever the archive had at
// those paths, as a mount would hide it.
#include "common/cpio.h"
#include "fs/fd.h"
#include "fs/volume.h"

namespace k::fs {

namespace {
namespace cpio = ember::cpio;

constexpr uint32_t makedev(uint32_t major, uint32_t minor) {
    return (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xffu) << 12);
}

// Regular files with nlink > 1 seen so far: later entries with the same
// (dev, ino) become hard links of the same inode (newc stores the data once).
struct HardLink {
    HardLink* next;
    uint32_t ino, dev_major, dev_minor;
    Inode* inode;
};

// Building the tree must not stamp directories with the boot time: the
// archive's times stand.
Dirent* link_keep_times(Inode* dir, const char* name, uint32_t len, Inode* child) {
    int64_t m = dir->mtime_ns, c = dir->ctime_ns;
    Dirent* d = dir_link(dir, name, len, child);
    dir->mtime_ns = m;
    dir->ctime_ns = c;
    return d;
}

void unlink_keep_times(Inode* dir, Dirent* d) {
    int64_t m = dir->mtime_ns, c = dir->ctime_ns;
    dir_unlink(dir, d);
    dir->mtime_ns = m;
    dir->ctime_ns = c;
}

bool fail(const char* name, const char* why) {
    klog("rootfs: entry '%s': %s", name, why);
    return false;
}

Inode* find_hard_link(HardLink* list, const cpio::Entry& e) {
    for (HardLink* h = list; h; h = h->next)
        if (h->ino == e.ino && h->dev_major == e.dev_major && h->dev_minor == e.dev_minor)
            return h->inode;
    return nullptr;
}

bool known_type(uint32_t type) {
    return type == S_IFDIR || type == S_IFREG || type == S_IFLNK || type == S_IFCHR ||
           type == S_IFBLK || type == S_IFIFO || type == S_IFSOCK;
}

// Adds one archive entry at the normalised path (missing parents become
// directories). A later entry replaces an earlier one of a non-directory type.
bool add_entry(const char* path, const cpio::Entry& e, HardLink** links) {
    uint32_t type = e.mode & S_IFMT;
    int64_t mtime = static_cast<int64_t>(e.mtime) * 1000000000;
    if (!known_type(type)) return fail(path, "unknown file type");
    if (path[0] == 0) {  // "." describes the root itself
        if (type != S_IFDIR) return fail(".", "the root is not a directory");
        root()->mode = S_IFDIR | (e.mode & 07777);
        root()->atime_ns = root()->mtime_ns = root()->ctime_ns = mtime;
        return true;
    }

    Inode* dir = root();
    const char* p = path;
    for (;;) {
        const char* slash = p;
        while (*slash && *slash != '/') slash++;
        uint32_t len = static_cast<uint32_t>(slash - p);
        if (len > kNameMax) return fail(path, "name component longer than 255 bytes");
        if (!*slash) break;
        Dirent* d = dir_find(dir, p, len);
        if (!d) {
            Inode* n = inode_new(FsId::kRootfs, S_IFDIR | 0755);
            if (!n) return fail(path, "out of memory");
            n->atime_ns = n->mtime_ns = n->ctime_ns = mtime;
            if (!link_keep_times(dir, p, len, n)) {
                inode_maybe_free(n);
                return fail(path, "out of memory");
            }
            d = n->dentry;
        }
        if (!is_dir(d->inode)) return fail(path, "a parent is not a directory");
        dir = d->inode;
        p = slash + 1;
    }
    uint32_t len = static_cast<uint32_t>(strlen(p));

    if (Dirent* d = dir_find(dir, p, len)) {
        Inode* old = d->inode;
        if (is_dir(old) && type == S_IFDIR) {
            old->mode = S_IFDIR | (e.mode & 07777);
            old->atime_ns = old->mtime_ns = old->ctime_ns = mtime;
            return true;
        }
        if (is_dir(old) || type == S_IFDIR)
            return fail(path, "directory and non-directory share a name");
        unlink_keep_times(dir, d);
    }

    Inode* n = type == S_IFREG && e.nlink > 1 ? find_hard_link(*links, e) : nullptr;
    if (n) {
        if (e.size > 0) {
            n->rodata = e.data;
            n->size = e.size;
        }
        if (!link_keep_times(dir, p, len, n)) return fail(path, "out of memory");
        return true;
    }

    n = inode_new(FsId::kRootfs, type | (e.mode & 07777));
    if (!n) return fail(path, "out of memory");
    n->atime_ns = n->mtime_ns = n->ctime_ns = mtime;
    if (type == S_IFREG || type == S_IFLNK) {
        n->rodata = e.data;
        n->size = e.size;
    }
    if (type == S_IFLNK && (e.size == 0 || e.size >= kPathMax)) {
        inode_maybe_free(n);
        return fail(path, "symlink target is empty or longer than 4095 bytes");
    }
    if (type == S_IFCHR || type == S_IFBLK) n->rdev = makedev(e.rdev_major, e.rdev_minor);
    if (!link_keep_times(dir, p, len, n)) {
        inode_maybe_free(n);
        return fail(path, "out of memory");
    }
    if (type == S_IFREG && e.nlink > 1) {
        auto* h = static_cast<HardLink*>(kmalloc(sizeof(HardLink)));
        if (!h) return fail(path, "out of memory");
        *h = HardLink{*links, e.ino, e.dev_major, e.dev_minor, n};
        *links = h;
    }
    return true;
}

bool load_archive(const uint8_t* data, uint64_t size) {
    cpio::Reader reader(data, size);
    HardLink* links = nullptr;
    bool ok = true;
    char path[kPathMax];
    for (;;) {
        cpio::Entry e;
        uint64_t at = reader.offset();
        cpio::Error err = reader.next(&e);
        if (err == cpio::Error::kEnd) break;
        if (err != cpio::Error::kOk) {
            klog("rootfs: malformed archive at offset %llu: %s",
                 static_cast<unsigned long long>(at), cpio::error_string(err));
            ok = false;
            break;
        }
        if (!cpio::normalize_name(e.name, e.name_len, path, sizeof path)) {
            ok = fail(e.name, "bad name (\"..\" component or too long)");
            break;
        }
        if (!add_entry(path, e, &links)) {
            ok = false;
            break;
        }
    }
    while (links) {
        HardLink* next = links->next;
        kfree(links);
        links = next;
    }
    return ok;
}

// Links a new, empty directory of file system fs, with its own device
// number, at dir/name, replacing (and freeing) what the archive had there.
Inode* mount_dir(Inode* dir, const char* name, FsId fs, uint32_t mode, uint32_t dev) {
    uint32_t len = static_cast<uint32_t>(strlen(name));
    if (Dirent* d = dir_find(dir, name, len)) {
        if (is_dir(d->inode)) dir_clear(d->inode);
        unlink_keep_times(dir, d);
    }
    Inode* n = inode_new(fs, mode);
    if (!n) return nullptr;
    n->dev = dev;
    if (!link_keep_times(dir, name, len, n)) {
        inode_maybe_free(n);
        return nullptr;
    }
    return n;
}

Inode* add_node(Inode* dir, const char* name, uint32_t mode, Special special, uint32_t rdev) {
    Inode* n = inode_new(dir->fs, mode);
    if (!n) return nullptr;
    n->special = special;
    n->rdev = rdev;
    if (!link_keep_times(dir, name, static_cast<uint32_t>(strlen(name)), n)) {
        inode_maybe_free(n);
        return nullptr;
    }
    return n;
}

// Device numbers: "/" is 1 (vfs_create_root), the mounts follow in order.
bool mount_synthetic() {
    Inode* r = root();
    if (!mount_dir(r, "tmp", FsId::kTmpfs, S_IFDIR | 01777, 2)) return false;

    Inode* dev = mount_dir(r, "dev", FsId::kDevfs, S_IFDIR | 0755, 3);
    if (!dev) return false;
    struct DevNode {
        const char* name;
        Special special;
        uint32_t major, minor;
    };
    static constexpr DevNode kDevices[] = {
        {"null", Special::kNull, 1, 3},      {"zero", Special::kZero, 1, 5},
        {"full", Special::kFull, 1, 7},      {"random", Special::kRandom, 1, 8},
        {"urandom", Special::kRandom, 1, 9},
    };
    for (const DevNode& d : kDevices)
        if (!add_node(dev, d.name, S_IFCHR | 0666, d.special, makedev(d.major, d.minor)))
            return false;
    static constexpr const char* kAliases[] = {"stdin", "stdout", "stderr"};
    for (uint8_t fd = 0; fd < 3; fd++) {
        Inode* n = add_node(dev, kAliases[fd], S_IFCHR | 0620, Special::kFdAlias, 0);
        if (!n) return false;
        n->alias_fd = fd;
    }
    if (!mount_dir(dev, "shm", FsId::kTmpfs, S_IFDIR | 01777, 4)) return false;
    static constexpr char kFdDir[] = "/proc/self/fd";  // as udev makes it on Linux
    Inode* fd_link = add_node(dev, "fd", S_IFLNK | 0777, Special::kNone, 0);
    if (!fd_link) return false;
    fd_link->rodata = reinterpret_cast<const uint8_t*>(kFdDir);
    fd_link->size = sizeof kFdDir - 1;

    // /proc and /sys fill themselves when used.
    Inode* proc = mount_dir(r, "proc", FsId::kProcfs, S_IFDIR | 0555, 5);
    Inode* sys = proc ? mount_dir(r, "sys", FsId::kSysfs, S_IFDIR | 0555, 6) : nullptr;
    if (!sys) return false;
    proc_mount(proc, sys);
    return true;
}
}  // namespace

}  // namespace k::fs

namespace k {

bool fs_init(const uint8_t* cpio, uint64_t size) {
    fs::fd_reset();
    fs::vfs_reset();
    if (!fs::vfs_create_root()) {
        klog("rootfs: out of memory");
        return false;
    }
    // No archive at all is a valid, empty root (for programs that need no files).
    if (size != 0 && !fs::load_archive(cpio, size)) return false;
    if (!fs::mount_synthetic()) {
        klog("rootfs: out of memory for /tmp, /dev, /proc, /sys");
        return false;
    }
    if (!fs::vol_mount_all()) {
        klog("rootfs: out of memory for the volumes");
        return false;
    }
    if (fs::open_stdio() < 0) {
        klog("rootfs: cannot open fds 0-2");
        return false;
    }
    return true;
}

int64_t fs_pread_for_mmap(int fd, void* dst, uint64_t len, uint64_t off) {
    fs::File* f = fs::fd_get(fd);
    if (!f || (f->flags & O_PATH)) return -EBADF;
    if (!fs::file_can_read(f)) return -EACCES;
    const fs::Inode* i = f->inode;
    if (!fs::is_reg(i) || fs::is_proc(i)) return -ENODEV;
    if (fs::is_vol(i)) return fs::vol_pread(i, dst, len, off);  // a private copy (volume.h)
    if (off >= i->size) return 0;
    uint64_t n = i->size - off < len ? i->size - off : len;
    memcpy(dst, fs::inode_bytes(i) + off, n);
    return static_cast<int64_t>(n);
}

bool fs_fd_identity(int fd, uint32_t* dev, uint64_t* ino) {
    const fs::File* f = fs::fd_get(fd);
    if (!f) return false;
    linux_stat st;
    fs::inode_stat(f->inode, &st);
    *dev = static_cast<uint32_t>(st.st_dev);
    *ino = st.st_ino;
    return true;
}

}  // namespace k
