// vol_shim.cpp - the fs tests run without a VMM: no volume is mounted
// (boot()->volume_count is 0), and a stray hypercall is refused. No
// mapping exists either, so the shared volume mappings (vol_mmap.h) are
// empty.
#include "kernel.h"
#include "vol_mmap.h"

namespace k {

int64_t hypercall(uint32_t, uint64_t) { return EMBER_ENOSYS; }

int64_t volmap_flush(fs::Inode*, uint64_t, uint64_t) { return 0; }
void volmap_written(fs::Inode*, const void*, uint64_t, uint64_t) {}
void volmap_truncated(fs::Inode*, uint64_t) {}

}  // namespace k
