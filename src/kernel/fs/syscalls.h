// syscalls.h - helpers shared by the fs syscall files (private to fs/).
#pragma once

#include "fs/fd.h"

namespace k::fs {

// fd arguments are C ints: the upper half of the register is ignored.
inline int64_t fd_arg(uint64_t a) { return static_cast<int32_t>(a); }

// The inode a dirfd-relative path starts from: "/" for absolute paths, the
// cwd for AT_FDCWD. -EBADF, -ENOTDIR.
int64_t start_dir(int64_t dirfd, const char* path, Inode** out);

// Copies a user path into buf (kPathMax bytes): 0, -EFAULT, -ENAMETOOLONG.
// With empty_ok a null pointer reads as "" (AT_EMPTY_PATH).
int64_t copy_path(uint64_t upath, bool empty_ok, char* buf);
// Resolves a kernel copy of a path against dirfd. An empty path is -ENOENT
// unless empty_ok, in which case it names dirfd's own inode (AT_EMPTY_PATH).
int64_t resolve_at(int64_t dirfd, const char* path, uint32_t flags, bool empty_ok, Lookup* out);
// copy_path, then resolve_at.
int64_t at_lookup(int64_t dirfd, uint64_t upath, uint32_t flags, bool empty_ok, char* buf,
                  Lookup* out);

// Per-file registration, called by register_fs_syscalls.
void register_rw_syscalls();
void register_fd_syscalls();
void register_open_syscalls();
void register_stat_syscalls();
void register_dir_syscalls();

}  // namespace k::fs
