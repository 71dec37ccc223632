// volume_store.h - emberd's volumes: a directory per volume under
// <data dir>/volumes/, its size (the quota the VMM enforces) in the state
// database (table `volumes`, next to the services). A volume outlives the
// services that mount it: `ember rm` leaves it, `ember volume rm` removes it
// unless a service still mounts it.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "platform/store.h"

namespace ember::platform {

struct VolumeRecord {
    std::string name;
    uint64_t size_bytes = 0;  // the quota
    int64_t created_at = 0;   // unix seconds
};

// Larger volumes are refused: the VM workers' RLIMIT_FSIZE is above this.
constexpr uint64_t kMaxVolumeBytes = 8ull << 30;
constexpr uint64_t kMinVolumeBytes = 1ull << 20;

class VolumeStore {
  public:
    // dir: <data dir>/volumes (created). A root emberd gives each new
    // volume's directory to the workers' user (uid, gid); -1: leave it.
    static Result<std::unique_ptr<VolumeStore>> open(const std::string& db_path,
                                                     const std::string& dir, int64_t uid,
                                                     int64_t gid);
    ~VolumeStore();

    Result<VolumeRecord> create(const std::string& name, uint64_t size_bytes);
    Result<std::optional<VolumeRecord>> get(const std::string& name);
    Result<std::vector<VolumeRecord>> list();
    // Refused (conflict) while one of `services` mounts it.
    Status remove(const std::string& name, const std::vector<ServiceRecord>& services);
    // What the volume holds, counted as the quota counts it.
    uint64_t used_bytes(const std::string& name) const;
    std::string path(const std::string& name) const { return dir_ + "/" + name; }

    // A deploy's volumes: each exists, and no other service writes a volume
    // this one mounts writable (one writer at a time; readers may share,
    // and see the writer's changes).
    Status check_spec(const ServiceSpec& spec, const std::vector<ServiceRecord>& services);

  private:
    VolumeStore(sqlite3* db, std::string dir, int64_t uid, int64_t gid)
        : db_(db), dir_(std::move(dir)), uid_(uid), gid_(gid) {}
    std::mutex mu_;
    sqlite3* db_;
    std::string dir_;
    int64_t uid_, gid_;
};

// The names of the services that mount `volume`, with how.
std::vector<std::string> volume_users(const std::string& volume,
                                      const std::vector<ServiceRecord>& services, bool writers);

}  // namespace ember::platform
