#include "platform/api.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "platform/console.h"
#include "platform/data_dir.h"

namespace ember::platform {

using nlohmann::json;

namespace {

std::vector<std::string> split_path(const std::string& path) {
    std::vector<std::string> parts;
    size_t i = 0;
    while (i < path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        if (j > i) parts.push_back(path.substr(i, j - i));
        i = j + 1;
    }
    return parts;
}

ApiResponse json_response(int status, const json& j) {
    ApiResponse r;
    r.status = status;
    r.body = json_text(j, 2) + "\n";
    return r;
}

// Parses a JSON request body with a message that says where it broke.
bool parse_body(const std::string& body, json* out, ApiResponse* err) {
    if (body.empty()) {
        *err = Api::error(kInvalidJson, "the request needs a JSON body");
        return false;
    }
    try {
        *out = json::parse(body);
    } catch (const json::parse_error& e) {
        std::string m = e.what();
        if (const auto p = m.find("] ");
            m.rfind("[json.exception", 0) == 0 && p != std::string::npos)
            m = m.substr(p + 2);
        *err = Api::error(kInvalidJson, "malformed JSON: " + m);
        return false;
    } catch (const json::exception& e) {
        // out_of_range: a number beyond a double ("1e400").
        std::string m = e.what();
        if (const auto p = m.find("] "); p != std::string::npos) m = m.substr(p + 2);
        *err = Api::error(kInvalidJson, "invalid JSON: " + m);
        return false;
    }
    return true;
}

// A query parameter that must be a decimal integer in [0, 2^64); "" is absent.
bool parse_count(const std::string& s, uint64_t* out) {
    if (s.empty()) return true;
    if (s.size() > 20) return false;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        const uint64_t d = static_cast<uint64_t>(c - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool truthy(const std::string& v) { return v == "1" || v == "true" || v == "yes"; }

json instance_json(const InstanceInfo& i) {
    return json{{"id", "i-" + std::to_string(i.id)},
                {"service", i.service},
                {"generation", i.generation},
                {"state", i.state},
                {"active_requests", i.active},
                {"requests_served", i.served},
                {"age_s", i.age_s},
                {"idle_s", i.idle_s},
                {"restore_ms", i.restore_ms},
                {"memory_bytes", i.memory_bytes},
                {"private_memory_bytes", i.private_memory_bytes},
                {"disk_bytes", i.disk_bytes}};
}

std::string iso_time_ms(int64_t unix_ms) {
    const time_t secs = static_cast<time_t>(unix_ms / 1000);
    tm t;
    gmtime_r(&secs, &t);
    char b[48];
    std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900,
                  t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                  static_cast<int>(unix_ms % 1000));
    return b;
}

int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string query_param(const std::string& query, const std::string& key) {
    size_t i = 0;
    while (i <= query.size()) {
        size_t j = query.find('&', i);
        if (j == std::string::npos) j = query.size();
        const std::string kv = query.substr(i, j - i);
        const size_t eq = kv.find('=');
        if (kv.substr(0, eq) == key) {
            const std::string raw = eq == std::string::npos ? "" : kv.substr(eq + 1);
            std::string out;
            for (size_t k = 0; k < raw.size(); ++k) {
                if (raw[k] == '+') {
                    out += ' ';
                } else if (raw[k] == '%' && k + 2 < raw.size() && hexval(raw[k + 1]) >= 0 &&
                           hexval(raw[k + 2]) >= 0) {
                    out += static_cast<char>(hexval(raw[k + 1]) * 16 + hexval(raw[k + 2]));
                    k += 2;
                } else {
                    out += raw[k];
                }
            }
            return out;
        }
        i = j + 1;
    }
    return "";
}

ApiResponse Api::error(const Status& s) { return error(http_error(s.code()), s.message()); }

ApiResponse Api::error(HttpError e, const std::string& message) {
    return json_response(e.status, error_json(e.code, message));
}

std::string Api::format_log_line(const LogRecord& r) {
    return iso_time_ms(r.time_ms) + " " + r.instance + " " + r.stream + ": " + r.text + "\n";
}

bool Api::is_public(const std::string& method, const std::string& target) {
    return method == "GET" && is_console_path(target.substr(0, target.find('?')));
}

bool Api::authorized(const std::string& authorization) const {
    return bearer_matches(authorization, token_) ||
           (!cluster_.token.empty() && bearer_matches(authorization, cluster_.token));
}

uint64_t Api::body_limit(const std::string& method, const std::string& target) const {
    if (method == "POST" && (target == "/v1/images" || target.rfind("/v1/images?", 0) == 0))
        return info_.max_image_bytes;
    return info_.max_json_bytes;
}

ApiResponse Api::handle(const ApiRequest& req) {
    if (is_public(req.method, req.target))
        return *console_response(req.method, req.target.substr(0, req.target.find('?')));
    ApiResponse r = dispatch(req);
    add_api_headers(&r);
    return r;
}

ApiResponse Api::dispatch(const ApiRequest& req) {
    // The cluster token opens the node-to-node calls only, the API token
    // everything else.
    const bool node_call = is_node_call(req);
    if (!(node_call ? !cluster_.token.empty() && bearer_matches(req.authorization, cluster_.token)
                    : bearer_matches(req.authorization, token_)))
        return error(kUnauthorized, req.authorization.empty()
                                        ? "missing API token (Authorization: Bearer <token>)"
                                    : node_call ? "invalid cluster token"
                                                : "invalid API token");
    const size_t q = req.target.find('?');
    const std::string path = req.target.substr(0, q);
    const std::string query = q == std::string::npos ? "" : req.target.substr(q + 1);
    try {
        return route(req, path, query);
    } catch (const std::exception& e) {
        // Defensive: a handler bug must not take the daemon down.
        return error(Status::internal(std::string("internal error: ") + e.what()));
    }
}

ApiResponse Api::route(const ApiRequest& req, const std::string& path, const std::string& query) {
    const auto parts = split_path(path);
    if (path == "/metrics") {
        if (req.method != "GET") return error(kMethodNotAllowed, "use GET");
        ApiResponse r;
        r.content_type = "text/plain; version=0.0.4";
        r.body = metrics_.render();
        if (!cluster_.node.empty()) r.body = add_node_label(r.body, cluster_.node);
        return r;
    }
    if (parts.size() < 2 || parts[0] != "v1")
        return error(Status::not_found("no such endpoint: " + path));
    if (parts[1] == "info" && parts.size() == 2) {
        if (req.method != "GET") return error(kMethodNotAllowed, "use GET");
        return json_response(
            200,
            json{{"version", info_.version}, {"gateway", info_.gateway}, {"domain", info_.domain}});
    }
    if (parts[1] == "stats" && parts.size() == 2) {
        if (req.method != "GET") return error(kMethodNotAllowed, "use GET");
        return stats();
    }
    if (parts[1] == "nodes" && parts.size() == 2) return nodes(req);
    if (parts[1] == "cluster") {
        // A peer asking for this node's instances of a service (ember status).
        if (parts.size() == 4 && parts[2] == "instances" && !cluster_.token.empty()) {
            if (req.method != "GET") return error(kMethodNotAllowed, "use GET");
            json arr = json::array();
            for (const auto& i : manager_.instances(parts[3])) {
                arr.push_back(instance_json(i));
                arr.back()["node"] = cluster_.node;
            }
            return json_response(200, json{{"instances", arr}});
        }
        return cluster_call(req, parts);
    }
    if (parts[1] == "images") return images(req, parts);
    if (parts[1] == "services") return services(req, parts, query);
    if (parts[1] == "volumes") return volumes(req, parts);
    if (parts[1] == "instances" && parts.size() == 2) {
        if (req.method != "GET") return error(kMethodNotAllowed, "use GET");
        json arr = json::array();
        for (const auto& i : manager_.instances()) arr.push_back(instance_json(i));
        return json_response(200, json{{"instances", arr}});
    }
    return error(Status::not_found("no such endpoint: " + path));
}

ApiResponse Api::images(const ApiRequest& req, const std::vector<std::string>& parts) {
    if (parts.size() == 2) {
        if (req.method == "POST") {
            if (req.body.empty())
                return error(
                    Status::invalid_argument("empty image: send the program's bytes as the body"));
            auto added = controller_.add_image(req.body);
            if (!added) return error(added.status());
            return json_response(added->created ? 201 : 200,
                                 json{{"sha256", added->sha256}, {"size", req.body.size()}});
        }
        if (req.method == "GET") {
            auto list = store_.list_images();
            if (!list) return error(list.status());
            json arr = json::array();
            for (const auto& i : *list)
                arr.push_back(
                    {{"sha256", i.sha256}, {"size", i.size}, {"created_at", i.created_at}});
            return json_response(200, json{{"images", arr}});
        }
        return error(kMethodNotAllowed, "use GET or POST");
    }
    if (parts.size() != 3) return error(Status::not_found("no such endpoint"));
    const std::string& sha = parts[2];
    if (!is_sha256_hex(sha))
        return error(Status::invalid_argument("not a sha256: '" + sha.substr(0, 80) + "'"));
    if (req.method == "GET") {
        auto rec = store_.get_image(sha);
        if (!rec) return error(rec.status());
        if (!rec->has_value()) return error(Status::not_found("no image " + sha));
        return json_response(
            200, json{{"sha256", sha}, {"size", (*rec)->size}, {"created_at", (*rec)->created_at}});
    }
    if (req.method == "DELETE") {
        auto r = controller_.remove_image(sha);
        if (!r) return error(r.status());
        ApiResponse resp;
        resp.status = 204;
        return resp;
    }
    return error(kMethodNotAllowed, "use GET or DELETE");
}

json Api::service_json(const std::string& name) {
    const ServiceStatus st = manager_.status(name);
    json j = spec_to_json(st.record.spec);
    j["generation"] = st.record.generation;
    j["created_at"] = st.record.created_at;
    j["updated_at"] = st.record.updated_at;
    j["status"] = st.state;
    j["instances"] = st.instances;
    j["queued"] = st.queued;
    j["suspended"] = st.suspended;
    j["suspended_bytes"] = st.suspended_bytes;
    if (!st.error.empty()) j["error"] = st.error;
    if (!st.prepared.empty()) j["snapshot"] = st.prepared;
    const auto colon = info_.gateway.rfind(':');
    const std::string port = colon == std::string::npos ? "" : info_.gateway.substr(colon);
    j["url"] = "http://" + name + "." + info_.domain + port + "/";
    return j;
}

ApiResponse Api::services(const ApiRequest& req, const std::vector<std::string>& parts,
                          const std::string& query) {
    if (parts.size() == 2) {
        if (req.method == "GET") {
            auto list = store_.list_services();
            if (!list) return error(list.status());
            json arr = json::array();
            for (const auto& rec : *list) arr.push_back(service_json(rec.spec.name));
            return json_response(200, json{{"services", arr}});
        }
        if (req.method != "POST") return error(kMethodNotAllowed, "use GET or POST");
    }
    std::string name;
    if (parts.size() >= 3) {
        name = parts[2];
        if (auto st = validate_name(name); !st) return error(st);
    }
    if (parts.size() == 2 || (parts.size() == 3 && req.method == "PUT")) {
        json body;
        ApiResponse err;
        if (!parse_body(req.body, &body, &err)) return err;
        auto spec = spec_from_json(body, name);
        if (!spec) return error(spec.status());
        std::unique_lock<std::mutex> claim(volume_claims_, std::defer_lock);
        if (!spec->volumes.empty()) claim.lock();
        if (auto st = check_volumes(*spec); !st) return error(st);
        auto res = controller_.deploy(std::move(*spec), parts.size() == 2);
        if (!res) return error(res.status());
        return json_response(res.value().created ? 201 : 200,
                             service_json(res.value().record.spec.name));
    }
    if (parts.size() == 3) {
        if (req.method == "GET") {
            if (!manager_.status(name).exists)
                return error(Status::not_found("no service named '" + name + "'"));
            return json_response(200, service_json(name));
        }
        if (req.method == "PATCH") {
            json body;
            ApiResponse err;
            if (!parse_body(req.body, &body, &err)) return err;
            auto res = controller_.patch(name, body);
            if (!res) return error(res.status());
            return json_response(200, service_json(name));
        }
        if (req.method == "DELETE") {
            auto res = controller_.remove(name);
            if (!res) return error(res.status());
            ApiResponse r;
            r.status = 204;
            return r;
        }
        return error(kMethodNotAllowed, "use GET, PUT, PATCH or DELETE");
    }
    if (parts.size() == 4 && parts[3] == "instances") {
        if (req.method != "GET") return error(kMethodNotAllowed, "use GET");
        if (!manager_.status(name).exists)
            return error(Status::not_found("no service named '" + name + "'"));
        json arr = json::array();
        for (const auto& i : manager_.instances(name)) arr.push_back(instance_json(i));
        add_cluster_instances(name, &arr);
        return json_response(200, json{{"instances", arr}});
    }
    if (parts.size() == 4 && parts[3] == "stats") {
        if (req.method != "GET") return error(kMethodNotAllowed, "use GET");
        if (!manager_.status(name).exists)
            return error(Status::not_found("no service named '" + name + "'"));
        return service_stats(name, query);
    }
    if (parts.size() == 4 && parts[3] == "logs") {
        if (req.method != "GET") return error(kMethodNotAllowed, "use GET");
        if (!manager_.status(name).exists)
            return error(Status::not_found("no service named '" + name + "'"));
        return logs(name, query);
    }
    return error(Status::not_found("no such endpoint"));
}

ApiResponse Api::logs(const std::string& name, const std::string& query) {
    const std::string instance = query_param(query, "instance");
    uint64_t since = 0, tail = 0;
    const std::string since_s = query_param(query, "since"), tail_s = query_param(query, "tail");
    if (!parse_count(since_s, &since) || !parse_count(tail_s, &tail))
        return error(Status::invalid_argument(
            "since and tail must be non-negative decimal integers below 2^64"));
    auto lines = logs_.read(name, since, 100000, instance);
    if (tail > 0 && lines.size() > tail)
        lines.erase(lines.begin(), lines.end() - static_cast<ptrdiff_t>(tail));
    ApiResponse r;
    uint64_t last = since;
    if (!lines.empty()) last = lines.back().seq;
    if (query_param(query, "format") == "json") {
        json arr = json::array();
        for (const auto& l : lines)
            arr.push_back({{"seq", l.seq},
                           {"time_ms", l.time_ms},
                           {"instance", l.instance},
                           {"stream", l.stream},
                           {"text", l.text}});
        r.body = json_text(json{{"lines", arr}, {"last_seq", last}}) + "\n";
        return r;
    }
    r.content_type = "text/plain; charset=utf-8";
    for (const auto& l : lines) r.body += format_log_line(l);
    if (truthy(query_param(query, "follow"))) {
        r.follow = true;
        r.follow_service = name;
        r.follow_instance = instance;
        r.follow_after = last;
    }
    return r;
}

}  // namespace ember::platform
