// vfs.h - inodes, directories and path lookup of the guest kernel.
//
// One tree of inodes rooted at "/". Every inode belongs to one file system
// (FsId), which decides what may change: the root file system is built from
// the cpio archive and is read-only (its file bytes stay in the archive), the
// tmpfs directories (/tmp, /dev/shm) hold kernel-allocated data, /dev is
// synthetic, /proc and /sys are generated when used (procfs.cpp), and
// anonymous inodes back pipes, sockets and the console.
// A "mount" is simply a directory of another file system linked into its
// parent directory, so ".." and rename's -EXDEV fall out of the same rules.
//
// Lifetime: an inode is freed when it has no directory entries (nlink == 0)
// and no references (open files, the cwd). Single-threaded, so lookups take
// no references: the results stay valid until the syscall changes the tree.
#pragma once

#include "kernel.h"

namespace k::fs {

constexpr uint32_t kPathMax = 4096;  // including the NUL, like Linux's PATH_MAX
constexpr uint32_t kNameMax = 255;
constexpr uint32_t kMaxSymlinks = 40;
constexpr uint64_t kMaxFileSize = 1ull << 40;

enum class FsId : uint8_t {
    kRootfs = 1,
    kTmpfs = 2,
    kDevfs = 3,
    kProcfs = 4,
    kAnon = 5,
    kSysfs = 6,
    kVolume = 7  // a host directory (volume.h)
};

// Inodes whose behaviour is not plain data.
enum class Special : uint8_t {
    kNone,
    kNull,        // /dev/null
    kZero,        // /dev/zero
    kFull,        // /dev/full
    kRandom,      // /dev/random, /dev/urandom
    kStdin,       // the stdin ring (fd 0 at boot)
    kConsoleOut,  // the console ring, fd 1
    kConsoleErr,  // the console ring, fd 2
    kFdAlias,     // /dev/stdin, /dev/stdout, /dev/stderr: open() dups fd alias_fd
    kProcDir,     // a /proc or /sys directory: procfs.cpp fills it when used
    kProcFile,    // a /proc or /sys file: its text is generated at open
    kProcLink,    // a /proc symlink whose target is computed (exe, fd/N, self)
    kPipe,        // an anonymous pipe; `pipe` is valid
};

struct Dirent;
struct File;
struct Pipe;
void pipe_free(Pipe* p);  // pipe.cpp: frees the buffer when the pipe inode dies

struct Inode {
    uint64_t ino;
    uint32_t mode;   // S_IFMT type bits | permission bits
    uint32_t nlink;  // files: directory entries; dirs: 2 + subdirs, 0 once removed
    uint32_t refs;   // open files and the cwd
    FsId fs;
    Special special;
    uint8_t alias_fd;
    uint8_t proc;        // kProcDir/File/Link: which node (procfs.cpp's ProcNode)
    bool proc_filled;    // kProcDir: its fixed entries exist
    int32_t proc_arg;    // kProc*: the tid or fd the node describes
    int32_t proc_pid;    // kProc*: the process it is about (0: the system)
    bool data_in_pages;  // tmpfs: `data` came from pages_alloc, not kmalloc
    uint8_t vol;         // kVolume: the volume's index in boot_info.volumes
    bool vol_unlinked;   // kVolume: unlinked while open, kept under a hidden name
    uint32_t vol_nlink;  // kVolume: the host's link count (stat shows it)
    uint32_t rdev;       // Linux dev_t encoding, for character devices
    uint32_t dev;        // st_dev: one per mounted tree, inherited when linked
    int64_t atime_ns, mtime_ns, ctime_ns;
    uint64_t size;
    // Regular files and symlinks: bytes [0, size). Rootfs points into the
    // archive (never written); tmpfs owns `data` with `cap` bytes (zero past
    // size, so growing a file reads back zeros).
    const uint8_t* rodata;
    uint8_t* data;
    uint64_t cap;
    // Directories: entries in creation order. `parent` and `dentry` are null
    // for "/" and for removed directories (volume files keep them too, for
    // their host path; dir_unlink and dir_move keep them right).
    Dirent* first;
    Dirent* last;
    Inode* parent;
    Dirent* dentry;
    uint64_t next_cookie;  // getdents position of the next new entry
    Pipe* pipe;
};

struct Dirent {
    Dirent* next;  // the directory's entries, in creation order
    Dirent* prev;
    Dirent* hnext;  // the name hash chain (vfs.cpp)
    Inode* dir;     // the directory holding this entry
    Inode* inode;
    uint64_t hash;
    uint64_t cookie;  // stable getdents position (>= 2; 0 and 1 are "." and "..")
    uint32_t len;
    char name[1];  // len bytes plus a NUL, allocated past the struct
};

inline bool is_dir(const Inode* i) { return (i->mode & S_IFMT) == S_IFDIR; }
inline bool is_reg(const Inode* i) { return (i->mode & S_IFMT) == S_IFREG; }
inline bool is_lnk(const Inode* i) { return (i->mode & S_IFMT) == S_IFLNK; }
// The name space under `dir` and file contents may change (tmpfs only).
inline bool fs_writable(const Inode* i) { return i->fs == FsId::kTmpfs; }
// Metadata (mode, times) may change: everything but the read-only trees.
inline bool meta_writable(const Inode* i) {
    return i->fs != FsId::kRootfs && i->fs != FsId::kProcfs && i->fs != FsId::kSysfs;
}
// A /proc or /sys node.
inline bool is_proc(const Inode* i) { return i->fs == FsId::kProcfs || i->fs == FsId::kSysfs; }
// Bytes of a regular file or symlink.
inline const uint8_t* inode_bytes(const Inode* i) { return i->data ? i->data : i->rodata; }

// ---- state ------------------------------------------------------------
Inode* root();
Inode* cwd();
void set_cwd(Inode* dir);         // takes a reference on dir, drops the old one
Inode* exchange_cwd(Inode* dir);  // process switches: no reference changes
uint32_t umask();
uint32_t set_umask(uint32_t mask);  // returns the previous mask
// Frees the whole tree and resets the state (fs_init calls it first, so the
// host tests can boot many file systems in one process).
void vfs_reset();
// Creates "/" for a new tree; false when out of memory.
bool vfs_create_root();

// ---- inodes -------------------------------------------------------------
// A new inode with nlink 0 and refs 0; times are now. nullptr when out of memory.
Inode* inode_new(FsId fs, uint32_t mode);
void inode_get(Inode* i);
void inode_put(Inode* i);
// Frees the inode if nothing refers to it any more.
void inode_maybe_free(Inode* i);
void inode_touch(Inode* i, bool modified);  // ctime (and mtime) = now
void inode_stat(const Inode* i, linux_stat* st);
void inode_statx(const Inode* i, linux_statx* stx);
// Symlink target (not NUL-terminated); len 0 for a broken link.
const char* link_target(const Inode* i, uint32_t* len);

// ---- directories ----------------------------------------------------------
Dirent* dir_find(const Inode* dir, const char* name, uint32_t len);
// Links child under name; nullptr when out of memory. The caller has checked
// that name is free and valid. A child without a device number takes dir's.
Dirent* dir_link(Inode* dir, const char* name, uint32_t len, Inode* child);
// Removes the entry and drops the child's link (freeing it if unused).
// A directory child must be empty.
void dir_unlink(Inode* dir, Dirent* d);
// Moves an existing entry to (to_dir, d) where d is a fresh, unattached
// dirent from dirent_new; frees the old dirent.
void dir_move(Inode* from_dir, Dirent* old, Inode* to_dir, Dirent* d);
Dirent* dirent_new(const char* name, uint32_t len);
bool dir_empty(const Inode* dir);
// Removes everything below dir (used to unmount archive directories and at reset).
void dir_clear(Inode* dir);

// ---- path lookup ----------------------------------------------------------
// lookup flags
constexpr uint32_t kFollow = 1;        // follow a symlink in the final component
constexpr uint32_t kAllowMissing = 2;  // a missing final component is not an error (node = nullptr)
struct Lookup {
    Inode* dir;   // the directory that holds the final component
    Inode* node;  // the final inode, or nullptr (kAllowMissing)
    bool trailing_slash;
    bool dot;  // the final component is "." or ".." or the path is "/"
    // The final inode was reached through /proc/self/fd/N: N's open file
    // (open() shares it where the inode cannot be opened anew, like a pipe).
    File* via_file;
    uint32_t name_len;
    char name[kNameMax + 1];  // the final component, NUL-terminated
};
// Resolves a kernel copy of a path (NUL-terminated, shorter than kPathMax)
// relative to start (used unless the path is absolute). Returns 0 or -errno:
// ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG. With a trailing slash the final
// inode must be a directory (else ENOTDIR); symlinks there are followed.
int64_t lookup(Inode* start, const char* path, uint32_t flags, Lookup* out);
// Writes the absolute path of dir into buf (cap bytes with the NUL).
// Returns the length with the NUL, -ENOENT for a removed dir, -ERANGE.
int64_t dir_path(const Inode* dir, char* buf, uint64_t cap);
// The same for any inode: a non-directory is found by a scan of every
// directory entry (slow: for /proc/self/fd only). -ENOENT when unlinked.
int64_t inode_path(const Inode* i, char* buf, uint64_t cap);
// The linked inode with this st_dev and st_ino (the same scan), or nullptr.
const Inode* inode_find(uint32_t dev, uint64_t ino);

// Inserts an entry with a given getdents cookie before `before` (nullptr:
// at the end); the caller keeps the directory's cookies increasing. For
// /proc directories whose entries are numbered (fd/, task/).
Dirent* dir_link_before(Inode* dir, const char* name, uint32_t len, Inode* child, Dirent* before,
                        uint64_t cookie);

// ---- /proc and /sys (procfs.cpp) -------------------------------------------
// Makes the (empty, mounted) directories proc and sys the roots of /proc
// and /sys; their entries are created on first use.
void proc_mount(Inode* proc, Inode* sys);
// Brings a kProcDir's entries up to date (lookup and getdents call it first).
void proc_fill(Inode* dir);
// A kProcLink's target, in a buffer valid until the next call.
const char* proc_link_target(const Inode* i, uint32_t* len);
// Where a "magic" link (/proc/self/fd/N, cwd, root) leads when followed:
// the inode itself rather than its text (*via: fd N's open file, or null).
// nullptr for links that are followed by their text.
Inode* proc_link_inode(const Inode* i, File** via);

// ---- tmpfs file data (tmpfs.cpp) ----------------------------------------
// Writes len bytes at off, growing the file; returns len or -EFBIG/-ENOSPC.
int64_t tmpfs_write(Inode* i, const void* buf, uint64_t len, uint64_t off);
// Sets the size; new bytes read as zeros. 0 or -EFBIG/-ENOSPC.
int64_t tmpfs_resize(Inode* i, uint64_t size);
// Gives a tmpfs symlink its target; 0 or -ENOMEM.
int64_t tmpfs_set_link(Inode* i, const char* target, uint32_t len);
void tmpfs_free_data(Inode* i);

}  // namespace k::fs
