// data_dir.h - emberd's data directory:
//   <dir>/state.db      SQLite state (services, images)
//   <dir>/token         the API token (mode 0600, created at first start)
//   <dir>/images/       content-addressed blobs
//   <dir>/snapshots/    the per-node snapshot cache (<service>.<generation>.snap)
//   <dir>/suspended/    suspended instances (stateful scale to zero):
//                       <service>.<generation>.<instance id>.susp, and .seal
//   <dir>/lock          held (flock) by the running emberd
#pragma once

#include <string>

#include "common/result.h"

namespace ember::platform {

class DataDir {
  public:
    // Creates the directory tree (mode 0700) and takes the lock: a second
    // emberd on the same directory is refused.
    static Result<DataDir> open(const std::string& dir);
    DataDir(DataDir&& o) noexcept : root_(std::move(o.root_)), lock_fd_(o.lock_fd_) {
        o.lock_fd_ = -1;
    }
    DataDir& operator=(DataDir&&) = delete;
    ~DataDir();

    const std::string& root() const { return root_; }
    std::string db_path() const { return root_ + "/state.db"; }
    std::string token_path() const { return root_ + "/token"; }
    std::string images_dir() const { return root_ + "/images"; }
    std::string snapshots_dir() const { return root_ + "/snapshots"; }
    std::string suspended_dir() const { return root_ + "/suspended"; }
    std::string snapshot_path(const std::string& service, uint64_t generation) const {
        return snapshots_dir() + "/" + service + "." + std::to_string(generation) + ".snap";
    }

  private:
    DataDir(std::string root, int lock_fd) : root_(std::move(root)), lock_fd_(lock_fd) {}
    std::string root_;
    int lock_fd_ = -1;
};

// The API token: read from path, or created there (32 random bytes, hex,
// mode 0600) when the file does not exist. A token file readable by group or
// others is refused.
Result<std::string> load_or_create_token(const std::string& path);
// A secret kept in a file (a token, a password): its first line, at least
// min_size characters; a file readable by group or others is refused.
Result<std::string> read_secret_file(const std::string& path, size_t min_size);
// Constant-time check of an "Authorization" header value against the token.
bool bearer_matches(const std::string& authorization, const std::string& token);

}  // namespace ember::platform
