// guest_memory.h - guest RAM and the one checked accessor for it.
//
// Guest addresses (GPAs) are plain uint64_t: host code cannot dereference
// them by accident. Every access goes through read()/write()/span(), which
// check the range against the guest RAM size with overflow-safe arithmetic.
// Guest structs are copied out first, then validated (no double fetch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "abi/ember_abi.h"
#include "common/result.h"

namespace ember {

// The size rule of guest memory (EMBER_MEM_ALIGN, EMBER_MEM_MIN,
// EMBER_MEM_MAX in ember_abi.h): an error naming the limits, or ok.
Status check_guest_memory_size(uint64_t bytes);
// `bytes` rounded up to the next multiple of EMBER_MEM_ALIGN (what a user's
// "--mem 100M" becomes); the result still needs the check.
constexpr uint64_t round_up_guest_memory_size(uint64_t bytes) {
    return (bytes + EMBER_MEM_ALIGN - 1) & ~(EMBER_MEM_ALIGN - 1);
}

class GuestMemory {
  public:
    GuestMemory() = default;
    ~GuestMemory();
    GuestMemory(const GuestMemory&) = delete;
    GuestMemory& operator=(const GuestMemory&) = delete;
    GuestMemory(GuestMemory&& o) noexcept;
    GuestMemory& operator=(GuestMemory&& o) noexcept;

    // Anonymous private memory, reserved but not populated: only pages the
    // guest (or the loader) touches cost host memory.
    static Result<GuestMemory> create_anonymous(uint64_t size);
    // A private (copy-on-write) mapping of `size` bytes of `fd` at `offset`:
    // writes stay in this mapping, the file is never changed.
    static Result<GuestMemory> map_file_private(int fd, uint64_t offset, uint64_t size);
    // Maps `len` bytes of `fd` (from offset 0) copy-on-write over
    // [gpa, gpa + len rounded up to a page) of this memory, replacing what
    // was there: pages come from the host page cache when first touched and
    // are shared with every other mapping of the file until written; the
    // file is never changed. gpa must be page aligned. The mapping keeps the
    // file alive: fd may be closed afterwards.
    Status map_file_at(uint64_t gpa, int fd, uint64_t len);
    // Wraps memory the caller owns (tests). Not unmapped on destruction.
    static GuestMemory wrap(uint8_t* base, uint64_t size);

    uint64_t size() const { return size_; }
    uint8_t* host_base() const { return base_; }

    // True when [gpa, gpa+len) lies inside guest RAM (len may be 0).
    bool contains(uint64_t gpa, uint64_t len) const { return gpa <= size_ && len <= size_ - gpa; }
    // A host view of [gpa, gpa+len), or empty optional when out of range.
    std::optional<std::span<uint8_t>> span(uint64_t gpa, uint64_t len) const {
        if (!contains(gpa, len)) return std::nullopt;
        return std::span<uint8_t>(base_ + gpa, len);
    }
    // What the host kernel has behind each page of a private file mapping
    // (from /proc/self/pagemap): not yet touched, the file's page (read
    // only), or a private copy (written since the mapping was made).
    enum class PageState : uint8_t { kAbsent, kFile, kCopied };
    Status page_states(std::vector<PageState>* out) const;
    // Opens /proc/self/pagemap for good, for page_states() in a process
    // that sandboxes itself afterwards (no /proc, no open()): resetting
    // VMs and learning working sets need it. Idempotent.
    static Status keep_pagemap_open();

    bool read(uint64_t gpa, void* dst, uint64_t len) const;
    bool write(uint64_t gpa, const void* src, uint64_t len);
    bool fill(uint64_t gpa, uint8_t byte, uint64_t len);

    template <typename T>
    std::optional<T> read_obj(uint64_t gpa) const {
        static_assert(std::is_trivially_copyable_v<T>);
        T v;
        if (!read(gpa, &v, sizeof(T))) return std::nullopt;
        return v;
    }
    template <typename T>
    bool write_obj(uint64_t gpa, const T& v) {
        static_assert(std::is_trivially_copyable_v<T>);
        return write(gpa, &v, sizeof(T));
    }

  private:
    uint8_t* base_ = nullptr;
    uint64_t size_ = 0;
    bool owned_ = false;
};

}  // namespace ember
