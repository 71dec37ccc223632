// image_store.h - content-addressed blobs (programs and the files deployed
// with them), named by the SHA-256 of their bytes: <dir>/<sha256>. Written
// to a temporary file, fsync'ed and renamed, so a blob either exists whole
// or not at all; verified against its name when read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ember::platform {

std::string sha256_hex(const void* data, size_t len);

class ImageStore {
  public:
    // dir must exist.
    explicit ImageStore(std::string dir) : dir_(std::move(dir)) {}

    // Stores data (idempotent) and returns its sha256.
    Result<std::string> put(std::string_view data);
    // The blob's bytes; an error when it is missing, larger than max_size,
    // or its content does not match its name.
    Result<std::vector<uint8_t>> get(const std::string& sha256, uint64_t max_size) const;
    // The blob opened read-only (the caller closes the fd), for a process
    // that reads it with read_fd() but may not open files itself.
    Result<int> open(const std::string& sha256) const;
    // get() on a blob opened with open(): the same caps and content check.
    static Result<std::vector<uint8_t>> read_fd(int fd, const std::string& sha256,
                                                uint64_t max_size);
    bool exists(const std::string& sha256) const;
    Status remove(const std::string& sha256);
    // Removes the temporary files of writes that never finished (emberd was
    // killed mid-upload); returns how many. Only while no put() runs: at
    // start-up, under the data directory's lock.
    size_t remove_temp_files();
    std::string path_of(const std::string& sha256) const { return dir_ + "/" + sha256; }

  private:
    std::string dir_;
};

}  // namespace ember::platform
