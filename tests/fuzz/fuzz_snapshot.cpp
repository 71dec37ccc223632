// libFuzzer entry point for the snapshot reader (src/vmm/snapshot.cpp): the
// input is the start of a snapshot file, opened through Snapshot::open like
// any other (from a memfd, by its /proc/self/fd path). Built with
// FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, so the checksums do not stop the
// fuzzer before the state section and the page bitmap.
//
// The file is extended with a hole to 16 MiB when the input is shorter, so
// that a header claiming the smallest guest memory sizes is not rejected as
// truncated (larger sizes are, which keeps one run's page reads bounded).
// Besides crashes and sanitizer reports it fails when an accepted snapshot
// breaks a bound the restore path relies on.
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "abi/ember_abi.h"
#include "fuzz_input.h"
#include "vmm/snapshot.h"

using namespace ember;

namespace {

constexpr uint64_t kFileSize = 2 * EMBER_MEM_MIN;

int snapshot_fd() {
    static const int fd = [] {
        const int f = memfd_create("fuzz-snapshot", MFD_CLOEXEC);
        if (f < 0) std::abort();
        return f;
    }();
    return fd;
}

bool write_all(int fd, const uint8_t* p, size_t n) {
    uint64_t off = 0;
    while (off < n) {
        const ssize_t w = pwrite(fd, p + off, n - off, static_cast<off_t>(off));
        if (w <= 0) return false;
        off += static_cast<uint64_t>(w);
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const int fd = snapshot_fd();
    // Truncating first drops the pages the previous input had read.
    if (ftruncate(fd, 0) != 0 || !write_all(fd, data, size) ||
        ftruncate(fd, static_cast<off_t>(size > kFileSize ? size : kFileSize)) != 0)
        std::abort();
    auto snap = snapshot::Snapshot::open("/proc/self/fd/" + std::to_string(fd));
    if (!snap) {
        FUZZ_CHECK(!snap.status().message().empty());
        return 0;
    }
    const snapshot::Snapshot& s = **snap;
    const snapshot::Header& h = s.header();
    FUZZ_CHECK(check_guest_memory_size(h.mem_size));
    FUZZ_CHECK(h.mem_offset % EMBER_PAGE_SIZE == 0);
    FUZZ_CHECK(h.mem_offset + h.mem_size <= std::max<uint64_t>(kFileSize, size));
    FUZZ_CHECK(h.mem_pages <= h.mem_size / EMBER_PAGE_SIZE);
    FUZZ_CHECK(s.vmm().listeners.size() <= EMBER_NET_MAX_STREAMS);
    FUZZ_CHECK(s.vmm().ready_call == EMBER_HC_WAIT || s.vmm().ready_call == EMBER_HC_READY);
    // What a restore does with it: map the memory, privately and read-only.
    auto mem = s.map_memory();
    FUZZ_CHECK(mem && mem->size() == h.mem_size);
    const uint8_t* pristine = s.pristine();
    if (pristine) {
        volatile uint8_t last = pristine[h.mem_size - 1];
        (void)last;
    }
    return 0;
}
