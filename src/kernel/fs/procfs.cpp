// procfs.cpp - the /proc and /sys trees: which entries each directory has,
// the numbered directories that follow the fd table and the threads, the
// computed links, and the file kind whose text is generated when read.
//
// The trees are ordinary inodes of FsId::kProcfs / kSysfs, so path lookup,
// stat, getdents and readlink need no special cases beyond the two hooks
// (proc_fill before a directory is searched or listed, and the link
// targets). Entries are created on first use, so a program that never looks
// at /proc costs nothing.
#include "fs/procfs.h"

namespace k::fs {

namespace {
using namespace proc;

// The fixed entries of every directory node, in the order getdents lists them.
struct Row {
    uint8_t parent, node;
    uint16_t perm;
    const char* name;
};
constexpr Row kRows[] = {
    {kRootDir, kSelfLink, 0777, "self"},
    {kRootDir, kThreadSelfLink, 0777, "thread-self"},
    {kRootDir, kKernelCmdline, 0444, "cmdline"},
    {kRootDir, kCpuinfo, 0444, "cpuinfo"},
    {kRootDir, kFilesystems, 0444, "filesystems"},
    {kRootDir, kLoadavg, 0444, "loadavg"},
    {kRootDir, kMeminfo, 0444, "meminfo"},
    {kRootDir, kMountsLink, 0777, "mounts"},
    {kRootDir, kStat, 0444, "stat"},
    {kRootDir, kSysDir, 0555, "sys"},
    {kRootDir, kUptime, 0444, "uptime"},
    {kRootDir, kVersion, 0444, "version"},

    {kPidDir, kAuxv, 0400, "auxv"},
    {kPidDir, kCmdline, 0444, "cmdline"},
    {kPidDir, kComm, 0644, "comm"},
    {kPidDir, kCwdLink, 0777, "cwd"},
    {kPidDir, kEnviron, 0400, "environ"},
    {kPidDir, kExeLink, 0777, "exe"},
    {kPidDir, kFdDir, 0500, "fd"},
    {kPidDir, kMaps, 0444, "maps"},
    {kPidDir, kMountinfo, 0444, "mountinfo"},
    {kPidDir, kMounts, 0444, "mounts"},
    {kPidDir, kRootLink, 0777, "root"},
    {kPidDir, kPidStat, 0444, "stat"},
    {kPidDir, kStatm, 0444, "statm"},
    {kPidDir, kStatus, 0444, "status"},
    {kPidDir, kTaskDir, 0555, "task"},

    {kTidDir, kComm, 0644, "comm"},
    {kTidDir, kPidStat, 0444, "stat"},
    {kTidDir, kStatus, 0444, "status"},

    {kSysDir, kSysKernelDir, 0555, "kernel"},
    {kSysDir, kSysNetDir, 0555, "net"},
    {kSysDir, kSysVmDir, 0555, "vm"},
    {kSysKernelDir, kCapLastCap, 0444, "cap_last_cap"},
    {kSysKernelDir, kHostname, 0644, "hostname"},
    {kSysKernelDir, kOsrelease, 0444, "osrelease"},
    {kSysKernelDir, kOstype, 0444, "ostype"},
    {kSysKernelDir, kPidMax, 0644, "pid_max"},
    {kSysKernelDir, kSysRandomDir, 0555, "random"},
    {kSysKernelDir, kThreadsMax, 0644, "threads-max"},
    {kSysKernelDir, kKernelVersion, 0444, "version"},
    {kSysRandomDir, kBootId, 0444, "boot_id"},
    {kSysRandomDir, kEntropyAvail, 0444, "entropy_avail"},
    {kSysRandomDir, kUuid, 0444, "uuid"},
    {kSysNetDir, kSysNetCoreDir, 0555, "core"},
    {kSysNetCoreDir, kSomaxconn, 0644, "somaxconn"},
    {kSysVmDir, kMaxMapCount, 0644, "max_map_count"},
    {kSysVmDir, kOvercommit, 0644, "overcommit_memory"},

    {kSysfsRoot, kSysfsDevicesDir, 0755, "devices"},
    {kSysfsRoot, kSysfsKernelDir, 0755, "kernel"},
    {kSysfsDevicesDir, kSysfsSystemDir, 0755, "system"},
    {kSysfsSystemDir, kSysfsCpuDir, 0755, "cpu"},
    {kSysfsCpuDir, kSysfsCpu0Dir, 0755, "cpu0"},
    {kSysfsCpuDir, kCpuKernelMax, 0444, "kernel_max"},
    {kSysfsCpuDir, kCpuOnline, 0444, "online"},
    {kSysfsCpuDir, kCpuOnline, 0444, "possible"},
    {kSysfsCpuDir, kCpuOnline, 0444, "present"},
    {kSysfsKernelDir, kSysfsMmDir, 0755, "mm"},
    {kSysfsMmDir, kSysfsThpDir, 0755, "transparent_hugepage"},
    {kSysfsThpDir, kThpDefrag, 0644, "defrag"},
    {kSysfsThpDir, kThpEnabled, 0644, "enabled"},
    {kSysfsThpDir, kThpPmdSize, 0444, "hpage_pmd_size"},
};

Inode* make_node(Inode* dir, const char* name, uint32_t len, uint8_t node, uint32_t perm,
                 int32_t arg, Dirent* before = nullptr, uint64_t cookie = 0) {
    uint32_t type = is_dir_node(node) ? S_IFDIR : is_link_node(node) ? S_IFLNK : S_IFREG;
    Inode* n = inode_new(dir->fs, type | perm);
    if (!n) return nullptr;
    n->special = type == S_IFDIR   ? Special::kProcDir
                 : type == S_IFLNK ? Special::kProcLink
                                   : Special::kProcFile;
    n->proc = node;
    n->proc_arg = arg;
    n->proc_pid = node == kPidDir ? arg : dir->proc_pid;
    Dirent* d =
        cookie ? dir_link_before(dir, name, len, n, before, cookie) : dir_link(dir, name, len, n);
    if (!d) {
        inode_maybe_free(n);
        return nullptr;
    }
    return n;
}

void fill_fixed(Inode* dir) {
    bool ok = true;
    for (const Row& r : kRows) {
        if (r.parent != dir->proc) continue;
        auto len = static_cast<uint32_t>(strlen(r.name));
        if (dir_find(dir, r.name, len)) continue;  // made before running out of memory
        // Everything under /proc/<pid> is about the process; a task's
        // files are about its thread.
        if (!make_node(dir, r.name, len, r.node, r.perm, dir->proc_arg)) ok = false;
    }
    dir->proc_filled = ok;
}

uint32_t fd_perm(const File* f) {
    switch (f->flags & O_ACCMODE) {
        case O_WRONLY:
            return 0300;
        case O_RDWR:
            return 0700;
        default:
            return 0500;
    }
}

uint32_t format_id(int32_t id, char* out) {
    char tmp[12];
    uint32_t n = 0;
    auto v = static_cast<uint32_t>(id);
    do tmp[n++] = static_cast<char>('0' + v % 10);
    while (v /= 10);
    for (uint32_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

// The numbered entries of a directory: fds, threads or processes, and the
// getdents cookie of entry number n (n + 2 as on Linux for fd/ and task/;
// in /proc after the fixed entries, as Linux's TGID_OFFSET does).
constexpr uint64_t kPidCookie = 1ull << 20;
uint8_t numbered_node(const Inode* dir) {
    return dir->proc == kFdDir ? kFdLink : dir->proc == kTaskDir ? kTidDir : kPidDir;
}
uint64_t numbered_cookie(const Inode* dir, int32_t n) {
    return static_cast<uint64_t>(n) + (dir->proc == kRootDir ? kPidCookie : 2);
}

// Makes the numbered entries of dir be exactly ids (ascending); other
// entries (/proc's fixed ones) are left alone.
void sync_numbered(Inode* dir, const int32_t* ids, uint32_t n) {
    const uint8_t node = numbered_node(dir);
    const bool fds = node == kFdLink;
    Dirent* d = dir->first;
    uint32_t k = 0;
    while (d || k < n) {
        if (d && d->inode->proc != node) {
            d = d->next;
            continue;
        }
        const int64_t have = d ? d->inode->proc_arg : INT64_MAX;
        if (k < n && ids[k] == have) {
            if (fds) {  // fd N may have been closed and opened again
                File* f = fd_get(ids[k]);
                d->inode->mode = S_IFLNK | fd_perm(f);
            }
            d = d->next;
            k++;
        } else if (k == n || have < ids[k]) {
            Dirent* next = d->next;
            if (is_dir(d->inode)) dir_clear(d->inode);
            dir_unlink(dir, d);
            d = next;
        } else {
            char name[12];
            uint32_t len = format_id(ids[k], name);
            uint32_t perm = fds ? fd_perm(fd_get(ids[k])) : 0555;
            // Out of memory the entry is missing until the next lookup.
            make_node(dir, name, len, node, perm, ids[k], d, numbered_cookie(dir, ids[k]));
            k++;
        }
    }
}

void sort_ids(int32_t* ids, uint32_t n) {  // insertion sort: usually sorted already
    for (uint32_t i = 1; i < n; i++) {
        const int32_t v = ids[i];
        uint32_t j = i;
        for (; j > 0 && ids[j - 1] > v; j--) ids[j] = ids[j - 1];
        ids[j] = v;
    }
}

// Loads the state of the process a node is about for the code below, which
// reads "the loaded process"; ok is false when it no longer exists.
struct View {
    bool ok;
    View(int32_t pid, bool memory) : ok(process_view_begin(pid, memory)) {}
    ~View() {
        if (ok) process_view_end();
    }
    View(const View&) = delete;
    View& operator=(const View&) = delete;
};

void sync_fds(Inode* dir) {
    auto* ids = static_cast<int32_t*>(kcalloc(kMaxFds, sizeof(int32_t)));
    if (!ids) return;
    uint32_t n = 0;
    {
        View v(dir->proc_pid, false);
        if (v.ok) {
            for (int32_t fd = 0; fd < kMaxFds; fd++)
                if (fd_get(fd)) ids[n++] = fd;
            sync_numbered(dir, ids, n);  // reads the fds' modes
        } else {
            sync_numbered(dir, ids, 0);
        }
    }
    kfree(ids);
}

void sync_tasks(Inode* dir) {
    View v(dir->proc_pid, false);
    uint32_t n = v.ok ? thread_list(nullptr, 0) : 0;
    auto* list = static_cast<ThreadInfo*>(kcalloc(n ? n : 1, sizeof(ThreadInfo)));
    auto* ids = static_cast<int32_t*>(kcalloc(n ? n : 1, sizeof(int32_t)));
    if (list && ids) {
        n = v.ok ? thread_list(list, n) : 0;
        for (uint32_t i = 0; i < n; i++) ids[i] = list[i].tid;
        sort_ids(ids, n);
        sync_numbered(dir, ids, n);
    }
    kfree(list);
    kfree(ids);
}

// /proc's pid directories: one per process not yet reaped.
void sync_pids(Inode* dir) {
    const uint32_t n = process_pids(nullptr, 0);
    auto* ids = static_cast<int32_t*>(kcalloc(n ? n : 1, sizeof(int32_t)));
    if (!ids) return;
    const uint32_t got = process_pids(ids, n);
    const uint32_t m = got < n ? got : n;
    sort_ids(ids, m);
    sync_numbered(dir, ids, m);
    kfree(ids);
}

// ---- links ---------------------------------------------------------------------

char g_link[kPathMax];

uint32_t link_text(const Inode* i, char* out) {
    Text t;
    switch (i->proc) {
        case kSelfLink:
            t.snum(current_pid());
            break;
        case kThreadSelfLink:
            t.snum(current_pid());
            t.put("/task/");
            t.snum(current_tid());
            break;
        case kMountsLink:
            t.put("self/mounts");
            break;
        case kExeLink: {
            ProcessInfo pi;
            if (process_info(i->proc_pid, &pi) && pi.state != 'Z')
                t.put(pi.exe, strnlen(pi.exe, kPathMax - 1));
            break;
        }
        case kCwdLink: {
            View v(i->proc_pid, false);
            if (!v.ok) break;
            if (int64_t n = dir_path(cwd(), out, kPathMax); n > 0)
                return static_cast<uint32_t>(n - 1);
            break;
        }
        case kRootLink:
            t.put("/");
            break;
        case kFdLink: {
            View v(i->proc_pid, false);
            if (!v.ok) break;
            if (const File* f = fd_get(i->proc_arg)) return file_describe(f, out, kPathMax);
            break;
        }
        default:
            break;
    }
    uint32_t len = t.failed || t.len >= kPathMax ? 0 : static_cast<uint32_t>(t.len);
    if (len) memcpy(out, t.data, len);
    out[len] = 0;
    t.release();
    return len;
}

// ---- files -----------------------------------------------------------------------

int64_t proc_file_read(File* f, void* buf, uint64_t len, uint64_t* pos) {
    auto* t = static_cast<Text*>(f->priv);
    if (!t || *pos == 0) {  // a read from the start sees fresh text, as on Linux
        Text fresh;
        int64_t r = 0;
        if (!generate(f->inode->proc, f->inode->proc_pid, f->inode->proc_arg, fresh)) r = -ESRCH;
        if (r == 0 && fresh.failed) r = -ENOMEM;
        if (r == 0 && !t && !(t = static_cast<Text*>(kmalloc(sizeof(Text))))) r = -ENOMEM;
        if (r < 0) {
            fresh.release();
            return r;
        }
        t->release();
        *t = fresh;
        f->priv = t;
    }
    if (*pos >= t->len) return 0;
    uint64_t n = t->len - *pos < len ? t->len - *pos : len;
    memcpy(buf, t->data + *pos, n);
    *pos += n;
    return static_cast<int64_t>(n);
}

void proc_file_release(File* f) {
    if (auto* t = static_cast<Text*>(f->priv)) {
        t->release();
        kfree(t);
    }
}

}  // namespace

const FileOps kProcFileOps = {proc_file_read, nullptr, nullptr, nullptr, proc_file_release, true};

void proc_mount(Inode* proc, Inode* sys) {
    proc->special = sys->special = Special::kProcDir;
    proc->proc = kRootDir;
    sys->proc = kSysfsRoot;
    proc->proc_arg = sys->proc_arg = kProcessId;
    proc->proc_pid = sys->proc_pid = 0;
}

void proc_fill(Inode* dir) {
    if (!dir->proc_filled) fill_fixed(dir);
    if (dir->proc == kFdDir) sync_fds(dir);
    if (dir->proc == kTaskDir) sync_tasks(dir);
    if (dir->proc == kRootDir) sync_pids(dir);
}

const char* proc_link_target(const Inode* i, uint32_t* len) {
    *len = link_text(i, g_link);
    return g_link;
}

Inode* proc_link_inode(const Inode* i, File** via) {
    *via = nullptr;
    switch (i->proc) {
        case kFdLink: {
            View v(i->proc_pid, false);
            File* f = v.ok ? fd_get(i->proc_arg) : nullptr;
            if (!f) return nullptr;
            *via = f;
            return f->inode;
        }
        case kCwdLink: {
            View v(i->proc_pid, false);
            return v.ok ? cwd() : nullptr;
        }
        case kRootLink:
            return root();
        default:
            return nullptr;
    }
}

uint32_t file_describe(const File* f, char* buf, uint32_t cap) {
    const Inode* i = f->inode;
    Text t;
    if (i->fs == FsId::kAnon) {
        uint32_t type = i->mode & S_IFMT;
        if (i->special == Special::kPipe || type == S_IFSOCK) {
            t.put(type == S_IFSOCK ? "socket:[" : "pipe:[");
            t.num(i->ino);
            t.ch(']');
        } else if (i->special == Special::kStdin || i->special == Special::kConsoleOut ||
                   i->special == Special::kConsoleErr) {
            t.put("/dev/console");
        } else {
            t.put("anon_inode:");
            t.put(f->ops->anon_name ? f->ops->anon_name : "[unknown]");
        }
    } else if (int64_t n = inode_path(i, buf, cap); n > 0) {
        return static_cast<uint32_t>(n - 1);
    } else if (is_reg(i)) {  // unlinked: memfd_create, O_TMPFILE, or removed
        t.put(i->dev == 0 ? "/memfd:" : "/#");
        if (i->dev != 0) t.num(i->ino);
        t.put(" (deleted)");
    }
    uint32_t len = t.failed || t.len >= cap ? 0 : static_cast<uint32_t>(t.len);
    if (len) memcpy(buf, t.data, len);
    buf[len] = 0;
    t.release();
    return len;
}

// ---- Text -------------------------------------------------------------------------

namespace proc {

void Text::put(const char* s, uint64_t n) {
    if (failed) return;
    if (len + n > cap) {
        uint64_t c = cap ? cap * 2 : 1024;
        while (c < len + n) c *= 2;
        auto* d = static_cast<char*>(kmalloc(c));
        if (!d) {
            failed = true;
            return;
        }
        if (len) memcpy(d, data, len);
        kfree(data);
        data = d;
        cap = c;
    }
    memcpy(data + len, s, n);
    len += n;
}

void Text::put(const char* s) { put(s, strlen(s)); }

// Digits are built backwards in a buffer and appended at once.
void Text::num(uint64_t v, uint32_t width) {
    char tmp[64];
    uint32_t at = sizeof tmp;
    do tmp[--at] = static_cast<char>('0' + v % 10);
    while (v /= 10);
    while (at > 0 && sizeof tmp - at < width) tmp[--at] = ' ';
    put(tmp + at, sizeof tmp - at);
}

void Text::snum(int64_t v) {
    if (v < 0) ch('-');
    num(v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v));
}

void Text::hex(uint64_t v, uint32_t width) {
    char tmp[64];
    uint32_t at = sizeof tmp;
    do tmp[--at] = "0123456789abcdef"[v & 15];
    while (v >>= 4);
    while (at > 0 && sizeof tmp - at < width) tmp[--at] = '0';
    put(tmp + at, sizeof tmp - at);
}

void Text::pad_to(uint64_t line_start, uint64_t col) {
    static constexpr char kSpaces[] = "                                ";
    while (!failed && len - line_start < col) {
        uint64_t n = col - (len - line_start);
        put(kSpaces, n < sizeof kSpaces - 1 ? n : sizeof kSpaces - 1);
    }
}

void Text::kb(const char* label, uint64_t bytes, uint32_t width) {
    put(label);
    put(":\t");
    num(bytes / 1024, width);
    put(" kB\n");
}

void Text::release() {
    kfree(data);
    *this = Text{};
}

bool generate(uint8_t node, int32_t pid, int32_t arg, Text& t) {
    if (node >= kAuxv && node <= kStatus) return generate_pid_file(node, pid, arg, t);
    return generate_sys_file(node, t);
}

}  // namespace proc

}  // namespace k::fs
