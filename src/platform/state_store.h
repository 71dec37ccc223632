// state_store.h - where the desired state (images, services) lives: the
// interface the service controller and the API use. A single node keeps it
// in SQLite (store.h); a cluster node in etcd (cluster/etcd_store.h), so
// that deploy, patch and delete are the same code in both modes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "platform/service_spec.h"

namespace ember::platform {

struct ImageRecord {
    std::string sha256;
    uint64_t size = 0;
    int64_t created_at = 0;  // unix seconds
};

struct ServiceRecord {
    ServiceSpec spec;
    uint64_t generation = 0;  // +1 at every deploy that needs a new snapshot
    int64_t created_at = 0, updated_at = 0;
    // The version of the record this one was read from, for stores shared
    // by several writers (etcd's mod_revision; 0: new, or a single node's
    // store, which ignores it). put_service of a record read at an older
    // version than the stored one is a conflict, not a silent overwrite.
    int64_t store_version = 0;
};

// Implementations are thread-safe. A write that returned ok is durable (on
// disk, or committed by the cluster's store); a store that cannot take
// writes now returns Status::unavailable with a message saying why.
class StateStore {
  public:
    virtual ~StateStore() = default;
    virtual Status put_image(const ImageRecord& rec) = 0;  // no-op when it exists
    virtual Result<std::optional<ImageRecord>> get_image(const std::string& sha256) = 0;
    virtual Result<std::vector<ImageRecord>> list_images() = 0;
    virtual Status delete_image(const std::string& sha256) = 0;

    virtual Status put_service(const ServiceRecord& rec) = 0;  // insert or replace
    virtual Result<std::optional<ServiceRecord>> get_service(const std::string& name) = 0;
    virtual Result<std::vector<ServiceRecord>> list_services() = 0;
    virtual Status delete_service(const std::string& name) = 0;
    // Whether a write would be taken now: a deploy asks before it spends a
    // boot on a snapshot it could not record.
    virtual Status check_writable() { return Status::ok(); }
};

}  // namespace ember::platform
