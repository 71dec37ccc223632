// fd_io.h - whole-buffer positional reads and writes on a file descriptor,
// retried across EINTR and short transfers.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace ember {

// False on an error or when the file ends before n bytes.
inline bool pwrite_all(int fd, const void* p, size_t n, uint64_t off) {
    const auto* b = static_cast<const uint8_t*>(p);
    while (n > 0) {
        const ssize_t w = ::pwrite(fd, b, n, static_cast<off_t>(off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        b += w;
        n -= static_cast<size_t>(w);
        off += static_cast<uint64_t>(w);
    }
    return true;
}

inline bool pread_all(int fd, void* p, size_t n, uint64_t off) {
    auto* b = static_cast<uint8_t*>(p);
    while (n > 0) {
        const ssize_t r = ::pread(fd, b, n, static_cast<off_t>(off));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        b += r;
        n -= static_cast<size_t>(r);
        off += static_cast<uint64_t>(r);
    }
    return true;
}

}  // namespace ember
