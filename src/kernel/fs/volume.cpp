// volume.cpp - see volume.h.
#include "fs/volume.h"

#include "vol_mmap.h"

namespace k::fs {

namespace {

constexpr uint32_t kFirstVolumeDev = 16;  // st_dev of volume 0; the synthetic trees use 1-6

Inode* g_vol_root[EMBER_VOLUMES_MAX];
// Paths and data cross through kernel memory (identity-mapped in every
// address space, so its address is the GPA the host reads). Syscalls run
// to completion without preemption, so one set of buffers serves them all.
char g_path[2][EMBER_VOLUME_PATH_MAX];
uint8_t* g_bounce;  // EMBER_VOLUME_IO_MAX bytes, allocated at mount

// The path of i below its volume's root into buf (no NUL); its length, or
// -ESTALE for an inode no longer linked, -ENAMETOOLONG.
int64_t vol_path(const Inode* i, char* buf) {
    uint32_t len = 0;
    const Inode* root = g_vol_root[i->vol];
    for (const Inode* n = i; n != root; n = n->parent) {
        if (!n->dentry || !n->parent) return -ESTALE;
        len += n->dentry->len + (len ? 1 : 0);
    }
    if (len >= EMBER_VOLUME_PATH_MAX) return -ENAMETOOLONG;
    uint32_t pos = len;
    for (const Inode* n = i; n != root; n = n->parent) {
        if (pos != len) buf[--pos] = '/';
        pos -= n->dentry->len;
        memcpy(buf + pos, n->dentry->name, n->dentry->len);
    }
    return len;
}

// dir's path plus "/name".
int64_t vol_child_path(const Inode* dir, const char* name, uint32_t nlen, char* buf) {
    int64_t len = vol_path(dir, buf);
    if (len < 0) return len;
    auto at = static_cast<uint64_t>(len);
    if (at + 1 + nlen >= EMBER_VOLUME_PATH_MAX) return -ENAMETOOLONG;
    if (at) buf[at++] = '/';
    memcpy(buf + at, name, nlen);
    return static_cast<int64_t>(at + nlen);
}

struct Call {
    uint32_t op;
    uint32_t volume;
    const char* path;
    int64_t path_len;
    const char* path2 = nullptr;
    int64_t path2_len = 0;
    void* buf = nullptr;
    uint64_t len = 0;
    uint64_t offset = 0;
    uint32_t flags = 0;
    uint32_t mode = 0;
};

// One host call; the result (>= 0 or -errno) and, when st is set, the
// stat the host returned.
int64_t vol_call(const Call& c, ember_vol_stat* st = nullptr) {
    if (c.path_len < 0) return c.path_len;
    if (c.path2_len < 0) return c.path2_len;
    auto* a = reinterpret_cast<ember_hc_volume*>(EMBER_HC_SLOT_VOLUME);
    memset(a, 0, sizeof *a);
    a->op = c.op;
    a->volume = c.volume;
    a->path = reinterpret_cast<uint64_t>(c.path);
    a->path_len = static_cast<uint32_t>(c.path_len);
    a->path2 = reinterpret_cast<uint64_t>(c.path2);
    a->path2_len = static_cast<uint32_t>(c.path2_len);
    a->buf = reinterpret_cast<uint64_t>(c.buf);
    a->len = c.len;
    a->offset = c.offset;
    a->flags = c.flags;
    a->mode = c.mode;
    if (hypercall(EMBER_HC_VOLUME, EMBER_HC_SLOT_VOLUME) != EMBER_OK) return -EIO;
    if (st) *st = a->st;
    return a->result;
}

void apply_stat(Inode* i, const ember_vol_stat& st) {
    i->vol_nlink = st.nlink;
    i->size = is_lnk(i) ? i->size : st.size;
    i->mode = (i->mode & S_IFMT) | (st.mode & 07777);
    i->atime_ns = st.atime_ns;
    i->mtime_ns = st.mtime_ns;
    i->ctime_ns = st.ctime_ns;
}

// Drops the cached entry d of dir (and, for a directory, what is cached
// below it); open files keep their inodes, which then fail with ESTALE.
void drop(Inode* dir, Dirent* d) {
    if (is_dir(d->inode)) dir_clear(d->inode);
    dir_unlink(dir, d);
}

// A new cached inode for what the host reported at dir/name.
Inode* cache_new(Inode* dir, const char* name, uint32_t len, const ember_vol_stat& st) {
    uint32_t type = st.mode & S_IFMT;
    if (type != S_IFREG && type != S_IFDIR && type != S_IFLNK) type = S_IFREG;  // fifos etc.
    Inode* i = inode_new(FsId::kVolume, type | (st.mode & 07777));
    if (!i) return nullptr;
    i->ino = st.ino;
    i->vol = dir->vol;
    i->dev = dir->dev;
    if (type == S_IFLNK) {
        int64_t plen = vol_child_path(dir, name, len, g_path[1]);
        int64_t n = vol_call(
            {EMBER_VOL_READLINK, dir->vol, g_path[1], plen, nullptr, 0, g_bounce, kPathMax - 1});
        if (n <= 0 || tmpfs_set_link(i, reinterpret_cast<const char*>(g_bounce),
                                     static_cast<uint32_t>(n)) < 0) {
            inode_maybe_free(i);
            return nullptr;
        }
    }
    Dirent* d = dir_link(dir, name, len, i);
    if (!d) {
        inode_maybe_free(i);
        return nullptr;
    }
    if (!is_dir(i)) {  // dir_link keeps these for directories only
        i->parent = dir;
        i->dentry = d;
    }
    apply_stat(i, st);
    return i;
}

int64_t stat_at(const Lookup* lk, ember_vol_stat* st) {
    int64_t plen = vol_child_path(lk->dir, lk->name, lk->name_len, g_path[0]);
    return vol_call({EMBER_VOL_STAT, lk->dir->vol, g_path[0], plen}, st);
}

// ---- unlinked open files --------------------------------------------------
// A file unlinked (or replaced by a rename) while open is renamed on the
// host to a hidden name in the volume's root, as NFS does, and removed at
// its last close; the guest never shows these names, and a writer's boot
// removes those a killed instance left.
constexpr char kHidden[] = ".ember-unlinked-";
constexpr uint32_t kHiddenLen = sizeof kHidden - 1;
uint64_t g_hidden_seq;

bool hidden(const Inode* dir, const char* name, uint64_t len) {
    return dir == g_vol_root[dir->vol] && len >= kHiddenLen &&
           memcmp(name, kHidden, kHiddenLen) == 0;
}

// Moves the open file of dir's entry d to a hidden name; 0 or -errno.
int64_t hide(Inode* dir, Dirent* d) {
    Inode* i = d->inode;
    Inode* root = g_vol_root[i->vol];
    char name[kHiddenLen + 48];
    for (int tries = 0;; tries++) {
        memcpy(name, kHidden, kHiddenLen);
        uint32_t n = kHiddenLen;
        const uint64_t parts[2] = {i->ino, ++g_hidden_seq};
        for (uint64_t v : parts) {
            char digits[20];
            uint32_t k = 0;
            do digits[k++] = static_cast<char>('0' + v % 10);
            while ((v /= 10) && k < sizeof digits);
            while (k) name[n++] = digits[--k];
            name[n++] = '-';
        }
        n--;  // the last '-'
        int64_t l1 = vol_path(i, g_path[0]);
        int64_t l2 = vol_child_path(root, name, n, g_path[1]);
        int64_t r = vol_call({EMBER_VOL_RENAME, i->vol, g_path[0], l1, g_path[1], l2, nullptr, 0, 0,
                              EMBER_VOL_NOREPLACE});
        if (r == -EEXIST && tries < 8) continue;
        if (r < 0) return r;
        Dirent* nd = dirent_new(name, n);
        if (!nd) return -ENOMEM;  // the host file stays hidden until the next boot
        dir_move(dir, d, root, nd);
        i->vol_unlinked = true;
        return 0;
    }
}

// Removes the hidden names in volume v's root (a writer's boot).
void remove_hidden(uint32_t v) {
    uint64_t pos = 0;
    for (;;) {
        int64_t n = vol_call({EMBER_VOL_READDIR, v, "", 0, nullptr, 0, g_bounce, 64 * 1024, pos});
        if (n <= 0 || n > 64 * 1024) return;
        uint64_t next = pos;
        for (uint64_t at = 0; at + sizeof(linux_dirent64_hdr) < static_cast<uint64_t>(n);) {
            linux_dirent64_hdr h;
            memcpy(&h, g_bounce + at, sizeof h);
            if (h.d_reclen <= sizeof h || h.d_reclen > static_cast<uint64_t>(n) - at) return;
            const char* name = reinterpret_cast<const char*>(g_bounce + at + sizeof h);
            const uint64_t len = strnlen(name, h.d_reclen - sizeof h);
            if (len >= kHiddenLen && len < h.d_reclen - sizeof h &&
                memcmp(name, kHidden, kHiddenLen) == 0) {
                // The record's name goes to the path buffer: the unlink
                // reuses neither g_bounce's records nor their position.
                memcpy(g_path[1], name, len);
                vol_call({EMBER_VOL_UNLINK, v, g_path[1], static_cast<int64_t>(len)});
            }
            next = static_cast<uint64_t>(h.d_off);
            at += h.d_reclen;
        }
        if (next == pos) return;
        pos = next;
    }
}

// ---- file data ----------------------------------------------------------

int64_t vol_read(File* f, void* buf, uint64_t len, uint64_t* pos) {
    int64_t n = vol_pread(f->inode, buf, len, *pos);
    if (n > 0) *pos += static_cast<uint64_t>(n);
    return n;
}

// Writes len bytes at *pos (or at the end: append) to the host file of i
// and advances *pos; the bytes written or -errno.
int64_t write_at(Inode* i, const void* buf, uint64_t len, uint64_t* pos, bool append) {
    if (vol_readonly(i)) return -EROFS;
    int64_t plen = vol_path(i, g_path[0]);
    if (plen < 0) return plen;
    uint64_t done = 0;
    while (done < len) {
        uint64_t chunk = len - done < EMBER_VOLUME_IO_MAX ? len - done : EMBER_VOLUME_IO_MAX;
        memcpy(g_bounce, static_cast<const uint8_t*>(buf) + done, chunk);
        ember_vol_stat st;
        int64_t n = vol_call({EMBER_VOL_WRITE, i->vol, g_path[0], plen, nullptr, 0, g_bounce, chunk,
                              *pos, append ? EMBER_VOL_APPEND : 0u},
                             &st);
        if (n < 0) {
            if (done) break;
            return n;
        }
        i->size = st.size;
        *pos = append ? st.size : *pos + static_cast<uint64_t>(n);
        done += static_cast<uint64_t>(n);
        if (static_cast<uint64_t>(n) < chunk) break;  // the quota cut it short
    }
    inode_touch(i, true);
    return static_cast<int64_t>(done);
}

int64_t vol_write(File* f, const void* buf, uint64_t len, uint64_t* pos) {
    int64_t n = write_at(f->inode, buf, len, pos, (f->flags & O_APPEND) != 0);
    // The file's shared mappings show what was written (vol_mmap.h).
    if (n > 0)
        volmap_written(f->inode, buf, *pos - static_cast<uint64_t>(n), static_cast<uint64_t>(n));
    return n;
}

}  // namespace

const FileOps kVolFileOps = {vol_read, vol_write, nullptr, nullptr, nullptr, true};

bool vol_readonly(const Inode* i) { return (boot()->volumes[i->vol].flags & EMBER_VOLUME_RO) != 0; }

bool vol_mount_all() {
    const ember_boot_info* b = boot();
    uint32_t count = b->volume_count < EMBER_VOLUMES_MAX ? b->volume_count : EMBER_VOLUMES_MAX;
    for (uint32_t v = 0; v < count; v++) {
        char path[EMBER_VOLUME_MOUNT_MAX];
        memcpy(path, b->volumes[v].mount, sizeof path);
        path[sizeof path - 1] = 0;
        if (path[0] != '/') continue;
        if (!g_bounce && !(g_bounce = static_cast<uint8_t*>(kmalloc(EMBER_VOLUME_IO_MAX))))
            return false;
        // Walk (making missing directories, as a mount point must exist)
        // to the parent, then put a volume root in place of the last name.
        Inode* dir = root();
        char* p = path + 1;
        for (;;) {
            char* slash = p;
            while (*slash && *slash != '/') slash++;
            auto len = static_cast<uint32_t>(slash - p);
            if (len == 0) break;
            if (*slash == 0) {
                Dirent* old = dir_find(dir, p, len);
                if (old) drop(dir, old);
                Inode* r = inode_new(FsId::kVolume, S_IFDIR | 0755);
                if (!r) return false;
                r->vol = static_cast<uint8_t>(v);
                r->dev = kFirstVolumeDev + v;
                if (!dir_link(dir, p, len, r)) return false;
                ember_vol_stat st;
                if (vol_call({EMBER_VOL_STAT, v, "", 0}, &st) == 0) {
                    r->ino = st.ino;
                    apply_stat(r, st);
                }
                g_vol_root[v] = r;
                if (!(b->volumes[v].flags & EMBER_VOLUME_RO)) remove_hidden(v);
                break;
            }
            Dirent* d = dir_find(dir, p, len);
            Inode* next = d ? d->inode : nullptr;
            if (!next) {
                next = inode_new(FsId::kRootfs, S_IFDIR | 0755);
                if (!next || !dir_link(dir, p, len, next)) return false;
            } else if (!is_dir(next) || is_vol(next) || is_proc(next)) {
                klog("volume: mount point is not under a plain directory");
                break;
            }
            dir = next;
            p = slash + 1;
        }
    }
    return true;
}

Inode* vol_lookup(Inode* dir, const char* name, uint32_t len, int64_t* err) {
    if (hidden(dir, name, len)) {
        *err = -ENOENT;
        return nullptr;
    }
    int64_t plen = vol_child_path(dir, name, len, g_path[0]);
    ember_vol_stat st;
    int64_t r = vol_call({EMBER_VOL_STAT, dir->vol, g_path[0], plen}, &st);
    Dirent* d = dir_find(dir, name, len);
    *err = r < 0 ? r : -ENOMEM;  // cache_new fails only for memory
    if (r < 0) {
        if (d && r == -ENOENT) drop(dir, d);
        return nullptr;
    }
    if (d) {
        Inode* i = d->inode;
        if (i->ino == st.ino && (i->mode & S_IFMT) == (st.mode & S_IFMT)) {
            apply_stat(i, st);
            return i;
        }
        drop(dir, d);  // replaced on the host since it was cached
    }
    return cache_new(dir, name, len, st);
}

void vol_refresh(Inode* i) {
    int64_t plen = vol_path(i, g_path[0]);
    ember_vol_stat st;
    if (vol_call({EMBER_VOL_STAT, i->vol, g_path[0], plen}, &st) == 0 && st.ino == i->ino)
        apply_stat(i, st);
}

int64_t vol_create(const Lookup* lk, uint32_t mode, bool excl, Inode** out) {
    if (vol_readonly(lk->dir)) return -EROFS;
    if (hidden(lk->dir, lk->name, lk->name_len)) return -EACCES;  // reserved
    int64_t plen = vol_child_path(lk->dir, lk->name, lk->name_len, g_path[0]);
    ember_vol_stat st;
    int64_t r = vol_call({EMBER_VOL_CREATE, lk->dir->vol, g_path[0], plen, nullptr, 0, nullptr, 0,
                          0, excl ? EMBER_VOL_EXCL : 0u, mode & 07777},
                         &st);
    if (r < 0) return r;
    if (Dirent* d = dir_find(lk->dir, lk->name, lk->name_len)) drop(lk->dir, d);
    *out = cache_new(lk->dir, lk->name, lk->name_len, st);
    return *out ? 0 : -ENOMEM;
}

int64_t vol_mkdir(const Lookup* lk, uint32_t mode) {
    if (vol_readonly(lk->dir)) return -EROFS;
    if (hidden(lk->dir, lk->name, lk->name_len)) return -EACCES;  // reserved
    int64_t plen = vol_child_path(lk->dir, lk->name, lk->name_len, g_path[0]);
    int64_t r = vol_call(
        {EMBER_VOL_MKDIR, lk->dir->vol, g_path[0], plen, nullptr, 0, nullptr, 0, 0, 0, mode});
    if (r < 0) return r;
    ember_vol_stat st;
    if (stat_at(lk, &st) == 0 && !cache_new(lk->dir, lk->name, lk->name_len, st)) return -ENOMEM;
    return 0;
}

int64_t vol_unlink(const Lookup* lk, bool rmdir) {
    if (vol_readonly(lk->dir)) return -EROFS;
    Dirent* open = dir_find(lk->dir, lk->name, lk->name_len);
    if (!rmdir && open && open->inode->refs > 0 && !is_dir(open->inode))
        return hide(lk->dir, open);  // still open: Linux keeps its data until the last close
    int64_t plen = vol_child_path(lk->dir, lk->name, lk->name_len, g_path[0]);
    int64_t r =
        vol_call({rmdir ? EMBER_VOL_RMDIR : EMBER_VOL_UNLINK, lk->dir->vol, g_path[0], plen});
    if (r < 0) return r;
    if (Dirent* d = dir_find(lk->dir, lk->name, lk->name_len)) drop(lk->dir, d);
    return 0;
}

int64_t vol_rename(const Lookup* from, const Lookup* to, uint64_t flags) {
    if (vol_readonly(from->dir)) return -EROFS;
    if (hidden(to->dir, to->name, to->name_len)) return -EACCES;
    Dirent* target = dir_find(to->dir, to->name, to->name_len);
    Dirent* source = dir_find(from->dir, from->name, from->name_len);
    if (target && target != source && !(flags & RENAME_NOREPLACE) && target->inode->refs > 0 &&
        !is_dir(target->inode)) {
        // An open file about to be replaced keeps its data (as Linux).
        ember_vol_stat st;
        if (stat_at(from, &st) < 0) return -ENOENT;
        if ((st.mode & S_IFMT) != S_IFDIR) {
            if (int64_t r = hide(to->dir, target); r < 0) return r;
        }
    }
    int64_t l1 = vol_child_path(from->dir, from->name, from->name_len, g_path[0]);
    int64_t l2 = vol_child_path(to->dir, to->name, to->name_len, g_path[1]);
    int64_t r = vol_call({EMBER_VOL_RENAME, from->dir->vol, g_path[0], l1, g_path[1], l2, nullptr,
                          0, 0, (flags & RENAME_NOREPLACE) ? EMBER_VOL_NOREPLACE : 0u});
    if (r < 0) return r;
    Dirent* od = dir_find(from->dir, from->name, from->name_len);
    if (Dirent* dd = dir_find(to->dir, to->name, to->name_len); dd && dd != od) drop(to->dir, dd);
    if (od) {
        Dirent* nd = dirent_new(to->name, to->name_len);
        if (!nd) {
            drop(from->dir, od);  // looked up again from the host when next used
            return 0;
        }
        dir_move(from->dir, od, to->dir, nd);
    }
    return 0;
}

int64_t vol_symlink(const Lookup* lk, const char* target, uint32_t len) {
    if (vol_readonly(lk->dir)) return -EROFS;
    if (hidden(lk->dir, lk->name, lk->name_len)) return -EACCES;  // reserved
    if (len >= kPathMax) return -ENAMETOOLONG;
    memcpy(g_bounce, target, len);
    int64_t plen = vol_child_path(lk->dir, lk->name, lk->name_len, g_path[0]);
    int64_t r =
        vol_call({EMBER_VOL_SYMLINK, lk->dir->vol, g_path[0], plen, nullptr, 0, g_bounce, len});
    if (r < 0) return r;
    ember_vol_stat st;
    if (stat_at(lk, &st) == 0 && !cache_new(lk->dir, lk->name, lk->name_len, st)) return -ENOMEM;
    return 0;
}

int64_t vol_truncate(Inode* i, uint64_t size) {
    if (vol_readonly(i)) return -EROFS;
    int64_t plen = vol_path(i, g_path[0]);
    int64_t r =
        vol_call({EMBER_VOL_TRUNCATE, i->vol, g_path[0], plen, nullptr, 0, nullptr, 0, size});
    if (r == 0) {
        if (size < i->size) volmap_truncated(i, size);
        i->size = size;
        inode_touch(i, true);
    }
    return r;
}

int64_t vol_fsync(Inode* i, bool datasync) {
    if (int64_t r = volmap_flush(i, 0, ~0ull); r < 0) return r;
    return vol_host_fsync(i, datasync);
}

int64_t vol_pwrite(Inode* i, const void* src, uint64_t len, uint64_t off) {
    return write_at(i, src, len, &off, false);
}

int64_t vol_host_fsync(Inode* i, bool datasync) {
    int64_t plen = vol_path(i, g_path[0]);
    return vol_call({EMBER_VOL_FSYNC, i->vol, g_path[0], plen, nullptr, 0, nullptr, 0, 0,
                     datasync ? EMBER_VOL_DATASYNC : 0u});
}

int64_t vol_pread(const Inode* i, void* dst, uint64_t len, uint64_t off) {
    // What the instance wrote through shared mappings is part of the file.
    if (int64_t r = volmap_flush(const_cast<Inode*>(i), off, len); r < 0) return r;
    int64_t plen = vol_path(i, g_path[0]);
    if (plen < 0) return plen;
    uint64_t done = 0;
    while (done < len) {
        uint64_t chunk = len - done < EMBER_VOLUME_IO_MAX ? len - done : EMBER_VOLUME_IO_MAX;
        int64_t n = vol_call(
            {EMBER_VOL_READ, i->vol, g_path[0], plen, nullptr, 0, g_bounce, chunk, off + done});
        if (n < 0) {
            if (done) break;
            return n;
        }
        if (static_cast<uint64_t>(n) > chunk) return -EIO;
        memcpy(static_cast<uint8_t*>(dst) + done, g_bounce, static_cast<uint64_t>(n));
        done += static_cast<uint64_t>(n);
        if (static_cast<uint64_t>(n) < chunk) break;  // end of file
    }
    return static_cast<int64_t>(done);
}

int64_t vol_getdents(File* f, uint64_t ubuf, uint64_t count, bool wide) {
    if (count > EMBER_VOLUME_IO_MAX) count = EMBER_VOLUME_IO_MAX;
    auto* out = static_cast<uint8_t*>(count ? user_buffer_write(ubuf, count) : nullptr);
    if (count && !out) return -EFAULT;
    int64_t plen = vol_path(f->inode, g_path[0]);
    int64_t n = vol_call(
        {EMBER_VOL_READDIR, f->inode->vol, g_path[0], plen, nullptr, 0, g_bounce, count, f->pos});
    if (n < 0) return n;
    if (static_cast<uint64_t>(n) > count) return -EIO;
    // The host's records, checked, in the caller's format; stops where the
    // caller's buffer is full and continues from there next time.
    uint64_t used = 0;
    for (uint64_t at = 0; at < static_cast<uint64_t>(n);) {
        linux_dirent64_hdr h;
        if (static_cast<uint64_t>(n) - at < sizeof h) return -EIO;
        memcpy(&h, g_bounce + at, sizeof h);
        if (h.d_reclen < sizeof h + 1 || h.d_reclen > static_cast<uint64_t>(n) - at) return -EIO;
        const char* name = reinterpret_cast<const char*>(g_bounce + at + sizeof h);
        uint64_t len = strnlen(name, h.d_reclen - sizeof h);
        if (len == h.d_reclen - sizeof h) return -EIO;  // no NUL inside the record
        if (hidden(f->inode, name, len)) {
            f->pos = static_cast<uint64_t>(h.d_off);
            at += h.d_reclen;
            continue;
        }
        uint64_t hdr = wide ? sizeof h : 18;
        uint64_t reclen = (hdr + len + (wide ? 1 : 2) + 7) & ~7ull;
        if (used + reclen > count) {
            if (used == 0) return -EINVAL;
            break;
        }
        uint8_t* rec = out + used;
        memset(rec, 0, reclen);
        memcpy(rec, &h.d_ino, 8);
        memcpy(rec + 8, &h.d_off, 8);
        auto rl = static_cast<uint16_t>(reclen);
        memcpy(rec + 16, &rl, 2);
        if (wide)
            rec[18] = h.d_type;
        else
            rec[reclen - 1] = h.d_type;
        memcpy(rec + hdr, name, len);
        used += reclen;
        f->pos = static_cast<uint64_t>(h.d_off);
        at += h.d_reclen;
    }
    return static_cast<int64_t>(used);
}

void vol_reap(Inode* i) {
    Dirent* d = i->dentry;
    Inode* dir = i->parent;
    int64_t plen = vol_path(i, g_path[0]);
    if (plen >= 0) vol_call({EMBER_VOL_UNLINK, i->vol, g_path[0], plen});
    i->vol_unlinked = false;
    if (d && dir)
        dir_unlink(dir, d);  // frees i (no name, no reference left)
    else
        inode_maybe_free(i);
}

int64_t vol_chmod(Inode* i, uint32_t mode) {
    if (vol_readonly(i)) return -EROFS;
    int64_t plen = vol_path(i, g_path[0]);
    int64_t r = vol_call(
        {EMBER_VOL_CHMOD, i->vol, g_path[0], plen, nullptr, 0, nullptr, 0, 0, 0, mode & 07777});
    if (r < 0) return r;
    i->mode = (i->mode & S_IFMT) | (mode & 07777);
    inode_touch(i, false);
    return 0;
}

int64_t vol_utimes(Inode* i, int64_t atime_ns, int64_t mtime_ns) {
    if (vol_readonly(i)) return -EROFS;
    if (is_lnk(i)) return -EOPNOTSUPP;  // the host's symlink itself is never opened
    int64_t plen = vol_path(i, g_path[0]);
    const int64_t ns[2] = {atime_ns, mtime_ns};
    memcpy(g_bounce, ns, sizeof ns);
    int64_t r =
        vol_call({EMBER_VOL_UTIMES, i->vol, g_path[0], plen, nullptr, 0, g_bounce, sizeof ns});
    if (r < 0) return r;
    if (atime_ns >= 0) i->atime_ns = atime_ns;
    if (mtime_ns >= 0) i->mtime_ns = mtime_ns;
    inode_touch(i, false);
    return 0;
}

int64_t vol_link(Inode* src, const Lookup* to) {
    if (vol_readonly(to->dir)) return -EROFS;
    if (hidden(to->dir, to->name, to->name_len)) return -EACCES;
    if (src->vol != to->dir->vol) return -EXDEV;
    int64_t l1 = vol_path(src, g_path[0]);
    int64_t l2 = vol_child_path(to->dir, to->name, to->name_len, g_path[1]);
    int64_t r = vol_call({EMBER_VOL_LINK, src->vol, g_path[0], l1, g_path[1], l2});
    if (r < 0) return r;
    ember_vol_stat st;
    if (stat_at(to, &st) == 0 && !cache_new(to->dir, to->name, to->name_len, st)) return -ENOMEM;
    src->vol_nlink = st.nlink;
    inode_touch(src, false);
    return 0;
}

}  // namespace k::fs
