// volmap_shim.cpp - the host tests of the guest kernel have no address
// spaces, so no shared volume mapping exists (vol_mmap.h): the calls the
// volume code makes find none.
#include "kernel.h"
#include "vol_mmap.h"

namespace k {

int64_t volmap_flush(fs::Inode*, uint64_t, uint64_t) { return 0; }
void volmap_written(fs::Inode*, const void*, uint64_t, uint64_t) {}
void volmap_truncated(fs::Inode*, uint64_t) {}

}  // namespace k
