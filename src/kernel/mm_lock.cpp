// mm_lock.cpp - the memory syscalls that only report or promise: mincore,
// msync, mlock and friends. Guest memory never swaps and a file mapping is
// a copy of the file's bytes, so locking has nothing to do and msync only
// writes back shared mappings of volume files (vol_mmap.h); each checks its
// arguments and the mapping the way Linux does (EINVAL for bad flags or
// alignment, ENOMEM for an unmapped range).
#include "mm_maps.h"
#include "mm_space.h"
#include "vol_mmap.h"

namespace k {
namespace {

constexpr uint64_t kPage = EMBER_PAGE_SIZE;

// [addr, addr+len) widened to pages is all mapped; false also on overflow.
bool mapped(uint64_t addr, uint64_t len) {
    const uint64_t lo = addr & ~(kPage - 1);
    if (len > (1ull << 47) || addr > (1ull << 47)) return false;
    const uint64_t hi = (addr + len + kPage - 1) & ~(kPage - 1);
    return maps::covers(lo, hi - lo);
}

int64_t sys_mlock(uint64_t addr, uint64_t len, uint64_t, uint64_t, uint64_t, uint64_t) {
    return mapped(addr, len) ? 0 : -ENOMEM;
}

int64_t sys_mlock2(uint64_t addr, uint64_t len, uint64_t flags, uint64_t, uint64_t, uint64_t) {
    constexpr uint64_t kMlockOnFault = 1;
    if (flags & ~kMlockOnFault) return -EINVAL;
    return mapped(addr, len) ? 0 : -ENOMEM;
}

int64_t sys_mlockall(uint64_t flags, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    constexpr uint64_t kCurrent = 1, kFuture = 2, kOnFault = 4;
    if (!flags || (flags & ~(kCurrent | kFuture | kOnFault)) || flags == kOnFault) return -EINVAL;
    return 0;
}

int64_t sys_munlockall(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) { return 0; }

int64_t sys_msync(uint64_t addr, uint64_t len, uint64_t flags, uint64_t, uint64_t, uint64_t) {
    constexpr uint64_t kAsync = 1, kInvalidate = 2, kSync = 4;
    if (addr % kPage || (flags & ~(kAsync | kInvalidate | kSync)) ||
        (flags & (kAsync | kSync)) == (kAsync | kSync))
        return -EINVAL;
    if (!mapped(addr, len)) return -ENOMEM;
    // MS_SYNC returns once the host has the bytes durably, as Linux's
    // msync returns after the file's fsync.
    return volmap_sync_range(addr, len, false, (flags & kSync) != 0);
}

// One byte per page: 1 when the page has memory behind it. Everything in
// the identity-mapped pool has; above it, committed pages have (a
// reservation's pages never made accessible have not).
int64_t sys_mincore(uint64_t addr, uint64_t len, uint64_t vec, uint64_t, uint64_t, uint64_t) {
    if (addr % kPage) return -EINVAL;
    if (!mapped(addr, len)) return -ENOMEM;
    const uint64_t n = (len + kPage - 1) / kPage;
    uint8_t buf[256];
    for (uint64_t done = 0; done < n;) {
        const uint64_t k = n - done < sizeof buf ? n - done : sizeof buf;
        for (uint64_t i = 0; i < k; ++i) {
            const uint64_t va = addr + (done + i) * kPage;
            buf[i] = va < kVirtLo || virt_frame(va) ? 1 : 0;
        }
        if (copy_to_user(vec + done, buf, k) < 0) return -EFAULT;
        done += k;
    }
    return 0;
}

}  // namespace

void register_mm_lock_syscalls() {
    syscall_register(nr::mlock, "mlock", sys_mlock);
    syscall_register(nr::munlock, "munlock", sys_mlock);
    syscall_register(nr::mlock2, "mlock2", sys_mlock2);
    syscall_register(nr::mlockall, "mlockall", sys_mlockall);
    syscall_register(nr::munlockall, "munlockall", sys_munlockall);
    syscall_register(nr::msync, "msync", sys_msync);
    syscall_register(nr::mincore, "mincore", sys_mincore);
}

}  // namespace k
