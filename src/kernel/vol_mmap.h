// vol_mmap.h - MAP_SHARED mappings of volume files, written back to the host.
//
// A file mapping is a copy of the file's bytes in guest memory (mm.cpp), so
// a shared mapping of a volume file is remembered here (process, range,
// inode, offset) and its bytes are written to the host file with the
// volume's ordinary write call (the host confines it to the file and the
// quota) at msync, munmap (and a MAP_FIXED or mremap over it), fsync of the
// file, exit or exec of the process, and before any read of the file in the
// instance; bytes written with write() go into the mappings too, so read(),
// write() and the mapping agree as Linux's page cache makes them. Only the
// bytes below the file's size are written back (a mapping never grows the
// file), and every mapped page is written, changed or not (no dirty bits in
// the identity-mapped pool).
//
// Not as on Linux: two shared mappings of one file in one process are two
// copies (a fork's child shares its parent's frames, so those agree); the
// bytes a killed instance changed through a mapping since its last
// write-back are lost (Linux keeps them in the page cache).
#pragma once

#include "kernel.h"

namespace k {
struct Mm;
namespace fs {
struct Inode;
}

// mmap of fd, before mapping: -EACCES for a writable shared mapping of a
// volume file not open for writing, else 0.
int64_t volmap_check(int fd, uint64_t prot, bool shared);
// mmap: [addr, addr+len) of the current process now maps fd's file at off
// with MAP_SHARED and prot (remembered if it is a volume file). 0 or -ENOMEM.
int64_t volmap_add(int fd, uint64_t addr, uint64_t len, uint64_t off, uint64_t prot);
// mprotect to prot: -EACCES when it would make a shared mapping of a file
// not open for writing writable (as Linux), else 0 (or -ENOMEM).
int64_t volmap_protect(uint64_t addr, uint64_t len, uint64_t prot);
// msync (forget false) and munmap (forget true) of a range of the current
// process: its shared volume mappings there are written back; durable: the
// host fsyncs each file. 0 or the first error.
int64_t volmap_sync_range(uint64_t addr, uint64_t len, bool forget, bool durable);
// mremap moved or resized [old, old+old_len) to [dst, dst+new_len).
void volmap_move(uint64_t old, uint64_t old_len, uint64_t dst, uint64_t new_len);
// fork: the child's address space has the parent's mappings (same frames).
bool volmap_fork(Mm* child);
// The address space m is freed: forget its mappings.
void volmap_forget(Mm* m);
// The current process exits or execs: write back all its mappings.
void volmap_sync_current();

// From the volume's file operations (fs/volume.cpp):
// before a read of [off, off+len) of i, write back the mappings of i there.
int64_t volmap_flush(fs::Inode* i, uint64_t off, uint64_t len);
// after a write of src to [off, off+len) of i, the mappings see the bytes.
void volmap_written(fs::Inode* i, const void* src, uint64_t off, uint64_t len);
// after a truncate of i to size, mapped bytes past it read as zero.
void volmap_truncated(fs::Inode* i, uint64_t size);

}  // namespace k
