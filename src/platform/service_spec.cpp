#include "platform/service_spec.h"

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace ember::platform {

using nlohmann::json;

const char* scale_to_zero_name(ScaleToZero m) {
    return m == ScaleToZero::kStateful ? "stateful" : "discard";
}

const char* isolation_name(Isolation i) {
    return i == Isolation::kRequest ? "request" : "instance";
}

const char* image_type_name(ImageType t) {
    return t == ImageType::kContainer ? "container" : "program";
}

Status validate_name(const std::string& name) {
    if (name.empty() || name.size() > 63)
        return Status::invalid_argument("invalid service name '" + name.substr(0, 80) +
                                        "': must be 1-63 characters of a-z, 0-9 and '-'");
    for (char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return Status::invalid_argument("invalid service name '" + name +
                                            "': only a-z, 0-9 and '-' are allowed");
    }
    if (name.front() == '-' || name.back() == '-')
        return Status::invalid_argument("invalid service name '" + name +
                                        "': must not start or end with '-'");
    return Status::ok();
}

bool is_sha256_hex(const std::string& s) {
    if (s.size() != 64) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

Result<std::string> normalize_guest_path(const std::string& path) {
    if (path.empty()) return Status::invalid_argument("empty guest path");
    if (path.size() > 255) return Status::invalid_argument("guest path longer than 255 bytes");
    if (path.find('\0') != std::string::npos)
        return Status::invalid_argument("guest path contains a NUL byte");
    std::string out;
    size_t i = 0;
    while (i < path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        const std::string comp = path.substr(i, j - i);
        if (comp == "..")
            return Status::invalid_argument("guest path '" + path + "' contains '..'");
        if (comp == ".") return Status::invalid_argument("guest path '" + path + "' contains '.'");
        if (!comp.empty()) out += "/" + comp;
        i = j + 1;
    }
    if (out.empty())
        return Status::invalid_argument("guest path '" + path + "' is the root directory");
    return out;
}

namespace {

// Field readers: each returns an error naming the field.
Status read_string(const json& v, const std::string& field, std::string* out,
                   size_t max = kMaxStringLen) {
    if (!v.is_string()) return Status::invalid_argument("field '" + field + "' must be a string");
    const auto& s = v.get_ref<const std::string&>();
    if (s.size() > max)
        return Status::invalid_argument("field '" + field + "' is longer than " +
                                        std::to_string(max) + " bytes");
    if (s.find('\0') != std::string::npos)
        return Status::invalid_argument("field '" + field + "' contains a NUL byte");
    *out = s;
    return Status::ok();
}

// JSON has one number type: a negative, fractional or huge value (beyond
// 2^64 nlohmann parses it as a double) is a number out of the field's range.
Status read_uint(const json& v, const std::string& field, uint64_t lo, uint64_t hi, uint64_t* out) {
    if (!v.is_number())
        return Status::invalid_argument("field '" + field + "' must be a non-negative integer");
    const bool in_range =
        v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
    if (in_range) {
        const uint64_t x = v.get<uint64_t>();
        if (x >= lo && x <= hi) {
            *out = x;
            return Status::ok();
        }
    }
    return Status::invalid_argument("field '" + field + "' must be an integer between " +
                                    std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
                                    v.dump());
}

template <typename T>
Status read_uint_into(const json& v, const std::string& field, uint64_t lo, uint64_t hi, T* out) {
    uint64_t x = 0;
    if (auto s = read_uint(v, field, lo, hi, &x); !s) return s;
    *out = static_cast<T>(x);
    return Status::ok();
}

Status read_string_list(const json& v, const std::string& field, size_t max_items,
                        std::vector<std::string>* out) {
    if (!v.is_array())
        return Status::invalid_argument("field '" + field + "' must be an array of strings");
    if (v.size() > max_items)
        return Status::invalid_argument("field '" + field + "' has more than " +
                                        std::to_string(max_items) + " items");
    out->clear();
    for (size_t i = 0; i < v.size(); ++i) {
        std::string s;
        if (auto st = read_string(v[i], field + "[" + std::to_string(i) + "]", &s); !st) return st;
        out->push_back(std::move(s));
    }
    return Status::ok();
}

Status read_env(const json& v, std::vector<std::string>* out) {
    // Either ["K=V", ...] or {"K": "V", ...}.
    out->clear();
    if (v.is_object()) {
        if (v.size() > kMaxEnv)
            return Status::invalid_argument("field 'env' has more than 256 entries");
        for (auto it = v.begin(); it != v.end(); ++it) {
            std::string val;
            if (auto st = read_string(it.value(), "env." + it.key(), &val); !st) return st;
            out->push_back(it.key() + "=" + val);
        }
    } else if (auto st = read_string_list(v, "env", kMaxEnv, out); !st) {
        return Status::invalid_argument(
            "field 'env' must be an array of \"K=V\" strings or an object");
    }
    for (const auto& e : *out) {
        const auto eq = e.find('=');
        if (eq == std::string::npos || eq == 0)
            return Status::invalid_argument("field 'env': expected K=V, got '" + e.substr(0, 80) +
                                            "'");
    }
    return Status::ok();
}

Status read_files(const json& v, std::vector<FileEntry>* out) {
    if (!v.is_array())
        return Status::invalid_argument("field 'files' must be an array of {path, image, mode}");
    if (v.size() > kMaxFiles)
        return Status::invalid_argument("field 'files' has more than 256 items");
    out->clear();
    std::set<std::string> seen;
    for (size_t i = 0; i < v.size(); ++i) {
        const std::string f = "files[" + std::to_string(i) + "]";
        if (!v[i].is_object())
            return Status::invalid_argument("field '" + f + "' must be an object");
        FileEntry e;
        bool have_path = false, have_image = false;
        for (auto it = v[i].begin(); it != v[i].end(); ++it) {
            if (it.key() == "path") {
                std::string p;
                if (auto st = read_string(it.value(), f + ".path", &p); !st) return st;
                auto n = normalize_guest_path(p);
                if (!n) return Status::invalid_argument("field '" + f + ".path': " + n.message());
                e.path = *n;
                have_path = true;
            } else if (it.key() == "image") {
                if (auto st = read_string(it.value(), f + ".image", &e.image); !st) return st;
                if (!is_sha256_hex(e.image))
                    return Status::invalid_argument("field '" + f +
                                                    ".image' must be a sha256 (64 hex digits)");
                have_image = true;
            } else if (it.key() == "mode") {
                if (auto st = read_uint_into(it.value(), f + ".mode", 0, 07777, &e.mode); !st)
                    return st;
            } else {
                return Status::invalid_argument("unknown field '" + f + "." + it.key() + "'");
            }
        }
        if (!have_path) return Status::invalid_argument("field '" + f + ".path' is required");
        if (!have_image) return Status::invalid_argument("field '" + f + ".image' is required");
        if (!seen.insert(e.path).second)
            return Status::invalid_argument("field '" + f + ".path': '" + e.path +
                                            "' is given twice");
        out->push_back(std::move(e));
    }
    return Status::ok();
}

Status read_isolation(const json& v, Isolation* out) {
    std::string s;
    if (auto st = read_string(v, "isolation", &s); !st) return st;
    if (s == "instance")
        *out = Isolation::kInstance;
    else if (s == "request")
        *out = Isolation::kRequest;
    else
        return Status::invalid_argument(
            "field 'isolation' must be \"instance\" or \"request\", got '" + s.substr(0, 40) + "'");
    return Status::ok();
}

Status read_scale_to_zero(const json& v, ScaleToZero* out) {
    std::string s;
    if (auto st = read_string(v, "scale_to_zero", &s); !st) return st;
    if (s == "discard")
        *out = ScaleToZero::kDiscard;
    else if (s == "stateful")
        *out = ScaleToZero::kStateful;
    else
        return Status::invalid_argument(
            "field 'scale_to_zero' must be \"discard\" or \"stateful\", got '" + s.substr(0, 40) +
            "'");
    return Status::ok();
}

constexpr uint64_t kMaxTimeoutMs = 3600ull * 1000;
constexpr uint64_t kMaxIdleMs = 7ull * 24 * 3600 * 1000;

// Runtime fields, shared by the full parser and PATCH.
Status read_runtime_field(const std::string& key, const json& v, ServiceSpec* s, bool* known) {
    *known = true;
    if (key == "min_instances")
        return read_uint_into(v, key, 0, kMaxInstancesLimit, &s->min_instances);
    if (key == "max_instances")
        return read_uint_into(v, key, 1, kMaxInstancesLimit, &s->max_instances);
    if (key == "concurrency") return read_uint_into(v, key, 1, 1024, &s->concurrency);
    if (key == "idle_timeout_ms") return read_uint_into(v, key, 0, kMaxIdleMs, &s->idle_timeout_ms);
    if (key == "timeout_ms") return read_uint_into(v, key, 1, kMaxTimeoutMs, &s->timeout_ms);
    if (key == "queue_size") return read_uint_into(v, key, 0, 100000, &s->queue_size);
    if (key == "queue_timeout_ms")
        return read_uint_into(v, key, 0, kMaxTimeoutMs, &s->queue_timeout_ms);
    if (key == "isolation") return read_isolation(v, &s->isolation);
    if (key == "spare_instances") return read_uint_into(v, key, 0, 64, &s->spare_instances);
    if (key == "scale_to_zero") return read_scale_to_zero(v, &s->scale_to_zero);
    *known = false;
    return Status::ok();
}

const std::set<std::string>& deploy_fields() {
    static const std::set<std::string> f = {"name", "image", "program", "port",      "args",
                                            "env",  "files", "egress",  "memory_mb", "volumes"};
    return f;
}

// Read-only fields the API returns with a service; accepted in PUT bodies so
// that a GET result can be edited and sent back.
bool is_status_field(const std::string& key) {
    return key == "generation" || key == "created_at" || key == "updated_at" || key == "status" ||
           key == "instances" || key == "queued" || key == "snapshot" || key == "error" ||
           key == "url" || key == "deploy_error" || key == "suspended" || key == "suspended_bytes";
}

}  // namespace

Result<ServiceSpec> spec_from_json(const json& j, const std::string& name) {
    if (!j.is_object()) return Status::invalid_argument("the request body must be a JSON object");
    ServiceSpec s;
    s.name = name;
    bool have_image = false;
    bool have_queue_timeout = false, have_max = false;
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& key = it.key();
        const json& v = it.value();
        Status st;
        bool known = false;
        if (auto r = read_runtime_field(key, v, &s, &known); !r) return r;
        if (known) {
            if (key == "queue_timeout_ms") have_queue_timeout = true;
            if (key == "max_instances") have_max = true;
            continue;
        }
        if (key == "name") {
            std::string n;
            st = read_string(v, "name", &n, 63);
            if (st && !name.empty() && n != name)
                st = Status::invalid_argument("field 'name' ('" + n +
                                              "') does not match the URL ('" + name + "')");
            s.name = n;
        } else if (key == "image") {
            st = read_string(v, "image", &s.image);
            if (st && !is_sha256_hex(s.image))
                st = Status::invalid_argument(
                    "field 'image' must be a sha256 (64 lower-case hex digits)");
            have_image = true;
        } else if (key == "image_type") {
            std::string t;
            st = read_string(v, "image_type", &t, 16);
            if (st && t == "program")
                s.image_type = ImageType::kProgram;
            else if (st && t == "container")
                s.image_type = ImageType::kContainer;
            else if (st)
                st = Status::invalid_argument(
                    "field 'image_type' must be \"program\" or \"container\"");
        } else if (key == "program") {
            st = read_string(v, "program", &s.program, 64);
            if (st && (s.program.empty() || s.program == "." || s.program == ".." ||
                       s.program.find('/') != std::string::npos))
                st = Status::invalid_argument(
                    "field 'program' must be a file name (no '/', not '.' or '..')");
        } else if (key == "port") {
            st = read_uint_into(v, "port", 1, 65535, &s.port);
        } else if (key == "args") {
            st = read_string_list(v, "args", kMaxArgs, &s.args);
        } else if (key == "env") {
            st = read_env(v, &s.env);
        } else if (key == "files") {
            st = read_files(v, &s.files);
        } else if (key == "egress") {
            st = read_string_list(v, "egress", 64, &s.egress);
            for (const auto& e : s.egress) {
                const auto colon = e.rfind(':');
                if (st && (colon == std::string::npos || colon == 0 || colon + 1 == e.size()))
                    st = Status::invalid_argument("field 'egress': expected HOST:PORT, got '" +
                                                  e.substr(0, 80) + "'");
            }
        } else if (key == "memory_mb") {
            st = read_uint_into(v, "memory_mb", kMinMemoryMb, kMaxMemoryMb, &s.memory_mb);
        } else if (key == "volumes") {
            st = read_volumes(v, &s.volumes);
        } else if (is_status_field(key)) {
            continue;
        } else {
            st = Status::invalid_argument("unknown field '" + key.substr(0, 80) + "'");
        }
        if (!st) return st;
    }
    if (auto st = validate_name(s.name); !st) return st;
    if (!have_image)
        return Status::invalid_argument(
            "field 'image' is required (upload the program with POST /v1/images)");
    if (!have_queue_timeout) s.queue_timeout_ms = std::min(s.queue_timeout_ms, s.timeout_ms);
    // One writer at a time: a writable volume's service runs one instance
    // unless it asked for more (then validate_volumes refuses it).
    if (!have_max && writes_volumes(s)) s.max_instances = 1;
    if (s.min_instances > s.max_instances && !have_max && writes_volumes(s))
        s.min_instances = s.max_instances;
    for (const auto& f : s.files)
        if (f.path == "/bin/" + s.program)
            return Status::invalid_argument("field 'files': '" + f.path +
                                            "' is where the program goes");
    if (auto st = validate_spec(s); !st) return st;
    return s;
}

Status apply_patch(ServiceSpec* spec, const json& j) {
    if (!j.is_object()) return Status::invalid_argument("the request body must be a JSON object");
    ServiceSpec s = *spec;
    for (auto it = j.begin(); it != j.end(); ++it) {
        bool known = false;
        if (auto st = read_runtime_field(it.key(), it.value(), &s, &known); !st) return st;
        if (known) continue;
        if (deploy_fields().count(it.key()))
            return Status::invalid_argument(
                "field '" + it.key() +
                "' cannot be patched: it changes the snapshot; deploy again (PUT)");
        return Status::invalid_argument("unknown field '" + it.key().substr(0, 80) + "'");
    }
    if (!s.volumes.empty() && s.isolation != spec->isolation)
        return Status::invalid_argument(
            "field 'isolation' cannot be patched for a service with volumes (it decides whether "
            "they are mounted read-only); deploy again (PUT)");
    if (auto st = validate_spec(s); !st) return st;
    *spec = std::move(s);
    return Status::ok();
}

Status validate_spec(const ServiceSpec& s) {
    if (auto st = validate_name(s.name); !st) return st;
    if (s.min_instances > s.max_instances)
        return Status::invalid_argument("min_instances (" + std::to_string(s.min_instances) +
                                        ") is larger than max_instances (" +
                                        std::to_string(s.max_instances) + ")");
    if (s.queue_timeout_ms > s.timeout_ms)
        return Status::invalid_argument("queue_timeout_ms (" + std::to_string(s.queue_timeout_ms) +
                                        ") is larger than timeout_ms (" +
                                        std::to_string(s.timeout_ms) + ")");
    if (s.isolation == Isolation::kRequest && s.min_instances > 0)
        return Status::invalid_argument(
            "min_instances must be 0 with isolation \"request\" (instances are never reused; "
            "see spare_instances)");
    if (s.isolation == Isolation::kRequest && s.scale_to_zero == ScaleToZero::kStateful)
        return Status::invalid_argument(
            "scale_to_zero \"stateful\" cannot be combined with isolation \"request\" (a "
            "request's instance is discarded after it, there is no state to keep)");
    if (s.isolation != Isolation::kRequest && s.spare_instances > 0)
        return Status::invalid_argument(
            "spare_instances needs isolation \"request\" (with isolation \"instance\", use "
            "min_instances)");
    return validate_volumes(s);
}

json spec_to_json(const ServiceSpec& s) {
    json files = json::array();
    for (const auto& f : s.files)
        files.push_back({{"path", f.path}, {"image", f.image}, {"mode", f.mode}});
    json j{{"name", s.name},
           {"image", s.image},
           {"image_type", image_type_name(s.image_type)},
           {"program", s.program},
           {"port", s.port},
           {"args", s.args},
           {"env", s.env},
           {"files", files},
           {"egress", s.egress},
           {"memory_mb", s.memory_mb},
           {"min_instances", s.min_instances},
           {"max_instances", s.max_instances},
           {"concurrency", s.concurrency},
           {"idle_timeout_ms", s.idle_timeout_ms},
           {"timeout_ms", s.timeout_ms},
           {"isolation", isolation_name(s.isolation)},
           {"queue_size", s.queue_size},
           {"queue_timeout_ms", s.queue_timeout_ms},
           {"spare_instances", s.spare_instances},
           {"scale_to_zero", scale_to_zero_name(s.scale_to_zero)}};
    if (!s.volumes.empty()) j["volumes"] = volumes_to_json(s.volumes);
    return j;
}

bool needs_new_snapshot(const ServiceSpec& a, const ServiceSpec& b) {
    auto files_eq = [](const std::vector<FileEntry>& x, const std::vector<FileEntry>& y) {
        if (x.size() != y.size()) return false;
        for (size_t i = 0; i < x.size(); ++i)
            if (x[i].path != y[i].path || x[i].image != y[i].image || x[i].mode != y[i].mode)
                return false;
        return true;
    };
    return a.image != b.image || a.image_type != b.image_type || a.program != b.program ||
           a.port != b.port || a.args != b.args || a.env != b.env || !files_eq(a.files, b.files) ||
           a.egress != b.egress || a.memory_mb != b.memory_mb ||
           volumes_to_json(a.volumes) != volumes_to_json(b.volumes) ||
           // a volume's mount is read-only with isolation "request"
           (!a.volumes.empty() && a.isolation != b.isolation);
}

}  // namespace ember::platform
