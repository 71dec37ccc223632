// volume_spec.cpp - the "volumes" field of a service spec (service_spec.h).
#include <nlohmann/json.hpp>
#include <set>

#include "abi/ember_abi.h"
#include "platform/service_spec.h"

namespace ember::platform {

using json = nlohmann::json;

namespace {

// As the VMM checks it (valid_volume_mount_point): normalised, absolute,
// fits the boot-info page, not the kernel's own trees.
bool mount_point_ok(const std::string& p) {
    auto n = normalize_guest_path(p);
    if (!n || *n != p || p.size() >= EMBER_VOLUME_MOUNT_MAX) return false;
    for (const std::string top : {"/proc", "/sys", "/dev", "/tmp"})
        if (p == top || p.rfind(top + "/", 0) == 0) return false;
    return true;
}

}  // namespace

Status read_volumes(const json& v, std::vector<VolumeEntry>* out) {
    if (!v.is_array())
        return Status::invalid_argument(
            "field 'volumes' must be an array of {name, path, readonly}");
    if (v.size() > EMBER_VOLUMES_MAX)
        return Status::invalid_argument("field 'volumes' has more than " +
                                        std::to_string(EMBER_VOLUMES_MAX) + " items");
    out->clear();
    for (size_t i = 0; i < v.size(); ++i) {
        const std::string f = "volumes[" + std::to_string(i) + "]";
        if (!v[i].is_object())
            return Status::invalid_argument("field '" + f + "' must be an object");
        VolumeEntry e;
        for (auto it = v[i].begin(); it != v[i].end(); ++it) {
            if (it.key() == "name" && it.value().is_string()) {
                e.name = it.value().get<std::string>();
            } else if (it.key() == "path" && it.value().is_string()) {
                e.path = it.value().get<std::string>();
            } else if (it.key() == "readonly" && it.value().is_boolean()) {
                e.readonly = it.value().get<bool>();
            } else {
                return Status::invalid_argument("field '" + f + "." + it.key().substr(0, 80) +
                                                "': unknown, or not a " +
                                                (it.key() == "readonly" ? "boolean" : "string"));
            }
        }
        if (auto st = validate_name(e.name); !st)
            return Status::invalid_argument("field '" + f + ".name': " + st.message());
        if (!mount_point_ok(e.path))
            return Status::invalid_argument(
                "field '" + f +
                ".path' must be an absolute, normalised path outside /proc, /sys, "
                "/dev and /tmp (e.g. /data)");
        out->push_back(std::move(e));
    }
    return Status::ok();
}

json volumes_to_json(const std::vector<VolumeEntry>& v) {
    json a = json::array();
    for (const auto& e : v)
        a.push_back({{"name", e.name}, {"path", e.path}, {"readonly", e.readonly}});
    return a;
}

bool writes_volumes(const ServiceSpec& s) {
    if (s.isolation == Isolation::kRequest) return false;
    for (const auto& e : s.volumes)
        if (!e.readonly) return true;
    return false;
}

Status validate_volumes(const ServiceSpec& s) {
    std::set<std::string> names, paths;
    for (const auto& e : s.volumes) {
        if (!names.insert(e.name).second)
            return Status::invalid_argument("volume '" + e.name + "' is mounted twice");
        if (!paths.insert(e.path).second)
            return Status::invalid_argument("two volumes are mounted at " + e.path);
        for (const auto& f : s.files)
            if (f.path.rfind(e.path + "/", 0) == 0)
                return Status::invalid_argument("file " + f.path + " is under the volume at " +
                                                e.path);
    }
    for (const auto& a : paths)
        for (const auto& b : paths)
            if (a != b && b.rfind(a + "/", 0) == 0)
                return Status::invalid_argument("volume mount points nest: " + a + " and " + b);
    if (writes_volumes(s) && s.max_instances > 1)
        return Status::invalid_argument(
            "a service that writes a volume runs one instance at a time (one writer): set "
            "max_instances to 1, or mount the volume read-only");
    return Status::ok();
}

}  // namespace ember::platform
