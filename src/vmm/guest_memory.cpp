#include "vmm/guest_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

namespace ember {

GuestMemory::~GuestMemory() {
    if (owned_ && base_) munmap(base_, size_);
}

GuestMemory::GuestMemory(GuestMemory&& o) noexcept
    : base_(std::exchange(o.base_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      owned_(std::exchange(o.owned_, false)) {}

GuestMemory& GuestMemory::operator=(GuestMemory&& o) noexcept {
    if (this != &o) {
        if (owned_ && base_) munmap(base_, size_);
        base_ = std::exchange(o.base_, nullptr);
        size_ = std::exchange(o.size_, 0);
        owned_ = std::exchange(o.owned_, false);
    }
    return *this;
}

Result<GuestMemory> GuestMemory::create_anonymous(uint64_t size) {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return Status::from_errno("mmap guest memory");
    GuestMemory m;
    m.base_ = static_cast<uint8_t*>(p);
    m.size_ = size;
    m.owned_ = true;
    return m;
}

Result<GuestMemory> GuestMemory::map_file_private(int fd, uint64_t offset, uint64_t size) {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd,
                   static_cast<off_t>(offset));
    if (p == MAP_FAILED) return Status::from_errno("mmap snapshot memory");
    GuestMemory m;
    m.base_ = static_cast<uint8_t*>(p);
    m.size_ = size;
    m.owned_ = true;
    return m;
}

Status GuestMemory::map_file_at(uint64_t gpa, int fd, uint64_t len) {
    const uint64_t mapped = (len + EMBER_PAGE_SIZE - 1) & ~(EMBER_PAGE_SIZE - 1);
    if (!owned_ || gpa % EMBER_PAGE_SIZE != 0 || !contains(gpa, mapped))
        return Status::internal("file mapping outside guest memory");
    if (mapped == 0) return Status::ok();
    // PROT_WRITE: KVM takes only writable memory in a read-write slot;
    // MAP_PRIVATE keeps any write in this mapping.
    void* p = mmap(base_ + gpa, mapped, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, 0);
    if (p == MAP_FAILED) return Status::from_errno("mmap the root filesystem");
    return Status::ok();
}

Status check_guest_memory_size(uint64_t bytes) {
    if (bytes % EMBER_MEM_ALIGN != 0 || bytes < EMBER_MEM_MIN || bytes > EMBER_MEM_MAX)
        return Status::invalid_argument("guest memory size must be a multiple of " +
                                        std::to_string(EMBER_MEM_ALIGN >> 20) + " MiB between " +
                                        std::to_string(EMBER_MEM_MIN >> 20) + " MiB and " +
                                        std::to_string(EMBER_MEM_MAX >> 30) + " GiB");
    return Status::ok();
}

GuestMemory GuestMemory::wrap(uint8_t* base, uint64_t size) {
    GuestMemory m;
    m.base_ = base;
    m.size_ = size;
    return m;
}

namespace {
std::atomic<int> g_pagemap_fd{-1};  // kept open by keep_pagemap_open()
}  // namespace

Status GuestMemory::keep_pagemap_open() {
    if (g_pagemap_fd.load() >= 0) return Status::ok();
    const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::from_errno("open /proc/self/pagemap");
    int expected = -1;
    if (!g_pagemap_fd.compare_exchange_strong(expected, fd)) ::close(fd);
    return Status::ok();
}

Status GuestMemory::page_states(std::vector<PageState>* out) const {
    // pagemap: 8 bytes a page; bit 63 = present, bit 61 = file page or
    // shared anonymous (a present page of a private file mapping without it
    // was copied on write). pread on a shared fd is safe across threads.
    const int kept = g_pagemap_fd.load();
    const int fd = kept >= 0 ? kept : ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::from_errno("open /proc/self/pagemap");
    const uint64_t npages = size_ / EMBER_PAGE_SIZE;
    const uint64_t first = reinterpret_cast<uint64_t>(base_) / EMBER_PAGE_SIZE;
    std::vector<uint64_t> entries(npages);
    const ssize_t want = static_cast<ssize_t>(npages * 8);
    const bool ok =
        pread(fd, entries.data(), static_cast<size_t>(want), static_cast<off_t>(first * 8)) == want;
    if (fd != kept) ::close(fd);
    if (!ok) return Status::io_error("cannot read /proc/self/pagemap");
    out->resize(npages);
    for (uint64_t i = 0; i < npages; ++i)
        (*out)[i] = !(entries[i] >> 63 & 1)  ? PageState::kAbsent
                    : (entries[i] >> 61 & 1) ? PageState::kFile
                                             : PageState::kCopied;
    return Status::ok();
}

bool GuestMemory::read(uint64_t gpa, void* dst, uint64_t len) const {
    if (!contains(gpa, len)) return false;
    std::memcpy(dst, base_ + gpa, len);
    return true;
}

bool GuestMemory::write(uint64_t gpa, const void* src, uint64_t len) {
    if (!contains(gpa, len)) return false;
    std::memcpy(base_ + gpa, src, len);
    return true;
}

bool GuestMemory::fill(uint64_t gpa, uint8_t byte, uint64_t len) {
    if (!contains(gpa, len)) return false;
    std::memset(base_ + gpa, byte, len);
    return true;
}

}  // namespace ember
