// etcd_store.h - the cluster's desired state in etcd, behind the same
// StateStore interface as the single node's SQLite store:
//   <prefix>services/<name>   {"spec": ..., "generation": N, "created_at", "updated_at"}
//   <prefix>images/<sha256>   {"size": N, "created_at": T}
// Reads come from an in-memory copy that load() fills and the cluster
// agent's watch keeps current, so that a node keeps answering what it knows
// while etcd is away; writes go to etcd first and are refused (unavailable,
// with a message naming etcd) while it cannot be reached.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "platform/cluster/etcd_client.h"
#include "platform/state_store.h"

namespace ember::platform::cluster {

// What a watch event or a resync changed, for the node to act on.
struct StateChange {
    enum Kind { kServicePut, kServiceDeleted, kImagePut, kImageDeleted } kind;
    ServiceRecord service;  // kServicePut
    std::string name;       // the service's name or the image's sha256
};

class EtcdStore : public StateStore {
  public:
    EtcdStore(EtcdClient& etcd, std::string prefix) : etcd_(etcd), prefix_(std::move(prefix)) {}

    // Reads the whole state; returns what differs from the copy held (all
    // of it the first time) and the revision to watch from.
    Result<std::vector<StateChange>> load(int64_t* revision);
    // Applies watched events to the copy; returns the changes.
    std::vector<StateChange> apply(const std::vector<WatchEvent>& events);
    const std::string& prefix() const { return prefix_; }

    Status put_image(const ImageRecord& rec) override;
    Result<std::optional<ImageRecord>> get_image(const std::string& sha256) override;
    Result<std::vector<ImageRecord>> list_images() override;
    Status delete_image(const std::string& sha256) override;
    Status put_service(const ServiceRecord& rec) override;
    Result<std::optional<ServiceRecord>> get_service(const std::string& name) override;
    Result<std::vector<ServiceRecord>> list_services() override;
    Status delete_service(const std::string& name) override;
    Status check_writable() override;

    static std::string encode_service(const ServiceRecord& rec);
    static Result<ServiceRecord> decode_service(const std::string& name, const std::string& value);

  private:
    // A refused write, with the reason the operator needs.
    static Status refused(const Status& st);
    std::string services_key() const { return prefix_ + "services/"; }
    std::string images_key() const { return prefix_ + "images/"; }

    EtcdClient& etcd_;
    const std::string prefix_;
    std::mutex mu_;
    std::map<std::string, ServiceRecord> services_;
    std::map<std::string, ImageRecord> images_;
};

}  // namespace ember::platform::cluster
