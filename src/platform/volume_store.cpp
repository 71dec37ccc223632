// volume_store.cpp - see volume_store.h.
#include "platform/volume_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>

namespace ember::platform {

namespace {

namespace fs = std::filesystem;

// Counted as the VMM's quota counts (volume_host.h): a file its size in
// 4 KiB units (at least one), a directory or symlink one unit.
uint64_t charge(const fs::directory_entry& e) {
    std::error_code ec;
    constexpr uint64_t kUnit = 4096;
    if (e.is_regular_file(ec) && !e.is_symlink(ec)) {
        const uint64_t size = e.file_size(ec);
        return ec ? kUnit : std::max<uint64_t>(kUnit, (size + kUnit - 1) / kUnit * kUnit);
    }
    return kUnit;
}

bool mounted(const ServiceSpec& s, const std::string& volume, bool writers) {
    for (const auto& v : s.volumes)
        if (v.name == volume && (!writers || (!v.readonly && s.isolation == Isolation::kInstance)))
            return true;
    return false;
}

}  // namespace

std::vector<std::string> volume_users(const std::string& volume,
                                      const std::vector<ServiceRecord>& services, bool writers) {
    std::vector<std::string> out;
    for (const auto& r : services)
        if (mounted(r.spec, volume, writers)) out.push_back(r.spec.name);
    return out;
}

Result<std::unique_ptr<VolumeStore>> VolumeStore::open(const std::string& db_path,
                                                       const std::string& dir, int64_t uid,
                                                       int64_t gid) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::io_error("cannot create " + dir + ": " + ec.message());
    ::chmod(dir.c_str(), 0711);  // the workers' user enters it, nobody lists it
    sqlite3* db = nullptr;
    // Created here when no single-node state store made it first (a
    // cluster node keeps only its volumes in it).
    if (sqlite3_open_v2(db_path.c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        return Status::io_error("volumes: cannot open " + db_path + ": " + msg);
    }
    sqlite3_busy_timeout(db, 5000);
    char* err = nullptr;
    if (sqlite3_exec(db,
                     "PRAGMA synchronous=FULL;"
                     "CREATE TABLE IF NOT EXISTS volumes(name TEXT PRIMARY KEY,"
                     " size INTEGER NOT NULL, created_at INTEGER NOT NULL);",
                     nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        sqlite3_close(db);
        return Status::io_error("volumes: " + msg);
    }
    return std::unique_ptr<VolumeStore>(new VolumeStore(db, dir, uid, gid));
}

VolumeStore::~VolumeStore() { sqlite3_close(db_); }

Result<VolumeRecord> VolumeStore::create(const std::string& name, uint64_t size_bytes) {
    if (auto st = validate_name(name); !st)
        return Status::invalid_argument("volume " + st.message());
    if (size_bytes < kMinVolumeBytes || size_bytes > kMaxVolumeBytes)
        return Status::invalid_argument("volume size must be between 1M and 8G");
    std::lock_guard lock(mu_);
    const std::string p = path(name);
    if (::mkdir(p.c_str(), 0700) != 0) {
        if (errno == EEXIST) return Status::conflict("volume '" + name + "' already exists");
        return Status::from_errno("volume '" + name + "': mkdir " + p);
    }
    if (uid_ >= 0 && ::chown(p.c_str(), static_cast<uid_t>(uid_), static_cast<gid_t>(gid_)) != 0) {
        const Status st = Status::from_errno("volume '" + name + "': chown " + p);
        ::rmdir(p.c_str());
        return st;
    }
    VolumeRecord r{name, size_bytes, static_cast<int64_t>(::time(nullptr))};
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_, "INSERT INTO volumes(name, size, created_at) VALUES(?,?,?)",
                                -1, &s, nullptr);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(s, 1, name.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(size_bytes));
        sqlite3_bind_int64(s, 3, r.created_at);
        rc = sqlite3_step(s);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        ::rmdir(p.c_str());
        return Status::io_error(std::string("volumes: ") + sqlite3_errmsg(db_));
    }
    return r;
}

Result<std::vector<VolumeRecord>> VolumeStore::list() {
    std::lock_guard lock(mu_);
    std::vector<VolumeRecord> out;
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT name, size, created_at FROM volumes ORDER BY name", -1, &s,
                           nullptr) != SQLITE_OK)
        return Status::io_error(std::string("volumes: ") + sqlite3_errmsg(db_));
    while (sqlite3_step(s) == SQLITE_ROW) {
        const auto* n = sqlite3_column_text(s, 0);
        out.push_back({n ? reinterpret_cast<const char*>(n) : "",
                       static_cast<uint64_t>(sqlite3_column_int64(s, 1)),
                       sqlite3_column_int64(s, 2)});
    }
    sqlite3_finalize(s);
    return out;
}

Result<std::optional<VolumeRecord>> VolumeStore::get(const std::string& name) {
    auto all = list();
    if (!all) return all.status();
    for (auto& r : *all)
        if (r.name == name) return std::optional<VolumeRecord>(std::move(r));
    return std::optional<VolumeRecord>();
}

Status VolumeStore::remove(const std::string& name, const std::vector<ServiceRecord>& services) {
    auto r = get(name);
    if (!r) return r.status();
    if (!*r) return Status::not_found("volume '" + name + "' not found");
    const auto users = volume_users(name, services, false);
    if (!users.empty())
        return Status::conflict("volume '" + name + "' is in use by service '" + users.front() +
                                "' (remove the service or deploy it without the volume first)");
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_, "DELETE FROM volumes WHERE name = ?", -1, &s, nullptr);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(s, 1, name.c_str(), -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(s);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return Status::io_error(std::string("volumes: ") + sqlite3_errmsg(db_));
    // remove_all removes symlinks, never what they point at.
    std::error_code ec;
    fs::remove_all(path(name), ec);
    if (ec) return Status::io_error("volume '" + name + "': removing its files: " + ec.message());
    return Status::ok();
}

uint64_t VolumeStore::used_bytes(const std::string& name) const {
    uint64_t used = 0;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(path(name), ec), end; !ec && it != end;
         it.increment(ec))
        used += charge(*it);
    return used;
}

Status VolumeStore::check_spec(const ServiceSpec& spec,
                               const std::vector<ServiceRecord>& services) {
    for (const auto& v : spec.volumes) {
        auto r = get(v.name);
        if (!r) return r.status();
        if (!*r)
            return Status::not_found("volume '" + v.name +
                                     "' not found (create it with `ember volume create`)");
        for (const auto& other : services) {
            if (other.spec.name == spec.name) continue;
            const bool writes = !v.readonly && spec.isolation == Isolation::kInstance;
            if (writes && mounted(other.spec, v.name, true))
                return Status::conflict("volume '" + v.name + "' is written by service '" +
                                        other.spec.name + "' (one writer at a time; mount it " +
                                        "read-only with :ro)");
        }
    }
    return Status::ok();
}

}  // namespace ember::platform
