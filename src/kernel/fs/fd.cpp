// fd.cpp - open file descriptions and the fd table.
#include "fs/fd.h"

namespace k::fs {

struct FdTable {
    File* fds[kMaxFds];
    bool cloexec[kMaxFds];
};

namespace {
FdTable g_first;            // the first process's
FdTable* g_fdt = &g_first;  // the running process's

bool fd_valid(int64_t fd) { return fd >= 0 && fd < kMaxFds; }
}  // namespace

// ---- files ----------------------------------------------------------------

void (*file_release_hook)(File* f);

File* file_new(Inode* inode, const FileOps* ops, uint32_t flags) {
    auto* f = static_cast<File*>(kmalloc(sizeof(File)));
    if (!f) return nullptr;
    f->ops = ops;
    f->inode = inode;
    f->refs = 1;
    f->flags = flags;
    f->owner = 0;
    f->owner_tid = 0;
    inode_get(inode);
    return f;
}

void file_get(File* f) { f->refs++; }

void file_put(File* f) {
    KCHECK(f->refs > 0);
    if (--f->refs != 0) return;
    locks_released(f);
    if (file_release_hook) file_release_hook(f);
    if (f->ops->release) f->ops->release(f);
    inode_put(f->inode);
    kfree(f);
}

int64_t file_read(File* f, void* buf, uint64_t len) {
    if (!file_can_read(f)) return -EBADF;
    if (!f->ops->read) return -EINVAL;
    return f->ops->read(f, buf, len, &f->pos);
}

int64_t file_write(File* f, const void* buf, uint64_t len) {
    if (!file_can_write(f)) return -EBADF;
    if (!f->ops->write) return -EINVAL;
    return f->ops->write(f, buf, len, &f->pos);
}

int64_t file_pread(File* f, void* buf, uint64_t len, uint64_t off) {
    if (!file_can_read(f)) return -EBADF;
    if (!f->ops->seekable) return -ESPIPE;
    if (!f->ops->read) return -EINVAL;
    uint64_t pos = off;
    return f->ops->read(f, buf, len, &pos);
}

int64_t file_pwrite(File* f, const void* buf, uint64_t len, uint64_t off) {
    if (!file_can_write(f)) return -EBADF;
    if (!f->ops->seekable) return -ESPIPE;
    if (!f->ops->write) return -EINVAL;
    uint64_t pos = off;
    return f->ops->write(f, buf, len, &pos);
}

uint32_t file_poll(File* f) {
    if (f->flags & O_PATH) return POLLNVAL;
    if (f->ops->poll) return f->ops->poll(f);
    return POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
}

// ---- the fd table -------------------------------------------------------------

int64_t fd_install(File* f, int64_t min_fd, bool cloexec) {
    if (min_fd < 0) return -EINVAL;
    for (int64_t fd = min_fd; fd < kMaxFds; fd++) {
        if (g_fdt->fds[fd]) continue;
        g_fdt->fds[fd] = f;
        g_fdt->cloexec[fd] = cloexec;
        return fd;
    }
    return -EMFILE;
}

File* fd_get(int64_t fd) { return fd_valid(fd) ? g_fdt->fds[fd] : nullptr; }

bool fd_available() {
    for (int fd = 0; fd < kMaxFds; fd++)
        if (!g_fdt->fds[fd]) return true;
    return false;
}

int64_t fd_close(int64_t fd) {
    File* f = fd_get(fd);
    if (!f) return -EBADF;
    g_fdt->fds[fd] = nullptr;
    g_fdt->cloexec[fd] = false;
    locks_closed(f, g_fdt);
    file_put(f);
    return 0;
}

int64_t fd_dup_to(int64_t oldfd, int64_t newfd, bool cloexec) {
    File* f = fd_get(oldfd);
    if (!f || !fd_valid(newfd)) return -EBADF;
    file_get(f);  // first: oldfd == newfd must not free the file
    File* old = g_fdt->fds[newfd];
    g_fdt->fds[newfd] = f;
    g_fdt->cloexec[newfd] = cloexec;
    if (old) {
        locks_closed(old, g_fdt);
        file_put(old);
    }
    return newfd;
}

bool fd_cloexec(int64_t fd) { return fd_valid(fd) && g_fdt->cloexec[fd]; }

void fd_set_cloexec(int64_t fd, bool on) {
    if (fd_valid(fd)) g_fdt->cloexec[fd] = on;
}

void fd_reset() {
    for (int fd = 0; fd < kMaxFds; fd++)
        if (g_fdt->fds[fd]) fd_close(fd);
}

FdTable* fdt_current() { return g_fdt; }
void fdt_set(FdTable* t) { g_fdt = t; }

FdTable* fdt_fork() {
    auto* t = static_cast<FdTable*>(kmalloc(sizeof(FdTable)));
    if (!t) return nullptr;
    for (int fd = 0; fd < kMaxFds; fd++) {
        t->fds[fd] = g_fdt->fds[fd];
        t->cloexec[fd] = g_fdt->cloexec[fd];
        if (t->fds[fd]) file_get(t->fds[fd]);
    }
    return t;
}

void fdt_close_all(FdTable* t) {
    for (int fd = 0; fd < kMaxFds; fd++) {
        File* f = t->fds[fd];
        t->fds[fd] = nullptr;
        t->cloexec[fd] = false;
        if (f) {
            locks_closed(f, t);
            file_put(f);
        }
    }
}

void fdt_free(FdTable* t) {
    fdt_close_all(t);
    if (t != &g_first) kfree(t);
}

void fd_close_on_exec() {
    for (int fd = 0; fd < kMaxFds; fd++)
        if (g_fdt->fds[fd] && g_fdt->cloexec[fd]) fd_close(fd);
}

}  // namespace k::fs
