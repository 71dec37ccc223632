// fd.h - open file descriptions, the fd table and file I/O.
//
// A File is an open file description (Linux's struct file): position, status
// flags and an ops table for its kind. fds are slots of one table that point
// at Files; dup shares the File, so a dup of fd 2 still writes to stderr.
// Other subsystems (sockets, epoll, eventfd) add file kinds by providing a
// FileOps table and an anonymous inode (inode_new(FsId::kAnon, S_IF...)),
// then file_new + fd_install.
#pragma once

#include "fs/vfs.h"

namespace k::fs {

constexpr int kMaxFds = 1024;            // RLIMIT_NOFILE
constexpr uint64_t kMaxRw = 0x7ffff000;  // Linux's MAX_RW_COUNT
constexpr uint64_t kPipeSize = 65536;
constexpr uint64_t kPipeBuf = 4096;  // writes up to this size are atomic

struct File;

// The operations of one kind of file. `pos` is the position to use (the
// file's own, or pread's offset) and is advanced by the op; stream files
// ignore it. A null read or write: -EINVAL.
struct FileOps {
    int64_t (*read)(File* f, void* buf, uint64_t len, uint64_t* pos);
    int64_t (*write)(File* f, const void* buf, uint64_t len, uint64_t* pos);
    int64_t (*ioctl)(File* f, uint64_t cmd, uint64_t arg);  // null: -ENOTTY
    uint32_t (*poll)(File* f);                              // null: POLLIN | POLLOUT
    void (*release)(File* f);                               // on the last close
    bool seekable;
    const char* anon_name;  // anonymous kinds: the "[eventfd]" of anon_inode:[eventfd]
};

struct File {
    const FileOps* ops;
    Inode* inode;    // holds a reference; never null
    uint32_t refs;   // fd slots (and in-kernel users) pointing here
    uint32_t flags;  // O_ACCMODE, O_APPEND, O_NONBLOCK, O_PATH, O_LARGEFILE, ...
    uint64_t pos;
    void* priv;         // for the kind's own state
    int32_t owner;      // F_SETOWN: pid, or -pgid (O_ASYNC's SIGIO is not sent)
    int32_t owner_tid;  // F_SETOWN_EX with F_OWNER_TID: that thread
};

// ---- files ----------------------------------------------------------------
// A file with refs == 1 on inode (takes an inode reference). nullptr when
// out of memory.
File* file_new(Inode* inode, const FileOps* ops, uint32_t flags);
void file_get(File* f);
void file_put(File* f);
// Called with every File about to be freed, before its release op (net/ sets
// it so that epoll sets forget the file). Null when unused.
extern void (*file_release_hook)(File* f);
inline bool file_can_read(const File* f) {
    uint32_t acc = f->flags & O_ACCMODE;
    return !(f->flags & O_PATH) && (acc == O_RDONLY || acc == O_RDWR);
}
inline bool file_can_write(const File* f) {
    uint32_t acc = f->flags & O_ACCMODE;
    return !(f->flags & O_PATH) && (acc == O_WRONLY || acc == O_RDWR);
}

// I/O on kernel-addressable buffers (the syscall layer has already checked
// user pointers; user memory is identity-mapped). Errors as Linux: -EBADF
// for the wrong access mode, -ESPIPE for positional I/O on streams.
int64_t file_read(File* f, void* buf, uint64_t len);
int64_t file_write(File* f, const void* buf, uint64_t len);
int64_t file_pread(File* f, void* buf, uint64_t len, uint64_t off);
int64_t file_pwrite(File* f, const void* buf, uint64_t len, uint64_t off);
uint32_t file_poll(File* f);  // POLL* readiness, for poll/select/epoll

// Opens an inode found by path (flags as given to open; O_CREAT etc. are
// handled by the caller). -ENXIO for device nodes without a driver, -ELOOP
// for a symlink without O_PATH, -ENOMEM.
int64_t open_inode(Inode* i, uint32_t flags, File** out);

// ---- advisory locks (lock.cpp) ----------------------------------------------
// fcntl's F_GETLK/F_SETLK/F_SETLKW and F_OFD_* on f; flock(2).
int64_t lock_fcntl(File* f, uint64_t cmd, uint64_t arg);
int64_t lock_flock(File* f, uint64_t op);
struct FdTable;
// A descriptor of f's file was closed from table t: t's record locks on it go.
void locks_closed(File* f, const FdTable* t);
// f's last reference went: its OFD and flock locks go.
void locks_released(File* f);
// The pid that F_GETLK reports for the caller's record locks (proc.cpp sets
// it; null: kProcessId).
extern int32_t (*lock_pid_hook)();

// ---- the fd table -----------------------------------------------------------
// Puts f in the lowest free slot >= min_fd. Consumes the caller's reference
// on success; -EMFILE (the caller still owns f) when the table is full.
int64_t fd_install(File* f, int64_t min_fd, bool cloexec);
File* fd_get(int64_t fd);  // nullptr unless open
bool fd_available();       // a free slot exists (open checks it before creating)
int64_t fd_close(int64_t fd);
// dup2/dup3 core: newfd now refers to oldfd's file. -EBADF.
int64_t fd_dup_to(int64_t oldfd, int64_t newfd, bool cloexec);
bool fd_cloexec(int64_t fd);
void fd_set_cloexec(int64_t fd, bool on);
void fd_reset();  // closes every fd

// Processes: each has its own table; the running process's is current.
struct FdTable;
FdTable* fdt_current();
void fdt_set(FdTable* t);
FdTable* fdt_fork();  // a copy of the current table (shares the Files); nullptr: no memory
void fdt_close_all(FdTable* t);
void fdt_free(FdTable* t);  // closes its fds and frees it
void fd_close_on_exec();    // execve: the O_CLOEXEC fds of the current table

// What /proc/self/fd/N reads as: a path, "pipe:[ino]", "socket:[ino]",
// "anon_inode:[eventfd]", ... Returns the length (buf has cap bytes, the
// text is NUL-terminated and cut to fit).
uint32_t file_describe(const File* f, char* buf, uint32_t cap);

// ---- file kinds ---------------------------------------------------------------
// /proc and /sys files: the text is generated at the first read and again
// at every read from offset 0, as Linux's seq_file does (procfs.cpp).
extern const FileOps kProcFileOps;
// fds 0, 1 and 2 at boot: the stdin ring and the console (fd 1 / fd 2 records).
int64_t open_stdio();
// A new pipe: *rd and *wr each hold one reference. flags: O_NONBLOCK.
int64_t pipe_create(uint32_t flags, File** rd, File** wr);
// A blocking pipe operation waits for another thread: 0 when it may retry,
// -EDEADLK when no other thread exists (see pipe.cpp).
int64_t pipe_would_block();

}  // namespace k::fs
