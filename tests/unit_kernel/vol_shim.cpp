// vol_shim.cpp - the fs tests run without a VMM: no volume is mounted
// (boot()->volume_count is 0), and a stray hypercall is refused.
#include "kernel.h"

namespace k {

int64_t hypercall(uint32_t, uint64_t) { return EMBER_ENOSYS; }

}  // namespace k
