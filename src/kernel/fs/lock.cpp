// lock.cpp - advisory file locks: fcntl record locks (F_SETLK, F_SETLKW,
// F_GETLK), open file description locks (F_OFD_*) and flock, with Linux's
// semantics inside the instance.
//
// One instance is the only writer of its files (a volume has one writer,
// and the image's files are the instance's own), so locks live in the
// guest alone: they order the instance's processes and threads, which is
// all that SQLite and friends ask of them. A read-only mount of a volume
// shared with a writer instance does not see that instance's locks.
//
// Owners as Linux's: a record lock belongs to the fd table (the process),
// is released when the process closes any descriptor of the file, and is
// not inherited by fork; an OFD lock and a flock lock belong to the open
// file description and go with its last close. Record and OFD locks share
// one space (they conflict with each other); flock locks are apart.
// F_SETLKW and a blocking flock wait for the holder's thread or process;
// when no other thread can run they fail with EDEADLK, as the pipes do.
#include "fs/syscalls.h"
#include "sched/sched.h"

namespace k::fs {

int32_t (*lock_pid_hook)();

namespace {

enum class Kind : uint8_t { kPosix, kOfd, kFlock };
constexpr uint64_t kEof = ~0ull;  // a range to the end of the file (and beyond)

struct Lock {
    Lock* next;
    const Inode* inode;
    const void* owner;  // FdTable* (record) or File* (OFD, flock)
    int32_t pid;        // F_GETLK's l_pid: the record lock's process, -1 for OFD
    Kind kind;
    bool write;
    uint64_t start, end;  // inclusive; end kEof: to the end of the file
};

Lock* g_locks;

bool same_space(Kind a, Kind b) { return (a == Kind::kFlock) == (b == Kind::kFlock); }

// The first lock of another owner that a `write` (or read) lock of owner on
// [start, end] would conflict with.
const Lock* conflict(const Inode* i, const void* owner, Kind kind, bool write, uint64_t start,
                     uint64_t end) {
    for (const Lock* l = g_locks; l; l = l->next)
        if (l->inode == i && l->owner != owner && same_space(l->kind, kind) &&
            (write || l->write) && l->start <= end && start <= l->end)
            return l;
    return nullptr;
}

// Removes owner's locks of kind's space on [start, end], splitting those
// that stick out. false: no memory for a split (nothing changed then).
bool remove_range(const Inode* i, const void* owner, Kind kind, uint64_t start, uint64_t end) {
    for (Lock* l = g_locks; l; l = l->next) {
        if (l->inode != i || l->owner != owner || !same_space(l->kind, kind)) continue;
        if (l->start < start && l->end > end) {  // a hole in the middle: one more lock
            auto* tail = static_cast<Lock*>(kmalloc(sizeof(Lock)));
            if (!tail) return false;
            *tail = *l;
            tail->start = end + 1;
            l->end = start - 1;
            Lock** p = &g_locks;
            while (*p && (*p)->start < tail->start) p = &(*p)->next;
            tail->next = *p;
            *p = tail;
            return true;  // nothing else of owner's can overlap: locks never overlap
        }
    }
    for (Lock** p = &g_locks; *p;) {
        Lock* l = *p;
        if (l->inode != i || l->owner != owner || !same_space(l->kind, kind) || l->end < start ||
            l->start > end) {
            p = &l->next;
            continue;
        }
        if (l->start >= start && l->end <= end) {
            *p = l->next;
            kfree(l);
            continue;
        }
        if (l->start < start)
            l->end = start - 1;
        else
            l->start = end + 1;
        p = &l->next;
    }
    return true;
}

// Adds owner's lock on [start, end] (the range is free of owner's locks),
// merged with owner's adjacent locks of the same type, as Linux does.
int64_t add(const Inode* i, const void* owner, Kind kind, bool write, uint64_t start,
            uint64_t end) {
    for (Lock** p = &g_locks; *p;) {
        Lock* l = *p;
        const bool touches =
            (l->end != kEof && l->end + 1 == start) || (end != kEof && end + 1 == l->start);
        if (l->inode == i && l->owner == owner && l->kind == kind && l->write == write && touches) {
            if (l->start < start) start = l->start;
            if (l->end > end || l->end == kEof) end = l->end;
            *p = l->next;
            kfree(l);
            continue;
        }
        p = &l->next;
    }
    auto* l = static_cast<Lock*>(kmalloc(sizeof(Lock)));
    if (!l) return -ENOLCK;
    const int32_t pid = kind == Kind::kPosix ? (lock_pid_hook ? lock_pid_hook() : kProcessId) : -1;
    // Kept in order of start, so F_GETLK reports the lowest conflict first.
    Lock** p = &g_locks;
    while (*p && (*p)->start < start) p = &(*p)->next;
    *l = {*p, i, owner, pid, kind, write, start, end};
    *p = l;
    return 0;
}

// Takes (or, unlock, drops) a lock; wait: blocks while another owner's
// lock conflicts.
int64_t set_lock(const Inode* i, const void* owner, Kind kind, bool unlock, bool write,
                 uint64_t start, uint64_t end, bool wait) {
    if (!unlock) {
        while (conflict(i, owner, kind, write, start, end)) {
            if (!wait) return -EAGAIN;
            if (int64_t r = block_for_others(); r < 0) return r;  // EDEADLK or EINTR
        }
    }
    if (!remove_range(i, owner, kind, start, end)) return -ENOLCK;
    return unlock ? 0 : add(i, owner, kind, write, start, end);
}

}  // namespace

int64_t lock_fcntl(File* f, uint64_t cmd, uint64_t arg) {
    linux_flock fl;
    if (copy_from_user(&fl, arg, sizeof fl) < 0) return -EFAULT;
    if (fl.l_type != F_RDLCK && fl.l_type != F_WRLCK && fl.l_type != F_UNLCK) return -EINVAL;
    const bool ofd = cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
    if (ofd && fl.l_pid != 0) return -EINVAL;
    int64_t base;
    switch (fl.l_whence) {
        case SEEK_SET:
            base = 0;
            break;
        case SEEK_CUR:
            base = static_cast<int64_t>(f->pos);
            break;
        case SEEK_END:
            base = static_cast<int64_t>(f->inode->size);
            break;
        default:
            return -EINVAL;
    }
    int64_t start = base + fl.l_start, last;
    if (fl.l_len > 0) {
        last = start + fl.l_len - 1;
    } else if (fl.l_len < 0) {
        last = start - 1;
        start += fl.l_len;
    } else {
        last = -1;  // to the end
    }
    if (start < 0 || (fl.l_len > 0 && last < start)) return -EINVAL;
    const auto s = static_cast<uint64_t>(start);
    const uint64_t e = last < 0 ? kEof : static_cast<uint64_t>(last);
    const Kind kind = ofd ? Kind::kOfd : Kind::kPosix;
    const void* owner = ofd ? static_cast<const void*>(f) : static_cast<const void*>(fdt_current());
    const bool write = fl.l_type == F_WRLCK;
    if (cmd == F_GETLK || cmd == F_OFD_GETLK) {
        if (fl.l_type == F_UNLCK) return -EINVAL;
        const Lock* l = conflict(f->inode, owner, kind, write, s, e);
        if (!l) {
            fl.l_type = F_UNLCK;
        } else {
            fl.l_type = l->write ? F_WRLCK : F_RDLCK;
            fl.l_whence = SEEK_SET;
            fl.l_start = static_cast<int64_t>(l->start);
            fl.l_len = l->end == kEof ? 0 : static_cast<int64_t>(l->end - l->start + 1);
            fl.l_pid = l->pid;
        }
        return copy_to_user(arg, &fl, sizeof fl);
    }
    if (fl.l_type == F_RDLCK && !file_can_read(f)) return -EBADF;
    if (fl.l_type == F_WRLCK && !file_can_write(f)) return -EBADF;
    return set_lock(f->inode, owner, kind, fl.l_type == F_UNLCK, write, s, e,
                    cmd == F_SETLKW || cmd == F_OFD_SETLKW);
}

int64_t lock_flock(File* f, uint64_t op) {
    constexpr uint64_t kShared = 1, kExclusive = 2, kNonBlock = 4, kUnlock = 8;
    const uint64_t what = op & ~kNonBlock;
    if (what != kShared && what != kExclusive && what != kUnlock) return -EINVAL;
    const bool write = what == kExclusive;
    for (const Lock* l = g_locks; l && what != kUnlock; l = l->next)
        if (l->inode == f->inode && l->owner == f && l->kind == Kind::kFlock && l->write == write)
            return 0;  // held
    // A conversion drops the old lock first, as on Linux (not atomic: a
    // conversion that fails has lost the old lock).
    set_lock(f->inode, f, Kind::kFlock, true, false, 0, kEof, false);
    if (what == kUnlock) return 0;
    return set_lock(f->inode, f, Kind::kFlock, false, write, 0, kEof, !(op & kNonBlock));
}

void locks_closed(File* f, const FdTable* t) {
    if (g_locks) remove_range(f->inode, t, Kind::kPosix, 0, kEof);
}

void locks_released(File* f) {
    if (!g_locks) return;
    remove_range(f->inode, f, Kind::kOfd, 0, kEof);
    remove_range(f->inode, f, Kind::kFlock, 0, kEof);
}

}  // namespace k::fs
