// volume.h - volumes: host directories mounted in the guest tree
// (EMBER_HC_VOLUME, ember_abi.h "volumes").
//
// A volume's directories and files are ordinary inodes of FsId::kVolume,
// made when a lookup first meets them. The tree is only a cache of names:
// every lookup of a name in a volume directory asks the host again (one
// exit per component), so another writer's changes, a redeploy's or a
// restore's, are seen; data never stays in the guest (reads and writes go
// to the host at once, so nothing is lost when the instance is killed).
// The host is addressed by path: each inode's path below the volume's root
// is rebuilt from its parent and dentry (kept for files too), so renames
// and snapshots need no host state. Symlinks are resolved by the guest's
// own path walk, like any symlink: their targets are guest paths.
//
// An open file whose name is unlinked or replaced stays usable: it moves
// to a hidden name in the volume's root until its last close (vol_unlink).
// chmod, utimes and hard links reach the host; chown stays in the guest
// (the host's files belong to the instance's user). mmap MAP_SHARED of a
// volume file is written back (vol_mmap.h).
#pragma once

#include "fs/fd.h"

namespace k::fs {

inline bool is_vol(const Inode* i) { return i->fs == FsId::kVolume; }
// Whether the volume holding i was mounted read-only.
bool vol_readonly(const Inode* i);

// Mounts the boot-info page's volumes (fs_init, after the synthetic trees).
bool vol_mount_all();

// The entry `name` of volume directory dir as the host has it now: the
// cached inode updated, or a new one, or nullptr with *err (-ENOENT: a
// cached entry is dropped; or the host's error, e.g. -EACCES).
Inode* vol_lookup(Inode* dir, const char* name, uint32_t len, int64_t* err);
// Refreshes size, mode and times of i from the host (stat, lseek).
void vol_refresh(Inode* i);

// Name-space changes at a Lookup whose dir is a volume directory. Each
// returns 0 or -errno and keeps the cached tree in line with the host.
int64_t vol_create(const Lookup* lk, uint32_t mode, bool excl, Inode** out);
int64_t vol_mkdir(const Lookup* lk, uint32_t mode);
int64_t vol_unlink(const Lookup* lk, bool rmdir);
int64_t vol_rename(const Lookup* from, const Lookup* to, uint64_t flags);
int64_t vol_symlink(const Lookup* lk, const char* target, uint32_t len);

// Metadata on the host too: permission bits, times (ns; -1: unchanged),
// a hard link named by `to` (same volume) to src.
int64_t vol_chmod(Inode* i, uint32_t mode);
int64_t vol_utimes(Inode* i, int64_t atime_ns, int64_t mtime_ns);
int64_t vol_link(Inode* src, const Lookup* to);
// The last reference to an unlinked open file went: the host removes it.
void vol_reap(Inode* i);

// Data of a volume file.
extern const FileOps kVolFileOps;
int64_t vol_truncate(Inode* i, uint64_t size);
// fsync: the file's shared mappings are written back first (vol_mmap.h).
int64_t vol_fsync(Inode* i, bool datasync);
// The host's fsync alone, and a write at off of kernel-addressable bytes
// that leaves the shared mappings alone (their write-back).
int64_t vol_host_fsync(Inode* i, bool datasync);
int64_t vol_pwrite(Inode* i, const void* src, uint64_t len, uint64_t off);
int64_t vol_pread(const Inode* i, void* dst, uint64_t len, uint64_t off);
// getdents/getdents64 of an open volume directory; f->pos is the host's
// directory position.
int64_t vol_getdents(File* f, uint64_t ubuf, uint64_t count, bool wide);

}  // namespace k::fs
