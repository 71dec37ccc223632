#include "platform/service_controller.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>

#include "platform/snapshot_seal.h"

namespace ember::platform {

namespace {
int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }
double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
// A snapshot file and its seal (snapshot_seal.h) go together.
void remove_snapshot(const std::string& path) {
    ::unlink(path.c_str());
    ::unlink(seal_path(path).c_str());
}
}  // namespace

ServiceController::ServiceController(StateStore& store, ImageStore& images, const DataDir& dir,
                                     GuestFactory& factory, InstanceManager& manager, LogHub& logs)
    : store_(store),
      images_(images),
      dir_(dir),
      factory_(factory),
      manager_(manager),
      logs_(logs) {}

ServiceController::~ServiceController() {
    if (background_.joinable()) background_.join();
}

std::shared_ptr<std::mutex> ServiceController::name_lock(const std::string& name) {
    std::lock_guard lock(mu_);
    auto& m = name_locks_[name];
    if (!m) m = std::make_shared<std::mutex>();
    return m;
}

ConsoleFn ServiceController::prepare_console(const std::string& name) {
    auto lines = std::make_shared<LineAssembler>(logs_, name, "prepare");
    return [lines](int fd, const char* p, size_t n) { lines->feed(fd, p, n); };
}

Status ServiceController::recover() {
    auto recs = store_.list_services();
    if (!recs) return recs.status();
    std::set<std::string> wanted;
    std::vector<ServiceRecord> missing;
    for (auto& rec : *recs) {
        const std::string path = dir_.snapshot_path(rec.spec.name, rec.generation);
        const std::string file = path.substr(path.rfind('/') + 1);
        wanted.insert(file);
        wanted.insert(seal_path(file));
        auto p = factory_.open(rec.spec, path);
        if (p) {
            manager_.deploy(rec, *p);
            spdlog::info("service {}: generation {} in standby ({})", rec.spec.name, rec.generation,
                         (*p)->describe());
        } else {
            spdlog::warn("service {}: cached snapshot unusable ({}); preparing it again",
                         rec.spec.name, p.message());
            logs_.append(rec.spec.name, "prepare", "ember",
                         "cached snapshot unusable (" + p.message() + "); preparing it again");
            manager_.deploy(rec, nullptr);
            missing.push_back(rec);
        }
    }
    if (DIR* d = ::opendir(dir_.snapshots_dir().c_str())) {
        while (dirent* e = ::readdir(d)) {
            const std::string n = e->d_name;
            if (n == "." || n == ".." || wanted.count(n)) continue;
            ::unlink((dir_.snapshots_dir() + "/" + n).c_str());
        }
        ::closedir(d);
    }
    if (!missing.empty())
        background_ = std::thread([this, missing] { prepare_in_background(missing); });
    return Status::ok();
}

void ServiceController::prepare_in_background(std::vector<ServiceRecord> recs) {
    for (const auto& rec : recs) {
        auto lock = name_lock(rec.spec.name);
        std::lock_guard g(*lock);
        // A deploy or delete since the restart wins over this preparation.
        auto cur = store_.get_service(rec.spec.name);
        if (!cur || !cur->has_value() || (*cur)->generation != rec.generation) continue;
        const std::string path = dir_.snapshot_path(rec.spec.name, rec.generation);
        const Status images = ensure_images(rec.spec);
        auto p = images ? factory_.prepare(rec.spec, path, prepare_console(rec.spec.name))
                        : Result<std::shared_ptr<const Prepared>>(images);
        if (p) {
            manager_.deploy(rec, *p);
            logs_.append(rec.spec.name, "prepare", "ember",
                         "snapshot prepared again: " + (*p)->describe());
            spdlog::info("service {}: snapshot prepared again ({})", rec.spec.name,
                         (*p)->describe());
        } else {
            spdlog::error("service {}: preparing the snapshot failed: {}", rec.spec.name,
                          p.message());
            manager_.set_failed(rec.spec.name, rec.generation,
                                "preparing the snapshot failed: " + p.message());
            logs_.append(rec.spec.name, "prepare", "ember",
                         "preparing the snapshot failed: " + p.message());
        }
    }
}

Result<std::shared_ptr<void>> ServiceController::hold_images(const ServiceSpec& spec) {
    std::vector<std::string> imgs = {spec.image};
    for (const auto& f : spec.files) imgs.push_back(f.image);
    // In a cluster the image may have been uploaded through another node.
    if (auto st = ensure_images(spec); !st) return st;
    std::lock_guard g(images_mu_);
    for (const std::string& img : imgs) {
        auto rec = store_.get_image(img);
        if (!rec) return rec.status();
        if (!rec->has_value() || !images_.exists(img))
            return Status::invalid_argument("image " + img +
                                            " not found: upload it first (POST /v1/images)");
    }
    std::vector<std::multimap<std::string, std::string>::iterator> held;
    for (const std::string& img : imgs) held.push_back(deploying_images_.emplace(img, spec.name));
    return std::shared_ptr<void>(nullptr, [this, held](void*) {
        std::lock_guard g(images_mu_);
        for (auto it : held) deploying_images_.erase(it);
    });
}

