#include "platform/store.h"

#include <sqlite3.h>

#include <ctime>
#include <nlohmann/json.hpp>

namespace ember::platform {

namespace {

// A prepared statement that finalizes itself.
class Stmt {
  public:
    Stmt(sqlite3* db, const char* sql) : db_(db) {
        if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) s_ = nullptr;
    }
    ~Stmt() { sqlite3_finalize(s_); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    bool ok() const { return s_ != nullptr; }
    Stmt& bind(int i, const std::string& v) {
        sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Stmt& bind(int i, int64_t v) {
        sqlite3_bind_int64(s_, i, v);
        return *this;
    }
    int step() { return sqlite3_step(s_); }
    std::string text(int col) {
        const auto* p = sqlite3_column_text(s_, col);
        return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s_, col))
                 : "";
    }
    int64_t int64(int col) { return sqlite3_column_int64(s_, col); }
    Status error(const std::string& what) const {
        return Status::io_error(what + ": " + sqlite3_errmsg(db_));
    }

  private:
    sqlite3* db_;
    sqlite3_stmt* s_ = nullptr;
};

Result<ServiceRecord> service_from_row(Stmt& st) {
    ServiceRecord r;
    const std::string name = st.text(0);
    auto j = nlohmann::json::parse(st.text(1), nullptr, false);
    if (j.is_discarded())
        return Status::corruption("service '" + name + "': stored spec is not valid JSON");
    auto spec = spec_from_json(j, name);
    if (!spec)
        return Status::corruption("service '" + name +
                                  "': stored spec is invalid: " + spec.message());
    r.spec = std::move(*spec);
    r.generation = static_cast<uint64_t>(st.int64(2));
    r.created_at = st.int64(3);
    r.updated_at = st.int64(4);
    return r;
}

}  // namespace

Store::~Store() { sqlite3_close(db_); }

Status Store::exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        return Status::io_error(msg);
    }
    return Status::ok();
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(
        path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
        nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close(db);
        return Status::io_error("cannot open the state database " + path + ": " + msg);
    }
    std::unique_ptr<Store> s(new Store(db));
    sqlite3_busy_timeout(db, 5000);
    auto fail = [&](const Status& st) {
        return Status(st.code(), "state database " + path + ": " + st.message());
    };
    if (auto st =
            s->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
        !st)
        return fail(st);
    int app_id = 0, version = 0;
    {
        Stmt a(db, "PRAGMA application_id");
        if (a.ok() && a.step() == SQLITE_ROW) app_id = static_cast<int>(a.int64(0));
        Stmt v(db, "PRAGMA user_version");
        if (v.ok() && v.step() == SQLITE_ROW) version = static_cast<int>(v.int64(0));
    }
    if (version == 0) {
        // A new database, or one that never had our schema: it must be empty.
        Stmt t(db, "SELECT count(*) FROM sqlite_master");
        if (t.ok() && t.step() == SQLITE_ROW && t.int64(0) != 0)
            return fail(
                Status::corruption("not an Ember database (it has tables but no schema version)"));
        const std::string schema =
            "BEGIN;"
            "CREATE TABLE images(sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL,"
            " created_at INTEGER NOT NULL);"
            "CREATE TABLE services(name TEXT PRIMARY KEY, spec TEXT NOT NULL,"
            " generation INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT "
            "NULL);"
            "PRAGMA application_id=" +
            std::to_string(kApplicationId) +
            ";"
            "PRAGMA user_version=" +
            std::to_string(kSchemaVersion) +
            ";"
            "COMMIT;";
        if (auto st = s->exec(schema.c_str()); !st) return fail(st);
    } else if (app_id != kApplicationId) {
        return fail(Status::corruption("not an Ember database (application id " +
                                       std::to_string(app_id) + ")"));
    } else if (version > kSchemaVersion) {
        return fail(Status::unsupported("schema version " + std::to_string(version) +
                                        " is newer than this emberd understands (" +
                                        std::to_string(kSchemaVersion) + ")"));
    }
    return s;
}

