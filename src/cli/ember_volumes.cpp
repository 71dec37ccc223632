// ember volume create/ls/rm, and deploy's --volume NAME:/PATH[:ro].
#include <cstdio>

#include "ember_commands.h"

namespace ember::cli {

using nlohmann::json;

namespace {

std::string text(const json& j, const char* key) {
    if (!j.contains(key) || j[key].is_null()) return "-";
    return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

std::string mib(const json& j, const char* key) {
    if (!j.contains(key) || !j[key].is_number()) return "-";
    char b[32];
    std::snprintf(b, sizeof b, "%.1fM", j[key].get<double>() / (1 << 20));
    return b;
}

}  // namespace

json volume_mounts(const std::vector<std::string>& specs) {
    json out = json::array();
    for (const auto& s : specs) {
        const auto colon = s.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == s.size())
            throw_failure("--volume: expected NAME:/PATH[:ro], got '" + s + "'", kExitUsage);
        std::string path = s.substr(colon + 1);
        bool ro = false;
        if (path.size() > 3 && path.compare(path.size() - 3, 3, ":ro") == 0) {
            ro = true;
            path.resize(path.size() - 3);
        }
        out.push_back({{"name", s.substr(0, colon)}, {"path", path}, {"readonly", ro}});
    }
    return out;
}

int cmd_volume_create(const Global& g, const std::string& name, const std::string& size) {
    Client c(g);
    auto v = c.call("POST", "/v1/volumes", json{{"name", name}, {"size", size}}.dump());
    if (g.output == "json")
        std::printf("%s\n", v.dump(2).c_str());
    else
        std::printf("created volume %s (%s)\n", name.c_str(), mib(v, "size_bytes").c_str());
    return 0;
}

int cmd_volume_ls(const Global& g) {
    Client c(g);
    auto j = c.call("GET", "/v1/volumes");
    if (g.output == "json") {
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    std::printf("%-20s %10s %10s  %-12s %s\n", "NAME", "SIZE", "USED", "WRITER", "SERVICES");
    if (j.contains("volumes") && j["volumes"].is_array())
        for (const auto& v : j["volumes"]) {
            std::string users;
            if (v.contains("services") && v["services"].is_array())
                for (const auto& s : v["services"])
                    if (s.is_string()) users += (users.empty() ? "" : ",") + s.get<std::string>();
            std::printf("%-20s %10s %10s  %-12s %s\n", text(v, "name").c_str(),
                        mib(v, "size_bytes").c_str(), mib(v, "used_bytes").c_str(),
                        text(v, "writer").c_str(), users.empty() ? "-" : users.c_str());
        }
    return 0;
}

int cmd_volume_rm(const Global& g, const std::string& name) {
    Client c(g);
    c.call("DELETE", "/v1/volumes/" + name);
    if (g.output != "json") std::printf("removed volume %s\n", name.c_str());
    return 0;
}

}  // namespace ember::cli
