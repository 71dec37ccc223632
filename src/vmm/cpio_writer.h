// cpio_writer.h - builds cpio "newc" archives (guest root filesystems) in
// host memory.
//
// Archives are reproducible: inode numbers follow insertion order, and uid,
// gid and mtime are 0, so the same inputs give the same bytes (and the same
// snapshot). Paths are normalised with cpio::normalize_name; the archive holds
// each path once, after all of its parent directories.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/cpio.h"

namespace ember::cpio {

class Writer {
  public:
    // Each add_* creates the missing parent directories of path (mode 0755)
    // and uses only the permission bits (07777) of mode. Adding a path that
    // exists with the same type replaces its mode and contents (later layers
    // win); adding the root ("." or "/") as a directory does nothing.
    // They return false, and add nothing, when normalize_name rejects path,
    // when a file or symlink would be the root or "TRAILER!!!", when a parent
    // exists and is not a directory, when the path exists with another type,
    // when the data is too large for a newc header (4 GiB - 1), or when a
    // symlink target is empty or contains a NUL.
    // mtime: seconds since the epoch (0 keeps archives reproducible).
    [[nodiscard]] bool add_dir(std::string_view path, uint32_t mode = 0755, uint32_t mtime = 0);
    [[nodiscard]] bool add_file(std::string_view path, std::span<const uint8_t> data,
                                uint32_t mode = 0644, uint32_t mtime = 0);
    [[nodiscard]] bool add_symlink(std::string_view path, std::string_view target,
                                   uint32_t mtime = 0);

    // Removes path and everything under it (an OCI whiteout); removing what
    // does not exist does nothing. False for an invalid path or the root.
    bool remove(std::string_view path);
    // Removes everything under the directory at path but keeps it (an OCI
    // opaque whiteout). False when path is invalid or not a directory.
    bool clear_dir(std::string_view path);
    // The contents of the regular file at exactly path (no symlink is
    // followed); nullptr when there is none (for hard links in archives).
    const std::vector<uint8_t>* file_at(std::string_view path) const;

    // The contents of the regular file at path, following symlinks inside
    // the tree (in any component, relative or absolute, at most 40 of them)
    // as the guest would; nullptr when it does not resolve to a file.
    const std::vector<uint8_t>* find_file(std::string_view path) const;
    // True when something exists at path (a final symlink is not followed).
    bool contains(std::string_view path) const;

    // Returns the archive, ending with TRAILER!!!, and leaves the writer empty.
    std::vector<uint8_t> finish();

  private:
    struct Node {
        std::string path;
        uint32_t mode;  // type and permission bits
        std::vector<uint8_t> data;
        uint32_t mtime = 0;
        bool removed = false;
    };
    void remove_under(const std::string& norm, bool self);
    bool add(std::string_view path, uint32_t mode, std::span<const uint8_t> data, uint32_t mtime);

    std::vector<Node> nodes_;
    std::unordered_map<std::string, size_t> index_;  // path -> nodes_ index
};

// Adds the host directory tree host_dir (regular files, directories and
// symlinks, with their permission bits and modification times; other file types are skipped) under
// the guest root. Symlinks are stored, never followed. Returns "" on success,
// else a one-line message naming the failing host path.
std::string add_host_tree(Writer& w, const std::string& host_dir);

// Validates archive with Reader and re-adds every directory, regular file and
// symlink in it to w, keeping modification times (device nodes, fifos and sockets are skipped).
// Hard links become separate copies of the linked data. Returns "" on success, else a one-line
// message naming the defect and its offset.
std::string add_archive(Writer& w, std::span<const uint8_t> archive);

}  // namespace ember::cpio
