// api_volumes.cpp - /v1/volumes: create, list, show and remove volumes
// (volume_store.h), and the deploy-time check of a spec's volumes.
#include <nlohmann/json.hpp>

#include "common/units.h"
#include "platform/api.h"

namespace ember::platform {

using json = nlohmann::json;

namespace {

ApiResponse json_reply(int status, const json& j) {
    ApiResponse r;
    r.status = status;
    r.body = j.dump();
    return r;
}

json volume_json(const VolumeRecord& v, uint64_t used, const std::vector<ServiceRecord>& services) {
    return json{{"name", v.name},
                {"size_bytes", v.size_bytes},
                {"used_bytes", used},
                {"created_at", v.created_at},
                {"services", volume_users(v.name, services, false)},
                {"writer", [&] {
                     auto w = volume_users(v.name, services, true);
                     return w.empty() ? json(nullptr) : json(w.front());
                 }()}};
}

}  // namespace

Status Api::check_volumes(const ServiceSpec& spec) {
    if (spec.volumes.empty()) return Status::ok();
    if (!volumes_) return Status::unsupported("this emberd has no volumes");
    auto services = store_.list_services();
    if (!services) return services.status();
    return volumes_->check_spec(spec, *services);
}

ApiResponse Api::volumes(const ApiRequest& req, const std::vector<std::string>& parts) {
    if (!volumes_) return error(Status::unsupported("this emberd has no volumes"));
    if (parts.size() > 3) return error(Status::not_found("no such endpoint"));
    auto services = store_.list_services();
    if (!services) return error(services.status());
    if (parts.size() == 2) {
        if (req.method == "GET") {
            auto list = volumes_->list();
            if (!list) return error(list.status());
            json arr = json::array();
            for (const auto& v : *list)
                arr.push_back(volume_json(v, volumes_->used_bytes(v.name), *services));
            return json_reply(200, json{{"volumes", arr}});
        }
        if (req.method != "POST") return error(kMethodNotAllowed, "use GET or POST");
        auto body = json::parse(req.body, nullptr, false);
        if (body.is_discarded() || !body.is_object())
            return error(Status::invalid_argument("the request body must be a JSON object"));
        std::string name;
        uint64_t size = 0;
        for (auto it = body.begin(); it != body.end(); ++it) {
            if (it.key() == "name" && it.value().is_string()) {
                name = it.value().get<std::string>();
            } else if (it.key() == "size_bytes" && it.value().is_number_unsigned()) {
                size = it.value().get<uint64_t>();
            } else if (it.key() == "size" && it.value().is_string()) {
                auto s = parse_size(it.value().get<std::string>());
                if (!s)
                    return error(Status::invalid_argument("field 'size': not a size (e.g. 1G)"));
                size = *s;
            } else {
                return error(Status::invalid_argument("unknown or mistyped field '" +
                                                      it.key().substr(0, 80) + "'"));
            }
        }
        if (size == 0)
            return error(Status::invalid_argument("field 'size' (e.g. \"1G\") is required"));
        auto v = volumes_->create(name, size);
        if (!v) return error(v.status());
        return json_reply(201, volume_json(*v, 0, *services));
    }
    const std::string& name = parts[2];
    if (req.method == "GET") {
        auto v = volumes_->get(name);
        if (!v) return error(v.status());
        if (!*v) return error(Status::not_found("volume '" + name + "' not found"));
        return json_reply(200, volume_json(**v, volumes_->used_bytes(name), *services));
    }
    if (req.method == "DELETE") {
        // The list of users must not change between the check and the removal.
        std::lock_guard<std::mutex> claim(volume_claims_);
        auto now = store_.list_services();
        if (!now) return error(now.status());
        if (auto st = volumes_->remove(name, *now); !st) return error(st);
        ApiResponse r;
        r.status = 204;
        return r;
    }
    return error(kMethodNotAllowed, "use GET or DELETE");
}

}  // namespace ember::platform