Status Store::put_image(const ImageRecord& rec) {
    std::lock_guard lock(mu_);
    Stmt st(db_, "INSERT OR IGNORE INTO images(sha256, size, created_at) VALUES(?1, ?2, ?3)");
    if (!st.ok()) return st.error("put_image");
    st.bind(1, rec.sha256).bind(2, static_cast<int64_t>(rec.size)).bind(3, rec.created_at);
    if (st.step() != SQLITE_DONE) return st.error("put_image");
    return Status::ok();
}

Result<std::optional<ImageRecord>> Store::get_image(const std::string& sha256) {
    std::lock_guard lock(mu_);
    Stmt st(db_, "SELECT sha256, size, created_at FROM images WHERE sha256 = ?1");
    if (!st.ok()) return st.error("get_image");
    st.bind(1, sha256);
    const int rc = st.step();
    if (rc == SQLITE_DONE) return std::optional<ImageRecord>();
    if (rc != SQLITE_ROW) return st.error("get_image");
    return std::optional<ImageRecord>(
        ImageRecord{st.text(0), static_cast<uint64_t>(st.int64(1)), st.int64(2)});
}

Result<std::vector<ImageRecord>> Store::list_images() {
    std::lock_guard lock(mu_);
    Stmt st(db_, "SELECT sha256, size, created_at FROM images ORDER BY created_at, sha256");
    if (!st.ok()) return st.error("list_images");
    std::vector<ImageRecord> out;
    int rc;
    while ((rc = st.step()) == SQLITE_ROW)
        out.push_back(ImageRecord{st.text(0), static_cast<uint64_t>(st.int64(1)), st.int64(2)});
    if (rc != SQLITE_DONE) return st.error("list_images");
    return out;
}

Status Store::delete_image(const std::string& sha256) {
    std::lock_guard lock(mu_);
    Stmt st(db_, "DELETE FROM images WHERE sha256 = ?1");
    if (!st.ok()) return st.error("delete_image");
    st.bind(1, sha256);
    if (st.step() != SQLITE_DONE) return st.error("delete_image");
    return Status::ok();
}

Status Store::put_service(const ServiceRecord& rec) {
    std::lock_guard lock(mu_);
    Stmt st(db_,
            "INSERT INTO services(name, spec, generation, created_at, updated_at) VALUES(?1, ?2, "
            "?3, ?4, ?5)"
            " ON CONFLICT(name) DO UPDATE SET spec = ?2, generation = ?3, updated_at = ?5");
    if (!st.ok()) return st.error("put_service");
    st.bind(1, rec.spec.name)
        .bind(2, spec_to_json(rec.spec).dump())
        .bind(3, static_cast<int64_t>(rec.generation))
        .bind(4, rec.created_at)
        .bind(5, rec.updated_at);
    if (st.step() != SQLITE_DONE) return st.error("put_service");
    return Status::ok();
}

Result<std::optional<ServiceRecord>> Store::get_service(const std::string& name) {
    std::lock_guard lock(mu_);
    Stmt st(db_,
            "SELECT name, spec, generation, created_at, updated_at FROM services WHERE name = ?1");
    if (!st.ok()) return st.error("get_service");
    st.bind(1, name);
    const int rc = st.step();
    if (rc == SQLITE_DONE) return std::optional<ServiceRecord>();
    if (rc != SQLITE_ROW) return st.error("get_service");
    auto r = service_from_row(st);
    if (!r) return r.status();
    return std::optional<ServiceRecord>(std::move(*r));
}

Result<std::vector<ServiceRecord>> Store::list_services() {
    std::lock_guard lock(mu_);
    Stmt st(db_,
            "SELECT name, spec, generation, created_at, updated_at FROM services ORDER BY name");
    if (!st.ok()) return st.error("list_services");
    std::vector<ServiceRecord> out;
    int rc;
    while ((rc = st.step()) == SQLITE_ROW) {
        auto r = service_from_row(st);
        if (!r) return r.status();
        out.push_back(std::move(*r));
    }
    if (rc != SQLITE_DONE) return st.error("list_services");
    return out;
}

Status Store::delete_service(const std::string& name) {
    std::lock_guard lock(mu_);
    Stmt st(db_, "DELETE FROM services WHERE name = ?1");
    if (!st.ok()) return st.error("delete_service");
    st.bind(1, name);
    if (st.step() != SQLITE_DONE) return st.error("delete_service");
    return Status::ok();
}

}  // namespace ember::platform
