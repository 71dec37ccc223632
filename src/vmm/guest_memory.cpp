#include "vmm/guest_memory.h"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace ember {

void check_failed(const char* expr, const char* file, int line) {
    std::fprintf(stderr, "ember: internal check failed: %s at %s:%d\n", expr, file, line);
    std::abort();
}

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

GuestMemory GuestMemory::wrap(uint8_t* base, uint64_t size) {
    GuestMemory m;
    m.base_ = base;
    m.size_ = size;
    return m;
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