Result<DeployResult> ServiceController::deploy(ServiceSpec spec, bool create_only) {
    if (auto st = validate_spec(spec); !st) return st;
    if (auto st = store_.check_writable(); !st) return st;
    // Held until the service is stored (or the deploy failed): from then on
    // the stored service protects its images.
    auto images_held = hold_images(spec);
    if (!images_held) return images_held.status();
    auto lock = name_lock(spec.name);
    std::lock_guard g(*lock);
    auto existing = store_.get_service(spec.name);
    if (!existing) return existing.status();
    DeployResult res;
    res.created = !existing->has_value();
    if (create_only && !res.created)
        return Status::conflict("service '" + spec.name + "' exists; use PUT to redeploy it");
    const int64_t now = unix_now();
    res.record.spec = spec;
    if (!res.created) res.record.store_version = (*existing)->store_version;
    res.record.created_at = res.created ? now : (*existing)->created_at;
    res.record.updated_at = now;
    if (!res.created && !needs_new_snapshot((*existing)->spec, spec) &&
        manager_.status(spec.name).state != "failed") {
        // Same program and files: only runtime settings change.
        res.record.generation = (*existing)->generation;
        if (auto st = store_.put_service(res.record); !st) return st;
        manager_.update(spec);
        return res;
    }
    res.record.generation = res.created ? 1 : (*existing)->generation + 1;
    res.new_snapshot = true;
    const std::string path = dir_.snapshot_path(spec.name, res.record.generation);
    logs_.append(
        spec.name, "prepare", "ember",
        "preparing generation " + std::to_string(res.record.generation) + " (boot until ready)");
    const auto t0 = std::chrono::steady_clock::now();
    auto p = factory_.prepare(spec, path, prepare_console(spec.name));
    res.prepare_ms = ms_since(t0);
    if (!p) {
        remove_snapshot(path);
        logs_.append(spec.name, "prepare", "ember", "deploy failed: " + p.message());
        spdlog::warn("service {}: deploy of generation {} failed: {}", spec.name,
                     res.record.generation, p.message().substr(0, p.message().find('\n')));
        return Status::aborted("deploy of '" + spec.name + "' failed: " + p.message());
    }
    if (auto st = store_.put_service(res.record); !st) {
        remove_snapshot(path);
        return st;
    }
    logs_.append(spec.name, "prepare", "ember",
                 "ready: " + (*p)->describe() + ", prepared in " +
                     std::to_string(static_cast<int>(res.prepare_ms)) + " ms");
    manager_.deploy(res.record, *p);
    spdlog::info("service {}: generation {} deployed ({}, prepared in {:.1f} ms)", spec.name,
                 res.record.generation, (*p)->describe(), res.prepare_ms);
    if (!res.created) {
        // Instances of the old generation keep their mapping; the file can go.
        remove_snapshot(dir_.snapshot_path(spec.name, (*existing)->generation));
    }
    return res;
}

Result<ServiceRecord> ServiceController::patch(const std::string& name,
                                               const nlohmann::json& body) {
    auto lock = name_lock(name);
    std::lock_guard g(*lock);
    auto existing = store_.get_service(name);
    if (!existing) return existing.status();
    if (!existing->has_value()) return Status::not_found("no service named '" + name + "'");
    ServiceRecord rec = **existing;
    if (auto st = apply_patch(&rec.spec, body); !st) return st;
    rec.updated_at = unix_now();
    if (auto st = store_.put_service(rec); !st) return st;
    manager_.update(rec.spec);
    return rec;
}

Result<bool> ServiceController::remove(const std::string& name) {
    auto lock = name_lock(name);
    std::lock_guard g(*lock);
    auto existing = store_.get_service(name);
    if (!existing) return existing.status();
    if (!existing->has_value()) return Status::not_found("no service named '" + name + "'");
    if (auto st = store_.delete_service(name); !st) return st;
    manager_.remove(name);
    remove_snapshot(dir_.snapshot_path(name, (*existing)->generation));
    spdlog::info("service {}: deleted", name);
    logs_.drop(name);
    return true;
}

Result<ServiceController::AddedImage> ServiceController::add_image(std::string_view data) {
    // The bytes are written outside the lock (uploads are large); a delete
    // that removed the same image meanwhile is undone under it.
    auto sha = images_.put(data);
    if (!sha) return sha.status();
    std::lock_guard g(images_mu_);
    if (!images_.exists(*sha)) {
        sha = images_.put(data);
        if (!sha) return sha.status();
    }
    auto existing = store_.get_image(*sha);
    if (!existing) return existing.status();
    AddedImage res{*sha, !existing->has_value()};
    if (res.created) {
        if (auto st = store_.put_image({*sha, data.size(), unix_now()}); !st) return st;
    }
    return res;
}

Result<bool> ServiceController::remove_image(const std::string& sha256) {
    std::lock_guard g(images_mu_);
    if (auto it = deploying_images_.find(sha256); it != deploying_images_.end())
        return Status::conflict("image " + sha256 + " is used by a deploy of service '" +
                                it->second + "' in progress");
    auto services = store_.list_services();
    if (!services) return services.status();
    for (const auto& rec : *services) {
        bool used = rec.spec.image == sha256;
        for (const auto& f : rec.spec.files) used |= f.image == sha256;
        if (used)
            return Status::conflict("image " + sha256 + " is used by service '" + rec.spec.name +
                                    "'");
    }
    auto img = store_.get_image(sha256);
    if (!img) return img.status();
    if (!img->has_value()) return Status::not_found("no image " + sha256);
    if (auto st = store_.delete_image(sha256); !st) return st;
    if (auto st = images_.remove(sha256); !st) return st;
    return true;
}

}  // namespace ember::platform
