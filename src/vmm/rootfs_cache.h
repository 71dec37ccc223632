// rootfs_cache.h - built root filesystem archives kept on the host, so that
// a second run with the same inputs neither re-reads nor re-builds them: the
// archive is a file the VMM maps (VmConfig::rootfs_fd), its pages shared
// through the host page cache by every VM that runs it.
//
// An entry is <dir>/<hash>.cpio (the archive) and <hash>.meta (the exact
// key, then what the caller needs besides the archive, then the host inputs
// it was built from, each with its identity). A lookup checks the key and
// every input's identity again (stat, no read), so a changed input is a
// miss and the entry is rebuilt. Files are written to a temporary name and
// renamed into place (concurrent runs may both build; each gets a complete
// archive). The cache is bounded: after a store, the least recently used
// entries are removed until the archives fit max_bytes. A cache that cannot
// be written is not an error: the archive goes into a memfd instead.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "vmm/kvm.h"  // Fd

namespace ember {

// $EMBER_CACHE_DIR, else $XDG_CACHE_HOME/ember, else $HOME/.cache/ember;
// "" when none is set.
std::string rootfs_cache_dir();

// What identifies a host input without reading it: for a file its real path,
// device, inode, size and modification time (ns); for a directory the list
// of (path, type, size, mtime) of everything under it. "" when it cannot be
// stat'ed.
std::string file_identity(const std::string& path);
std::string tree_identity(const std::string& dir);

struct RootfsEntry {
    Fd fd;              // the archive, read-only (a cache file or a memfd)
    uint64_t size = 0;  // its bytes
    std::string meta;   // what the caller stored beside it
    std::string path;   // the cache file ("" for a memfd)
    bool hit = false;   // found in the cache (not built by this run)
};

class RootfsCache {
  public:
    static constexpr uint64_t kDefaultMaxBytes = 4ull << 30;
    // dir "" disables the cache (every store goes to a memfd).
    explicit RootfsCache(std::string dir, uint64_t max_bytes = kDefaultMaxBytes)
        : dir_(std::move(dir)), max_bytes_(max_bytes) {}

    // The entry stored under key, if its inputs (files or trees, see
    // store) are unchanged; marks it recently used.
    std::optional<RootfsEntry> lookup(const std::string& key);
    // Stores archive under key with meta (opaque to the cache) and the host
    // paths it was built from: files, and directories prefixed with "dir:".
    // Returns the archive as an open file: the cache's, or a memfd when the
    // cache cannot be written. An error only when neither works.
    Result<RootfsEntry> store(const std::string& key, std::span<const uint8_t> archive,
                              const std::string& meta, const std::vector<std::string>& inputs);
    // Removes least recently used entries until the archives fit max_bytes.
    void evict();

  private:
    std::string dir_;
    uint64_t max_bytes_;
};

// The archive in an anonymous memory file (memfd).
Result<RootfsEntry> rootfs_in_memfd(std::span<const uint8_t> archive);

// Length-prefixed fields, for what a caller keeps in RootfsEntry::meta.
std::string encode_fields(const std::vector<std::string>& fields);
bool decode_fields(std::string_view in, std::vector<std::string>* fields);

// Where the contents of a regular file equal to `content` lie in a cpio
// archive (offset, size), so that a cache hit can read them back (the
// program, its interpreter) without the tree; nothing when no file matches.
std::optional<std::pair<uint64_t, uint64_t>> find_file_data(std::span<const uint8_t> archive,
                                                            std::span<const uint8_t> content);

}  // namespace ember
