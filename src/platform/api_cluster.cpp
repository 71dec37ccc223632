// The API's cluster endpoints: GET /v1/nodes (the members of the cluster,
// or this one node without --cluster), and the calls nodes make to each
// other with the cluster token: GET /v1/cluster/images/<sha256> (a peer
// copying an image it lacks; it checks the sha256 itself).
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "platform/api.h"
#include "platform/data_dir.h"

namespace ember::platform {

using nlohmann::json;

std::string add_node_label(const std::string& text, const std::string& node) {
    // Node names are service names (validate_name): nothing to escape.
    const std::string label = "node=\"" + node + "\"";
    std::string out;
    out.reserve(text.size() + text.size() / 4);
    size_t i = 0;
    while (i < text.size()) {
        size_t end = text.find('\n', i);
        if (end == std::string::npos) end = text.size();
        const std::string line = text.substr(i, end - i);
        i = end + 1;
        const size_t cut = line.find_first_of("{ ");
        if (line.empty() || line[0] == '#' || cut == std::string::npos) {
            out += line;
        } else if (line[cut] == '{') {
            out += line.substr(0, cut + 1) + label + (line[cut + 1] == '}' ? "" : ",") +
                   line.substr(cut + 1);
        } else {
            out += line.substr(0, cut) + "{" + label + "}" + line.substr(cut);
        }
        if (end < text.size()) out += '\n';
    }
    return out;
}

bool Api::node_authorized(const std::string& authorization) const {
    return !cluster_.token.empty() && bearer_matches(authorization, cluster_.token);
}

void Api::add_cluster_instances(const std::string& service, json* arr) {
    if (cluster_.token.empty()) return;
    for (auto& i : *arr) i["node"] = cluster_.node;
    if (!cluster_.peer_instances) return;
    for (auto& i : cluster_.peer_instances(service)) arr->push_back(std::move(i));
}

bool Api::is_node_call(const ApiRequest& req) const {
    return req.target.rfind("/v1/cluster/", 0) == 0;
}

ApiResponse Api::nodes(const ApiRequest& req) {
    if (req.method != "GET") return error(kMethodNotAllowed, "use GET");
    json arr;
    if (cluster_.nodes) {
        arr = cluster_.nodes();
    } else {
        // A single node: itself, with the same fields as a cluster member.
        char host[256] = {0};
        if (::gethostname(host, sizeof host - 1) != 0) host[0] = 0;
        uint32_t instances = 0;
        uint64_t memory = 0;
        for (const auto& i : manager_.instances()) {
            ++instances;
            memory += i.private_memory_bytes;
        }
        double avg[1] = {0};
        if (::getloadavg(avg, 1) != 1) avg[0] = 0;
        auto services = store_.list_services();
        arr = json::array({json{{"name", host[0] ? host : "local"},
                                {"state", "up"},
                                {"api", ""},
                                {"gateway", info_.gateway},
                                {"instances", instances},
                                {"services", services ? services->size() : 0},
                                {"memory_bytes", memory},
                                {"load", avg[0]}}});
    }
    ApiResponse r;
    r.body = json_text(json{{"nodes", arr}}, 2) + "\n";
    return r;
}

ApiResponse Api::cluster_call(const ApiRequest& req, const std::vector<std::string>& parts) {
    if (cluster_.token.empty())
        return error(Status::not_found("not a cluster node (emberd --cluster)"));
    if (parts.size() == 4 && parts[2] == "images") {
        if (req.method != "GET") return error(kMethodNotAllowed, "use GET");
        const std::string& sha = parts[3];
        if (!is_sha256_hex(sha))
            return error(Status::invalid_argument("not a sha256: '" + sha.substr(0, 80) + "'"));
        auto bytes = images_.get(sha, info_.max_image_bytes);
        if (!bytes) return error(bytes.status());
        ApiResponse r;
        r.content_type = "application/octet-stream";
        r.body.assign(reinterpret_cast<const char*>(bytes->data()), bytes->size());
        return r;
    }
    return error(Status::not_found("no such endpoint: " + req.target.substr(0, 200)));
}

}  // namespace ember::platform
