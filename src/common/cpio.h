// cpio.h - a reader for cpio "newc" archives, the format of Ember's root
// filesystem images.
//
// Shared by the VMM (which validates and builds images) and the guest kernel
// (which serves files straight out of the archive in guest memory), so it is
// freestanding: <stdint.h>/<stddef.h> only, no allocation, no exceptions. The
// archive is untrusted; every length is checked against the bytes that remain
// before it is used.
//
// Format: each entry is a 110-byte ASCII header ("070701" or "070702", then
// 13 fields of 8 hex digits), the name (namesize bytes including its NUL),
// padding to a multiple of 4 counted from the header start, the data
// (filesize bytes) and padding to a multiple of 4. The entry named
// "TRAILER!!!" ends the archive; bytes after it (tape-block padding) are
// ignored. Hard links share (dev, ino); writers such as GNU cpio store the
// data with only one of the links.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace ember::cpio {

enum class Error : uint32_t {
    kOk,
    kEnd,
    kTruncated,
    kBadMagic,
    kBadHex,
    kBadNameSize,
    kBadFileSize,
    kMissingTrailer,
};

inline const char* error_string(Error e) {
    switch (e) {
        case Error::kOk:
            return "ok";
        case Error::kEnd:
            return "end of archive";
        case Error::kTruncated:
            return "truncated entry header or name";
        case Error::kBadMagic:
            return "bad magic (not a cpio newc archive)";
        case Error::kBadHex:
            return "non-hex digit in a header field";
        case Error::kBadNameSize:
            return "bad name size (zero, too long, or name not NUL-terminated)";
        case Error::kBadFileSize:
            return "file data extends beyond the end of the archive";
        case Error::kMissingTrailer:
            return "archive ends without a TRAILER!!! entry";
    }
    return "unknown cpio error";
}

constexpr uint32_t kMaxName = 4096;  // namesize, including the NUL
constexpr uint32_t kHeaderSize = 110;

// File type bits of Entry::mode (as in <sys/stat.h>).
constexpr uint32_t kModeTypeMask = 0170000;
constexpr uint32_t kModeDir = 0040000;
constexpr uint32_t kModeFile = 0100000;
constexpr uint32_t kModeSymlink = 0120000;

// Pointers refer into the archive passed to the Reader. name is
// NUL-terminated and contains no other NUL; it is the raw archive name
// (see normalize_name). A symlink's data is its target, without a NUL.
struct Entry {
    const char* name;
    uint32_t name_len;  // without the NUL
    uint32_t mode, uid, gid, nlink, mtime, ino, dev_major, dev_minor, rdev_major, rdev_minor;
    const uint8_t* data;
    uint64_t size;
};

class Reader {
  public:
    // The archive must stay alive and unchanged while the Reader and the
    // entries it returned are used.
    Reader(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}

    // Returns kOk and the next entry, kEnd once the trailer is read, or an
    // error. After kEnd or an error every later call returns the same value.
    Error next(Entry* out) {
        if (state_ == Error::kOk) state_ = read(out);
        return state_;
    }

    // Offset of the next header to read; after an error, of the bad entry.
    uint64_t offset() const { return off_; }

  private:
    static int hex_digit(uint8_t c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    static uint64_t pad4(uint64_t n) { return (n + 3) & ~uint64_t{3}; }

    Error read(Entry* out) {
        const uint64_t left = size_ - off_;
        if (left == 0) return Error::kMissingTrailer;
        if (left < kHeaderSize) return Error::kTruncated;
        const uint8_t* h = data_ + off_;
        static constexpr char kMagic[] = "07070";
        for (int i = 0; i < 5; ++i)
            if (h[i] != kMagic[i]) return Error::kBadMagic;
        if (h[5] != '1' && h[5] != '2') return Error::kBadMagic;

        // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor
        // rdevminor namesize check
        uint32_t f[13];
        for (int i = 0; i < 13; ++i) {
            uint32_t v = 0;
            for (int j = 0; j < 8; ++j) {
                const int d = hex_digit(h[6 + i * 8 + j]);
                if (d < 0) return Error::kBadHex;
                v = (v << 4) | static_cast<uint32_t>(d);
            }
            f[i] = v;
        }

        const uint32_t namesize = f[11];
        if (namesize == 0 || namesize > kMaxName) return Error::kBadNameSize;
        if (namesize > left - kHeaderSize) return Error::kTruncated;
        const char* name = reinterpret_cast<const char*>(h + kHeaderSize);
        for (uint32_t i = 0; i + 1 < namesize; ++i)
            if (name[i] == '\0') return Error::kBadNameSize;
        if (name[namesize - 1] != '\0') return Error::kBadNameSize;

        const uint64_t data_off = pad4(kHeaderSize + namesize);
        static constexpr char kTrailer[] = "TRAILER!!!";
        if (namesize == sizeof(kTrailer)) {
            bool trailer = true;
            for (uint32_t i = 0; i < namesize; ++i) trailer = trailer && name[i] == kTrailer[i];
            if (trailer) {
                off_ += data_off < left ? data_off : left;
                return Error::kEnd;
            }
        }

        const uint64_t filesize = f[6];
        if (data_off > left) return Error::kTruncated;
        if (filesize > left - data_off) return Error::kBadFileSize;

        *out = Entry{name, namesize - 1, f[1], f[2], f[3],  f[4],         f[5],
                     f[0], f[7],         f[8], f[9], f[10], h + data_off, filesize};
        // The last entry's data padding may be cut off; the next call then
        // reports the missing trailer.
        const uint64_t next = pad4(data_off + filesize);
        off_ += next < left ? next : left;
        return Error::kOk;
    }

    const uint8_t* data_;
    uint64_t size_;
    uint64_t off_ = 0;
    Error state_ = Error::kOk;
};

// Normalises the archive name name[0, len) into "a/b/c" form in out (cap
// bytes including the NUL): leading "/" and "./", repeated "/" and "."
// components are dropped, so ".", "./" and "/" all give "" (the root).
// Returns false for an empty name, a ".." component, a NUL inside the name,
// or a result that does not fit in cap.
inline bool normalize_name(const char* name, uint32_t len, char* out, uint32_t cap) {
    if (len == 0 || cap == 0) return false;
    uint32_t n = 0;
    uint32_t i = 0;
    while (i < len) {
        if (name[i] == '/') {
            ++i;
            continue;
        }
        const uint32_t start = i;
        for (; i < len && name[i] != '/'; ++i)
            if (name[i] == '\0') return false;
        const uint32_t clen = i - start;
        if (clen == 1 && name[start] == '.') continue;
        if (clen == 2 && name[start] == '.' && name[start + 1] == '.') return false;
        const uint32_t sep = n > 0 ? 1 : 0;
        if (clen + sep >= cap - n) return false;  // leaves room for the NUL
        if (sep) out[n++] = '/';
        for (uint32_t k = 0; k < clen; ++k) out[n++] = name[start + k];
    }
    out[n] = '\0';
    return true;
}

}  // namespace ember::cpio
