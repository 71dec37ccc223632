// ember nodes: the nodes of the cluster (GET /v1/nodes): name, addresses,
// state, instances, load and the instances' private memory. A single
// emberd lists itself.
#include <cstdio>
#include <string>
#include <vector>

#include "ember_commands.h"

namespace ember::cli {

using nlohmann::json;

namespace {

std::string field(const json& j, const char* key) {
    if (!j.is_object() || !j.contains(key)) return "-";
    const auto& v = j[key];
    if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>();
    if (v.is_number_float()) {
        char b[32];
        std::snprintf(b, sizeof b, "%.2f", v.get<double>());
        return b;
    }
    return v.dump();
}

std::string mib(const json& j, const char* key) {
    if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return "-";
    char b[32];
    std::snprintf(b, sizeof b, "%.1fM", j[key].get<double>() / (1024.0 * 1024.0));
    return b;
}

}  // namespace

int cmd_nodes(const Global& g) {
    Client c(g);
    auto j = c.call("GET", "/v1/nodes");
    if (g.output == "json") {
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    if (!j.is_object() || !j.contains("nodes") || !j["nodes"].is_array())
        throw_failure("the API answered without a 'nodes' list");
    const std::vector<std::string> head = {"NAME",      "STATE", "API",   "GATEWAY",
                                           "INSTANCES", "LOAD",  "MEMORY"};
    std::vector<std::vector<std::string>> rows;
    for (const auto& n : j["nodes"])
        rows.push_back({field(n, "name"), field(n, "state"), field(n, "api"), field(n, "gateway"),
                        field(n, "instances"), field(n, "load"), mib(n, "memory_bytes")});
    print_table(head, rows);
    return 0;
}

}  // namespace ember::cli
