// ember_commands.h - the ember CLI's commands (ember_commands.cpp) and
// their options (parsed in ember.cpp).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ember_client.h"

namespace ember::cli {

struct DeployOptions {
    std::string program, image, name, memory = "64M", isolation, idle_timeout, timeout,
                                      queue_timeout, scale_to_zero;
    std::optional<int> port;  // default: the image's first exposed port, else 8080
    std::vector<std::string> files, env, egress, args, volumes;
    std::optional<unsigned> min, max, concurrency, queue, spare;
};

struct InvokeOptions {
    std::string name, path = "/", method = "GET", data;
    std::vector<std::string> headers;
    bool verbose = false;
};

struct ScaleOptions {
    std::string name, idle_timeout, timeout, scale_to_zero;
    std::optional<unsigned> min, max, concurrency, spare;
};

struct TopOptions {
    std::string interval = "1s";
    bool once = false;
};

int cmd_deploy(const Global& g, DeployOptions& o);
int cmd_ls(const Global& g);
int cmd_status(const Global& g, const std::string& name);
int cmd_logs(const Global& g, const std::string& name, bool follow, const std::string& instance,
             unsigned tail);
int cmd_invoke(const Global& g, InvokeOptions& o);
int cmd_scale(const Global& g, const ScaleOptions& o);
int cmd_rm(const Global& g, const std::string& name);
int cmd_nodes(const Global& g);  // ember_nodes.cpp

// Rows under a header, each column as wide as its widest cell, one line
// each; print_table writes it to stdout.
std::string format_table(const std::vector<std::string>& head,
                         const std::vector<std::vector<std::string>>& rows);
void print_table(const std::vector<std::string>& head,
                 const std::vector<std::vector<std::string>>& rows);
// ember_top.cpp
int cmd_top(const Global& g, const TopOptions& o);
int cmd_open(const Global& g, bool print_only);
// ember_volumes.cpp
nlohmann::json volume_mounts(const std::vector<std::string>& specs);  // --volume NAME:/PATH[:ro]
int cmd_volume_create(const Global& g, const std::string& name, const std::string& size);
int cmd_volume_ls(const Global& g);
int cmd_volume_rm(const Global& g, const std::string& name);

}  // namespace ember::cli
