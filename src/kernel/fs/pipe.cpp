// pipe.cpp - anonymous pipes: a 64 KiB ring shared by a read end and a write end.
//
// Blocking: a read of an empty pipe whose write end is still open (or a
// write to a full pipe with a reader) waits for another thread
// (block_for_others). With no other thread, Linux would hang forever; here
// such a call fails at once with pipe_would_block() (-EDEADLK, logged once).
// With O_NONBLOCK it is -EAGAIN as on Linux.
#include "fs/fd.h"
#include "sched/sched.h"

namespace k::fs {

struct Pipe {
    uint8_t* buf;   // kPipeSize bytes from pages_alloc, allocated by the first write
    uint64_t rpos;  // free-running read and write counters
    uint64_t wpos;
    uint32_t readers;  // open read-end / write-end files
    uint32_t writers;
};

namespace {
bool g_warned;

Pipe* pipe_of(File* f) { return f->inode->pipe; }

int64_t pipe_read(File* f, void* buf, uint64_t len, uint64_t*) {
    Pipe* p = pipe_of(f);
    if (len == 0) return 0;
    while (p->wpos == p->rpos) {
        if (p->writers == 0) return 0;
        if (f->flags & O_NONBLOCK) return -EAGAIN;
        if (int64_t e = pipe_would_block(); e < 0) return e;
    }
    uint64_t avail = p->wpos - p->rpos;
    uint64_t n = avail < len ? avail : len;
    uint64_t at = p->rpos % kPipeSize;
    uint64_t first = kPipeSize - at < n ? kPipeSize - at : n;
    memcpy(buf, p->buf + at, first);
    memcpy(static_cast<uint8_t*>(buf) + first, p->buf, n - first);
    p->rpos += n;
    return static_cast<int64_t>(n);
}

int64_t pipe_write(File* f, const void* buf, uint64_t len, uint64_t*) {
    Pipe* p = pipe_of(f);
    if (p->readers == 0) return -EPIPE;  // and SIGPIPE (syscall.cpp)
    if (len == 0) return 0;
    if (!p->buf) {
        p->buf = reinterpret_cast<uint8_t*>(pages_alloc(kPipeSize / EMBER_PAGE_SIZE));
        if (!p->buf) return -ENOMEM;
    }
    uint64_t space = kPipeSize - (p->wpos - p->rpos);
    // Writes up to kPipeBuf bytes go in whole or not at all.
    while (space == 0 || (len <= kPipeBuf && space < len)) {
        if (f->flags & O_NONBLOCK) return -EAGAIN;
        if (int64_t e = pipe_would_block(); e < 0) return e;
        if (p->readers == 0) return -EPIPE;
        space = kPipeSize - (p->wpos - p->rpos);
    }
    uint64_t n = space < len ? space : len;
    uint64_t at = p->wpos % kPipeSize;
    uint64_t first = kPipeSize - at < n ? kPipeSize - at : n;
    memcpy(p->buf + at, buf, first);
    memcpy(p->buf, static_cast<const uint8_t*>(buf) + first, n - first);
    p->wpos += n;
    return static_cast<int64_t>(n);
}

int64_t pipe_ioctl(File* f, uint64_t cmd, uint64_t arg) {
    if (cmd != FIONREAD) return -ENOTTY;
    Pipe* p = pipe_of(f);
    int32_t n = static_cast<int32_t>(p->wpos - p->rpos);
    return copy_to_user(arg, &n, sizeof n);
}

uint32_t pipe_read_poll(File* f) {
    Pipe* p = pipe_of(f);
    uint32_t r = 0;
    if (p->wpos != p->rpos) r |= POLLIN | POLLRDNORM;
    if (p->writers == 0) r |= POLLHUP;
    return r;
}

uint32_t pipe_write_poll(File* f) {
    Pipe* p = pipe_of(f);
    if (p->readers == 0) return POLLERR;
    return kPipeSize - (p->wpos - p->rpos) >= kPipeBuf ? POLLOUT | POLLWRNORM : 0;
}

void pipe_read_release(File* f) { pipe_of(f)->readers--; }
void pipe_write_release(File* f) { pipe_of(f)->writers--; }

constexpr FileOps kReadEnd = {pipe_read,      nullptr,           pipe_ioctl,
                              pipe_read_poll, pipe_read_release, false};
constexpr FileOps kWriteEnd = {nullptr,         pipe_write,         pipe_ioctl,
                               pipe_write_poll, pipe_write_release, false};
}  // namespace

int64_t pipe_would_block() {
    const int64_t r = block_for_others();
    if (r != -EDEADLK) return r;  // 0, or interrupted by a signal
    if (!g_warned) {
        g_warned = true;
        klog("fs: blocking pipe I/O that no other thread can complete: -EDEADLK");
    }
    return -EDEADLK;
}

void pipe_free(Pipe* p) {
    if (p->buf) pages_free(reinterpret_cast<uint64_t>(p->buf), kPipeSize / EMBER_PAGE_SIZE);
    kfree(p);
}

int64_t pipe_create(uint32_t flags, File** rd, File** wr) {
    Inode* i = inode_new(FsId::kAnon, S_IFIFO | 0600);
    if (!i) return -ENOMEM;
    i->special = Special::kPipe;
    i->pipe = static_cast<Pipe*>(kmalloc(sizeof(Pipe)));
    uint32_t nb = flags & static_cast<uint32_t>(O_NONBLOCK);
    File* r = i->pipe ? file_new(i, &kReadEnd, static_cast<uint32_t>(O_RDONLY) | nb) : nullptr;
    if (!r) {
        inode_maybe_free(i);
        return -ENOMEM;
    }
    i->pipe->readers = 1;
    File* w = file_new(i, &kWriteEnd, static_cast<uint32_t>(O_WRONLY) | nb);
    if (!w) {
        file_put(r);
        return -ENOMEM;
    }
    i->pipe->writers = 1;
    *rd = r;
    *wr = w;
    return 0;
}

}  // namespace k::fs
