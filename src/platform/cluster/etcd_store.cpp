#include "platform/cluster/etcd_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace ember::platform::cluster {

using nlohmann::json;

namespace {

std::string encode_image(const ImageRecord& rec) {
    return json{{"size", rec.size}, {"created_at", rec.created_at}}.dump();
}

Result<ImageRecord> decode_image(const std::string& sha, const std::string& value) {
    json j = json::parse(value, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("size") ||
        !j["size"].is_number_unsigned())
        return Status::corruption("image " + sha + ": malformed record in etcd");
    ImageRecord rec;
    rec.sha256 = sha;
    rec.size = j["size"].get<uint64_t>();
    rec.created_at = j.value("created_at", int64_t{0});
    return rec;
}

bool same_service(const ServiceRecord& a, const ServiceRecord& b) {
    return a.generation == b.generation && a.updated_at == b.updated_at &&
           spec_to_json(a.spec) == spec_to_json(b.spec);
}

}  // namespace

std::string EtcdStore::encode_service(const ServiceRecord& rec) {
    return json{{"spec", spec_to_json(rec.spec)},
                {"generation", rec.generation},
                {"created_at", rec.created_at},
                {"updated_at", rec.updated_at}}
        .dump();
}

Result<ServiceRecord> EtcdStore::decode_service(const std::string& name, const std::string& value) {
    json j = json::parse(value, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("spec") || !j.contains("generation") ||
        !j["generation"].is_number_unsigned())
        return Status::corruption("service " + name + ": malformed record in etcd");
    auto spec = spec_from_json(j["spec"], name);
    if (!spec) return Status::corruption("service " + name + " in etcd: " + spec.message());
    ServiceRecord rec;
    rec.spec = std::move(*spec);
    rec.generation = j["generation"].get<uint64_t>();
    rec.created_at = j.value("created_at", int64_t{0});
    rec.updated_at = j.value("updated_at", int64_t{0});
    return rec;
}

Status EtcdStore::refused(const Status& st) {
    if (st.code() == Code::kUnavailable)
        return Status::unavailable("the cluster's state store is unreachable (" + st.message() +
                                   "); changes are refused until it is back, services keep "
                                   "being served");
    return st;
}

Result<std::vector<StateChange>> EtcdStore::load(int64_t* revision) {
    auto kvs = etcd_.get_prefix(prefix_, revision);
    if (!kvs) return kvs.status();
    std::map<std::string, ServiceRecord> services;
    std::map<std::string, ImageRecord> images;
    for (const auto& kv : *kvs) {
        if (kv.key.rfind(services_key(), 0) == 0) {
            const std::string name = kv.key.substr(services_key().size());
            auto rec = decode_service(name, kv.value);
            if (!rec) {
                spdlog::warn("cluster: {}", rec.message());
                continue;
            }
            rec->store_version = kv.mod_revision;
            services.emplace(name, std::move(*rec));
        } else if (kv.key.rfind(images_key(), 0) == 0) {
            const std::string sha = kv.key.substr(images_key().size());
            auto rec = decode_image(sha, kv.value);
            if (rec) images.emplace(sha, std::move(*rec));
        }
    }
    std::vector<StateChange> changes;
    std::lock_guard g(mu_);
    for (const auto& [name, rec] : services) {
        auto it = services_.find(name);
        if (it == services_.end() || !same_service(it->second, rec))
            changes.push_back({StateChange::kServicePut, rec, name});
    }
    for (const auto& [name, rec] : services_)
        if (!services.count(name)) changes.push_back({StateChange::kServiceDeleted, {}, name});
    for (const auto& [sha, rec] : images)
        if (!images_.count(sha)) changes.push_back({StateChange::kImagePut, {}, sha});
    for (const auto& [sha, rec] : images_)
        if (!images.count(sha)) changes.push_back({StateChange::kImageDeleted, {}, sha});
    services_ = std::move(services);
    images_ = std::move(images);
    return changes;
}

