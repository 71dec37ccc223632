// The service controller's cluster side: services that other nodes
// deployed, changed or deleted (the cluster agent's watch calls these), and
// images copied from peers. Each node prepares its own snapshot of a
// generation from the image: snapshots are host-specific.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>

#include "platform/service_controller.h"
#include "platform/snapshot_seal.h"

namespace ember::platform {

Status ServiceController::ensure_images(const ServiceSpec& spec) {
    if (!fetch_image_) return Status::ok();
    std::vector<std::string> imgs = {spec.image};
    for (const auto& f : spec.files) imgs.push_back(f.image);
    for (const std::string& img : imgs) {
        if (images_.exists(img)) continue;
        if (auto st = fetch_image_(img); !st)
            return Status(st.code(), "image " + img +
                                         " is not on this node and could not be "
                                         "copied from a peer: " +
                                         st.message());
    }
    return Status::ok();
}

void ServiceController::apply_remote(const ServiceRecord& rec) {
    const std::string& name = rec.spec.name;
    auto lock = name_lock(name);
    std::lock_guard g(*lock);
    const ServiceStatus cur = manager_.status(name);
    if (cur.exists && cur.record.generation > rec.generation) return;  // stale news
    if (cur.exists && cur.record.generation == rec.generation && cur.state != "failed") {
        manager_.update(rec.spec);  // runtime settings only
        return;
    }
    const std::string path = dir_.snapshot_path(name, rec.generation);
    const auto t0 = std::chrono::steady_clock::now();
    // A snapshot this node prepared before a restart is reused.
    auto p = factory_.open(rec.spec, path);
    if (!p) {
        logs_.append(
            name, "prepare", "ember",
            "preparing generation " + std::to_string(rec.generation) + " deployed on another node");
        const Status images = ensure_images(rec.spec);
        p = images ? factory_.prepare(rec.spec, path, prepare_console(name))
                   : Result<std::shared_ptr<const Prepared>>(images);
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!p) {
        ::unlink(path.c_str());
        ::unlink(seal_path(path).c_str());
        spdlog::error("service {}: preparing generation {} from the cluster failed: {}", name,
                      rec.generation, p.message());
        if (!cur.exists) manager_.deploy(rec, nullptr);
        manager_.set_failed(name, rec.generation, "preparing the snapshot failed: " + p.message());
        logs_.append(name, "prepare", "ember", "preparing the snapshot failed: " + p.message());
        return;
    }
    manager_.deploy(rec, *p);
    spdlog::info("service {}: generation {} from the cluster ready ({}, {:.1f} ms)", name,
                 rec.generation, (*p)->describe(), ms);
    logs_.append(name, "prepare", "ember", "ready: " + (*p)->describe());
    if (cur.exists && cur.record.generation != rec.generation) {
        const std::string old = dir_.snapshot_path(name, cur.record.generation);
        ::unlink(old.c_str());
        ::unlink(seal_path(old).c_str());
    }
}

void ServiceController::remove_remote(const std::string& name) {
    auto lock = name_lock(name);
    std::lock_guard g(*lock);
    const ServiceStatus cur = manager_.status(name);
    if (!cur.exists) return;
    manager_.remove(name);
    const std::string path = dir_.snapshot_path(name, cur.record.generation);
    ::unlink(path.c_str());
    ::unlink(seal_path(path).c_str());
    spdlog::info("service {}: deleted on another node", name);
    logs_.drop(name);
}

}  // namespace ember::platform
