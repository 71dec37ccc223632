// store.h - the daemon's durable state: images and services in SQLite (WAL,
// synchronous=FULL: a write that returned is on disk). The schema carries an
// application id (the "magic") and a version; a database from a newer emberd
// is refused rather than misread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "platform/service_spec.h"
#include "platform/state_store.h"

struct sqlite3;

namespace ember::platform {

// Thread-safe: one connection behind a mutex (state changes are rare; the
// request path never touches the database).
class Store : public StateStore {
  public:
    ~Store() override;
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // Opens or creates the database at path and migrates it to this schema.
    static Result<std::unique_ptr<Store>> open(const std::string& path);

    Status put_image(const ImageRecord& rec) override;  // no-op when it exists
    Result<std::optional<ImageRecord>> get_image(const std::string& sha256) override;
    Result<std::vector<ImageRecord>> list_images() override;
    Status delete_image(const std::string& sha256) override;

    Status put_service(const ServiceRecord& rec) override;  // insert or replace
    Result<std::optional<ServiceRecord>> get_service(const std::string& name) override;
    Result<std::vector<ServiceRecord>> list_services() override;
    Status delete_service(const std::string& name) override;

    static constexpr int kSchemaVersion = 1;
    static constexpr int kApplicationId = 0x454d4252;  // "EMBR"

  private:
    explicit Store(sqlite3* db) : db_(db) {}
    Status exec(const char* sql);
    std::mutex mu_;
    sqlite3* db_;
};

}  // namespace ember::platform
