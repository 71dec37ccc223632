// vfs.cpp - inodes, directory entries and the path walk.
#include "fs/vfs.h"

#include "fs/volume.h"

namespace k::fs {

namespace {
// Plain POD globals: the kernel runs no constructors (no init_array).
Inode* g_root;
Inode* g_cwd;
uint32_t g_umask = 022;
uint64_t g_next_ino;

// Every directory entry is also in one hash table keyed by (directory, name),
// so that lookups and building a large archive directory are not quadratic.
// The seed is random per boot: crafted names cannot aim at one chain.
struct NameHash {
    Dirent** buckets;
    uint64_t mask;  // bucket count - 1 (a power of two)
    uint64_t count;
    uint64_t seed;
};
NameHash g_hash;

uint64_t name_hash(const Inode* dir, const char* name, uint32_t len) {
    uint64_t h = 0xcbf29ce484222325ull ^ g_hash.seed ^ (dir->ino * 0x9e3779b97f4a7c15ull);
    for (uint32_t i = 0; i < len; i++) h = (h ^ static_cast<uint8_t>(name[i])) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

bool hash_resize(uint64_t n) {
    // An array of pointers: the size of a pointer is meant.
    // NOLINTNEXTLINE(bugprone-sizeof-expression)
    auto** b = static_cast<Dirent**>(kcalloc(n, sizeof(Dirent*)));
    if (!b) return false;
    for (uint64_t i = 0; g_hash.buckets && i <= g_hash.mask; i++) {
        for (Dirent* d = g_hash.buckets[i]; d;) {
            Dirent* next = d->hnext;
            d->hnext = b[d->hash & (n - 1)];
            b[d->hash & (n - 1)] = d;
            d = next;
        }
    }
    kfree(g_hash.buckets);
    g_hash.buckets = b;
    g_hash.mask = n - 1;
    return true;
}

void hash_insert(Dirent* d) {
    // Growth failing only makes chains longer.
    if (g_hash.count > g_hash.mask) hash_resize((g_hash.mask + 1) * 2);
    Dirent** head = &g_hash.buckets[d->hash & g_hash.mask];
    d->hnext = *head;
    *head = d;
    g_hash.count++;
}

void hash_remove(Dirent* d) {
    Dirent** p = &g_hash.buckets[d->hash & g_hash.mask];
    while (*p != d) p = &(*p)->hnext;
    *p = d->hnext;
    g_hash.count--;
}

void list_remove(Inode* dir, Dirent* d) {
    hash_remove(d);
    if (d->prev)
        d->prev->next = d->next;
    else
        dir->first = d->next;
    if (d->next)
        d->next->prev = d->prev;
    else
        dir->last = d->prev;
    d->next = d->prev = nullptr;
}

void list_append(Inode* dir, Dirent* d, Inode* child) {
    d->dir = dir;
    d->hash = name_hash(dir, d->name, d->len);
    hash_insert(d);
    d->inode = child;
    d->cookie = dir->next_cookie++;
    d->prev = dir->last;
    d->next = nullptr;
    if (dir->last)
        dir->last->next = d;
    else
        dir->first = d;
    dir->last = d;
}

void ts_from_ns(int64_t ns, linux_timespec* ts) {
    int64_t s = ns / 1000000000, r = ns % 1000000000;
    if (r < 0) r += 1000000000, s -= 1;
    ts->tv_sec = s;
    ts->tv_nsec = r;
}

uint64_t blocks_of(const Inode* i) {
    uint64_t bytes = i->data ? i->cap : (is_reg(i) ? i->size : 0);
    return (bytes + 4095) / 4096 * 8;
}
}  // namespace

Inode* root() { return g_root; }
Inode* cwd() { return g_cwd; }

void set_cwd(Inode* dir) {
    inode_get(dir);
    Inode* old = g_cwd;
    g_cwd = dir;
    if (old) inode_put(old);
}

Inode* exchange_cwd(Inode* dir) {
    Inode* old = g_cwd;
    g_cwd = dir;
    return old;
}

uint32_t umask() { return g_umask; }
uint32_t set_umask(uint32_t mask) {
    uint32_t old = g_umask;
    g_umask = mask & 0777;
    return old;
}

void vfs_reset() {
    if (g_cwd) inode_put(g_cwd);
    g_cwd = nullptr;
    if (g_root) {
        dir_clear(g_root);
        g_root->nlink = 0;
        inode_maybe_free(g_root);
    }
    g_root = nullptr;
    kfree(g_hash.buckets);
    g_hash = NameHash{};
    g_umask = 022;
    g_next_ino = 1;
}

bool vfs_create_root() {
    KCHECK(!g_hash.buckets);
    random_fill(&g_hash.seed, sizeof g_hash.seed);
    if (!hash_resize(256)) return false;
    g_root = inode_new(FsId::kRootfs, S_IFDIR | 0755);
    if (!g_root) return false;
    g_root->nlink = 2;
    g_root->dev = 1;
    set_cwd(g_root);
    return true;
}

// ---- inodes ---------------------------------------------------------------

Inode* inode_new(FsId fs, uint32_t mode) {
    auto* i = static_cast<Inode*>(kmalloc(sizeof(Inode)));
    if (!i) return nullptr;
    i->ino = ++g_next_ino;
    i->mode = mode;
    i->fs = fs;
    i->next_cookie = 2;
    int64_t now = realtime_ns();
    i->atime_ns = i->mtime_ns = i->ctime_ns = now;
    return i;
}

void inode_get(Inode* i) { i->refs++; }

void inode_put(Inode* i) {
    KCHECK(i->refs > 0);
    i->refs--;
    if (i->refs == 0 && i->vol_unlinked) {
        vol_reap(i);  // the last close of an unlinked volume file removes it
        return;
    }
    inode_maybe_free(i);
}

void inode_maybe_free(Inode* i) {
    if (i->nlink != 0 || i->refs != 0) return;
    KCHECK(!i->first);
    tmpfs_free_data(i);
    if (i->pipe) pipe_free(i->pipe);
    kfree(i);
}

void inode_touch(Inode* i, bool modified) {
    int64_t now = realtime_ns();
    i->ctime_ns = now;
    if (modified) i->mtime_ns = now;
}

void inode_stat(const Inode* i, linux_stat* st) {
    memset(st, 0, sizeof *st);
    st->st_dev = i->dev ? i->dev : static_cast<uint64_t>(i->fs);
    st->st_ino = i->ino;
    st->st_nlink = i->nlink;
    if (i->fs == FsId::kVolume && !is_dir(i)) st->st_nlink = i->vol_unlinked ? 0 : i->vol_nlink;
    st->st_mode = i->mode;
    st->st_rdev = i->rdev;
    st->st_size = static_cast<int64_t>(is_dir(i)                  ? (is_proc(i) ? 0 : 4096)
                                       : (is_reg(i) || is_lnk(i)) ? i->size
                                                                  : 0);
    if (i->special == Special::kProcLink) {
        uint32_t len;
        link_target(i, &len);
        st->st_size = len;
    }
    st->st_blksize = 4096;
    st->st_blocks = static_cast<int64_t>(blocks_of(i));
    ts_from_ns(i->atime_ns, &st->st_atim);
    ts_from_ns(i->mtime_ns, &st->st_mtim);
    ts_from_ns(i->ctime_ns, &st->st_ctim);
}

void inode_statx(const Inode* i, linux_statx* stx) {
    linux_stat st;
    inode_stat(i, &st);
    memset(stx, 0, sizeof *stx);
    stx->stx_mask = STATX_BASIC_STATS;
    stx->stx_blksize = 4096;
    stx->stx_nlink = static_cast<uint32_t>(st.st_nlink);
    stx->stx_mode = static_cast<uint16_t>(st.st_mode);
    stx->stx_ino = st.st_ino;
    stx->stx_size = static_cast<uint64_t>(st.st_size);
    stx->stx_blocks = static_cast<uint64_t>(st.st_blocks);
    stx->stx_atime = {st.st_atim.tv_sec, static_cast<uint32_t>(st.st_atim.tv_nsec), 0};
    stx->stx_mtime = {st.st_mtim.tv_sec, static_cast<uint32_t>(st.st_mtim.tv_nsec), 0};
    stx->stx_ctime = {st.st_ctim.tv_sec, static_cast<uint32_t>(st.st_ctim.tv_nsec), 0};
    stx->stx_rdev_major = (i->rdev >> 8) & 0xfff;
    stx->stx_rdev_minor = (i->rdev & 0xff) | ((i->rdev >> 12) & 0xfff00);
    stx->stx_dev_major = 0;
    stx->stx_dev_minor = static_cast<uint32_t>(st.st_dev);
}

const char* link_target(const Inode* i, uint32_t* len) {
    if (i->special == Special::kProcLink) return proc_link_target(i, len);
    *len = static_cast<uint32_t>(i->size);
    return reinterpret_cast<const char*>(inode_bytes(i));
}

// ---- directories ------------------------------------------------------------

Dirent* dir_find(const Inode* dir, const char* name, uint32_t len) {
    uint64_t h = name_hash(dir, name, len);
    for (Dirent* d = g_hash.buckets[h & g_hash.mask]; d; d = d->hnext)
        if (d->hash == h && d->dir == dir && d->len == len && memcmp(d->name, name, len) == 0)
            return d;
    return nullptr;
}

Dirent* dirent_new(const char* name, uint32_t len) {
    auto* d = static_cast<Dirent*>(kmalloc(sizeof(Dirent) + len));
    if (!d) return nullptr;
    memcpy(d->name, name, len);
    d->name[len] = 0;
    d->len = len;
    return d;
}

Dirent* dir_link(Inode* dir, const char* name, uint32_t len, Inode* child) {
    Dirent* d = dirent_new(name, len);
    if (!d) return nullptr;
    list_append(dir, d, child);
    if (!child->dev) child->dev = dir->dev;
    if (is_dir(child)) {
        child->nlink = 2;
        child->parent = dir;
        child->dentry = d;
        dir->nlink++;
    } else {
        child->nlink++;
    }
    inode_touch(dir, true);
    return d;
}

void dir_unlink(Inode* dir, Dirent* d) {
    Inode* child = d->inode;
    const bool named_here = child->dentry == d;  // a volume file's own name
    list_remove(dir, d);
    kfree(d);
    if (is_dir(child)) {
        KCHECK(!child->first);
        child->nlink = 0;
        child->parent = nullptr;
        child->dentry = nullptr;
        dir->nlink--;
    } else {
        if (named_here) child->dentry = nullptr, child->parent = nullptr;
        child->nlink--;
        inode_touch(child, false);
    }
    inode_touch(dir, true);
    inode_maybe_free(child);
}

void dir_move(Inode* from_dir, Dirent* old, Inode* to_dir, Dirent* d) {
    Inode* child = old->inode;
    const bool named_here = child->dentry == old;
    list_remove(from_dir, old);
    kfree(old);
    list_append(to_dir, d, child);
    if (is_dir(child)) {
        from_dir->nlink--;
        to_dir->nlink++;
        child->parent = to_dir;
        child->dentry = d;
    } else if (named_here) {
        child->parent = to_dir;
        child->dentry = d;
    }
    inode_touch(from_dir, true);
    inode_touch(to_dir, true);
    inode_touch(child, false);
}

Dirent* dir_link_before(Inode* dir, const char* name, uint32_t len, Inode* child, Dirent* before,
                        uint64_t cookie) {
    Dirent* d = dir_link(dir, name, len, child);  // appended
    if (!d) return nullptr;
    d->cookie = cookie;
    if (dir->next_cookie <= cookie) dir->next_cookie = cookie + 1;
    if (before) {
        dir->last = d->prev;
        d->prev->next = nullptr;  // before != d, so d was not alone
        d->prev = before->prev;
        d->next = before;
        if (before->prev)
            before->prev->next = d;
        else
            dir->first = d;
        before->prev = d;
    }
    return d;
}

bool dir_empty(const Inode* dir) { return dir->first == nullptr; }

// Iterative (a hostile archive may nest deeply): descend to a directory whose
// subdirectories are all empty, empty it, unlink it, climb back up.
void dir_clear(Inode* top) {
    Inode* d = top;
    for (;;) {
        Dirent* sub = nullptr;
        for (Dirent* e = d->first; e && !sub; e = e->next)
            if (is_dir(e->inode) && e->inode->first) sub = e;
        if (sub) {
            d = sub->inode;
            continue;
        }
        while (d->first) dir_unlink(d, d->first);
        if (d == top) return;
        Inode* parent = d->parent;
        dir_unlink(parent, d->dentry);
        d = parent;
    }
}

// ---- path walk --------------------------------------------------------------

int64_t lookup(Inode* start, const char* path, uint32_t flags, Lookup* out) {
    char buf[kPathMax];
    size_t n = strnlen(path, kPathMax);
    if (n >= kPathMax) return -ENAMETOOLONG;
    if (n == 0) return -ENOENT;
    memcpy(buf, path, n + 1);
    memset(out, 0, sizeof *out);

    uint32_t links = 0;
    Inode* cur = buf[0] == '/' ? g_root : start;
    char* p = buf;
    for (;;) {
        while (*p == '/') p++;
        if (*p == 0) {  // nothing but slashes: the path names "/"
            out->dir = out->node = cur;
            out->dot = true;
            return 0;
        }
        char* comp = p;
        while (*p && *p != '/') p++;
        char* after = p;
        uint64_t len = static_cast<uint64_t>(after - comp);
        while (*p == '/') p++;
        bool last = *p == 0;
        bool slash = last && after != p;
        if (len > kNameMax) return -ENAMETOOLONG;
        if (!is_dir(cur)) return -ENOTDIR;

        Inode* next = nullptr;
        bool dot = false;
        if (len == 1 && comp[0] == '.') {
            next = cur;
            dot = true;
        } else if (len == 2 && comp[0] == '.' && comp[1] == '.') {
            dot = true;
            next = cur == g_root ? cur : cur->parent;
            if (!next) return -ENOENT;  // a removed directory
        } else if (cur->nlink != 0 && cur->fs == FsId::kVolume) {
            int64_t err;
            next = vol_lookup(cur, comp, static_cast<uint32_t>(len), &err);  // asks the host
            if (!next && err != -ENOENT) return err;
        } else if (cur->nlink != 0) {
            if (cur->special == Special::kProcDir) proc_fill(cur);
            Dirent* d = dir_find(cur, comp, static_cast<uint32_t>(len));
            if (d) next = d->inode;
        }

        // /proc's magic links lead to an inode, not to a path.
        File* via = nullptr;
        if (next && next->special == Special::kProcLink && (!last || slash || (flags & kFollow))) {
            if (Inode* to = proc_link_inode(next, &via)) {
                if (++links > kMaxSymlinks) return -ELOOP;
                next = to;
            }
        }

        if (!next) {
            if (!last || !(flags & kAllowMissing)) return -ENOENT;
        } else if (is_lnk(next) && (!last || slash || (flags & kFollow))) {
            if (++links > kMaxSymlinks) return -ELOOP;
            uint32_t tlen;
            const char* target = link_target(next, &tlen);
            if (tlen == 0) return -ENOENT;
            // Splice: the target replaces the component; the rest (from the
            // slash after it) stays, so a trailing slash is kept.
            uint64_t rest = strlen(after);
            if (tlen + rest + 1 > kPathMax) return -ENAMETOOLONG;
            memmove(buf + tlen, after, rest + 1);
            memcpy(buf, target, tlen);
            p = buf;
            if (buf[0] == '/') cur = g_root;
            continue;
        } else if (!last) {
            cur = next;
            continue;
        } else if (slash && !is_dir(next)) {
            return -ENOTDIR;
        }

        out->dir = cur;
        out->node = next;
        out->via_file = via;
        out->trailing_slash = slash;
        out->dot = dot;
        out->name_len = static_cast<uint32_t>(len);
        memcpy(out->name, comp, len);
        out->name[len] = 0;
        return 0;
    }
}

int64_t dir_path(const Inode* dir, char* buf, uint64_t cap) {
    if (dir->nlink == 0) return -ENOENT;
    uint64_t len = 0;
    for (const Inode* d = dir; d != g_root; d = d->parent) {
        if (!d->parent) return -ENOENT;
        len += 1 + d->dentry->len;
    }
    if (len == 0) len = 1;  // "/"
    if (len + 1 > kPathMax) return -ENAMETOOLONG;
    if (len + 1 > cap) return -ERANGE;
    buf[len] = 0;
    buf[0] = '/';
    uint64_t pos = len;
    for (const Inode* d = dir; d != g_root; d = d->parent) {
        pos -= d->dentry->len;
        memcpy(buf + pos, d->dentry->name, d->dentry->len);
        buf[--pos] = '/';
    }
    return static_cast<int64_t>(len + 1);
}

const Inode* inode_find(uint32_t dev, uint64_t ino) {
    for (uint64_t b = 0; g_hash.buckets && b <= g_hash.mask; b++)
        for (const Dirent* d = g_hash.buckets[b]; d; d = d->hnext) {
            const Inode* i = d->inode;
            if (i->ino == ino && (i->dev ? i->dev : static_cast<uint32_t>(i->fs)) == dev) return i;
        }
    return nullptr;
}

int64_t inode_path(const Inode* i, char* buf, uint64_t cap) {
    if (is_dir(i)) return dir_path(i, buf, cap);
    for (uint64_t b = 0; g_hash.buckets && b <= g_hash.mask; b++) {
        for (const Dirent* d = g_hash.buckets[b]; d; d = d->hnext) {
            if (d->inode != i) continue;
            int64_t n = dir_path(d->dir, buf, cap);
            if (n < 0) return n;
            uint64_t at = static_cast<uint64_t>(n) - 1;  // at the NUL
            if (at == 1) at = 0;                         // "/" + name, not "//" + name
            if (at + 1 + d->len + 1 > cap) return -ERANGE;
            buf[at] = '/';
            memcpy(buf + at + 1, d->name, d->len);
            buf[at + 1 + d->len] = 0;
            return static_cast<int64_t>(at + 1 + d->len + 1);
        }
    }
    return -ENOENT;
}

}  // namespace k::fs
