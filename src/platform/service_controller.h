// service_controller.h - the control plane's operations on services: deploy
// (validate, prepare the snapshot, persist, roll the instance manager to the
// new generation), update, delete, and recovery after a restart. Deploys of
// one name are serialised; different names proceed in parallel.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "platform/data_dir.h"
#include "platform/guest.h"
#include "platform/image_store.h"
#include "platform/instance_manager.h"
#include "platform/log_hub.h"
#include "platform/store.h"

namespace ember::platform {

struct DeployResult {
    ServiceRecord record;
    bool created = false;       // the name was new
    bool new_snapshot = false;  // false: only runtime settings changed
    double prepare_ms = 0;
};

class ServiceController {
  public:
    ServiceController(StateStore& store, ImageStore& images, const DataDir& dir,
                      GuestFactory& factory, InstanceManager& manager, LogHub& logs);
    ~ServiceController();  // waits for background preparation

    // Loads every stored service into the manager: from its cached snapshot
    // when that opens, else in state "preparing" while a background thread
    // boots it again. Removes snapshot files that belong to no service.
    Status recover();

    // create_only: POST (409 when the name exists); else PUT (create or redeploy).
    Result<DeployResult> deploy(ServiceSpec spec, bool create_only);
    Result<ServiceRecord> patch(const std::string& name, const nlohmann::json& body);
    Result<bool> remove(const std::string& name);
    // Stores an uploaded image (idempotent); created is false when it existed.
    struct AddedImage {
        std::string sha256;
        bool created = false;
    };
    Result<AddedImage> add_image(std::string_view data);
    // 409 when a service uses the image, or a deploy in progress does (its
    // service is stored only once its snapshot is prepared).
    Result<bool> remove_image(const std::string& sha256);

    // Cluster mode (service_controller_cluster.cpp, cluster/cluster_agent.h):
    // where a missing image is copied from (a peer node), checked against
    // its sha256 by the fetcher. Unset on a single node.
    using ImageFetcher = std::function<Status(const std::string& sha256)>;
    void set_image_fetcher(ImageFetcher f) { fetch_image_ = std::move(f); }
    // A service another node deployed or changed: this node prepares its
    // own snapshot of a new generation (snapshots are host-specific), or
    // applies new runtime settings. Blocks while it prepares.
    void apply_remote(const ServiceRecord& rec);
    // A service another node deleted.
    void remove_remote(const std::string& name);

  private:
    // Copies every image of spec that is not on this node from a peer (no-op
    // without a fetcher).
    Status ensure_images(const ServiceSpec& spec);
    std::shared_ptr<std::mutex> name_lock(const std::string& name);
    // Checks that every image of spec exists and records them as used by a
    // deploy of spec.name until the returned guard is destroyed.
    Result<std::shared_ptr<void>> hold_images(const ServiceSpec& spec);
    void prepare_in_background(std::vector<ServiceRecord> recs);
    ConsoleFn prepare_console(const std::string& name);

    StateStore& store_;
    ImageStore& images_;
    const DataDir& dir_;
    GuestFactory& factory_;
    InstanceManager& manager_;
    LogHub& logs_;
    std::mutex mu_;
    std::map<std::string, std::shared_ptr<std::mutex>> name_locks_;
    // Serialises image uploads, deletes and the image checks of deploys, so
    // that a delete never removes an image a deploy has found and holds.
    std::mutex images_mu_;
    std::multimap<std::string, std::string> deploying_images_;  // sha256 -> service
    std::thread background_;
    ImageFetcher fetch_image_;
};

}  // namespace ember::platform