std::vector<StateChange> EtcdStore::apply(const std::vector<WatchEvent>& events) {
    std::vector<StateChange> changes;
    std::lock_guard g(mu_);
    for (const auto& ev : events) {
        const std::string& key = ev.kv.key;
        if (key.rfind(services_key(), 0) == 0) {
            const std::string name = key.substr(services_key().size());
            if (ev.deleted) {
                if (services_.erase(name))
                    changes.push_back({StateChange::kServiceDeleted, {}, name});
                continue;
            }
            auto rec = decode_service(name, ev.kv.value);
            if (!rec) {
                spdlog::warn("cluster: {}", rec.message());
                continue;
            }
            rec->store_version = ev.kv.mod_revision;
            auto it = services_.find(name);
            if (it != services_.end() && same_service(it->second, *rec)) {
                it->second.store_version = std::max(it->second.store_version, rec->store_version);
                continue;
            }
            services_[name] = *rec;
            changes.push_back({StateChange::kServicePut, std::move(*rec), name});
        } else if (key.rfind(images_key(), 0) == 0) {
            const std::string sha = key.substr(images_key().size());
            if (ev.deleted) {
                if (images_.erase(sha)) changes.push_back({StateChange::kImageDeleted, {}, sha});
                continue;
            }
            auto rec = decode_image(sha, ev.kv.value);
            if (!rec) continue;
            if (images_.emplace(sha, *rec).second)
                changes.push_back({StateChange::kImagePut, {}, sha});
        }
    }
    return changes;
}

Status EtcdStore::put_image(const ImageRecord& rec) {
    {
        std::lock_guard g(mu_);
        if (images_.count(rec.sha256)) return Status::ok();
    }
    auto r = etcd_.put(images_key() + rec.sha256, encode_image(rec));
    if (!r) return refused(r.status());
    std::lock_guard g(mu_);
    images_.emplace(rec.sha256, rec);
    return Status::ok();
}

Result<std::optional<ImageRecord>> EtcdStore::get_image(const std::string& sha256) {
    std::lock_guard g(mu_);
    auto it = images_.find(sha256);
    if (it == images_.end()) return std::optional<ImageRecord>();
    return std::optional<ImageRecord>(it->second);
}

Result<std::vector<ImageRecord>> EtcdStore::list_images() {
    std::lock_guard g(mu_);
    std::vector<ImageRecord> out;
    for (const auto& [sha, rec] : images_) out.push_back(rec);
    return out;
}

Status EtcdStore::delete_image(const std::string& sha256) {
    auto r = etcd_.del(images_key() + sha256);
    if (!r) return refused(r.status());
    std::lock_guard g(mu_);
    images_.erase(sha256);
    return Status::ok();
}

Status EtcdStore::put_service(const ServiceRecord& rec) {
    // Only over the version rec was read from: a change another node made
    // meanwhile is not overwritten.
    auto r = etcd_.put_if(services_key() + rec.spec.name, encode_service(rec), rec.store_version);
    if (!r) return refused(r.status());
    if (*r == 0)
        return Status::conflict("service '" + rec.spec.name +
                                "' was changed through another node meanwhile; try again");
    std::lock_guard g(mu_);
    ServiceRecord& cur = services_[rec.spec.name];
    cur = rec;
    cur.store_version = *r;
    return Status::ok();
}

Result<std::optional<ServiceRecord>> EtcdStore::get_service(const std::string& name) {
    std::lock_guard g(mu_);
    auto it = services_.find(name);
    if (it == services_.end()) return std::optional<ServiceRecord>();
    return std::optional<ServiceRecord>(it->second);
}

Result<std::vector<ServiceRecord>> EtcdStore::list_services() {
    std::lock_guard g(mu_);
    std::vector<ServiceRecord> out;
    for (const auto& [name, rec] : services_) out.push_back(rec);
    return out;
}

Status EtcdStore::check_writable() {
    auto r = etcd_.get(prefix_ + "services/");
    return r ? Status::ok() : refused(r.status());
}

Status EtcdStore::delete_service(const std::string& name) {
    auto r = etcd_.del(services_key() + name);
    if (!r) return refused(r.status());
    std::lock_guard g(mu_);
    services_.erase(name);
    return Status::ok();
}

}  // namespace ember::platform::cluster
