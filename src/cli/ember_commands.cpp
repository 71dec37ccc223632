// The ember CLI's commands: each calls emberd's API and prints a table (or
// the API's JSON with -o json).
#include "ember_commands.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>

#include "common/units.h"
#include "vmm/elf_deps.h"
#include "vmm/image.h"

namespace ember::cli {

std::string format_table(const std::vector<std::string>& head,
                         const std::vector<std::vector<std::string>>& rows) {
    std::vector<size_t> w(head.size());
    for (size_t i = 0; i < head.size(); ++i) w[i] = head[i].size();
    for (const auto& r : rows)
        for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
    std::string out;
    auto line = [&](const std::vector<std::string>& r) {
        for (size_t i = 0; i < r.size(); ++i) {
            out += r[i];
            if (i + 1 < r.size() && i < w.size()) out += std::string(w[i] - r[i].size() + 2, ' ');
        }
        out += "\n";
    };
    line(head);
    for (const auto& r : rows) line(r);
    return out;
}

void print_table(const std::vector<std::string>& head,
                 const std::vector<std::vector<std::string>>& rows) {
    std::fputs(format_table(head, rows).c_str(), stdout);
}

using nlohmann::json;

namespace {

std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw_failure("cannot read " + path + ": " + std::strerror(errno));
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)),
                                std::istreambuf_iterator<char>());
}

std::string str(const json& j, const char* key) {
    if (!j.contains(key)) return "";
    const auto& v = j[key];
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
}

// Typed fields of an API answer: an unexpected type or a missing field is a
// clear error, not an uncaught nlohmann::json exception.
[[noreturn]] void bad_field(const json& j, const char* key) {
    throw_failure(std::string("the API answered with an unexpected value for '") + key +
                  "': " + (j.is_object() && j.contains(key) ? j[key].dump() : "(missing)"));
}

uint64_t u64(const json& j, const char* key) {
    if (!j.is_object() || !j.contains(key) || !j[key].is_number_unsigned()) bad_field(j, key);
    return j[key].get<uint64_t>();
}

double num(const json& j, const char* key) {
    if (!j.is_object() || !j.contains(key) || !j[key].is_number()) bad_field(j, key);
    return j[key].get<double>();
}

std::string text(const json& j, const char* key) {
    if (!j.is_object() || !j.contains(key) || !j[key].is_string()) bad_field(j, key);
    return j[key].get<std::string>();
}

const json& list(const json& j, const char* key) {
    if (!j.is_object() || !j.contains(key) || !j[key].is_array()) bad_field(j, key);
    return j[key];
}

// What goes into the JSON spec must be UTF-8 (json::dump throws otherwise):
// checked before anything is uploaded, as a usage error.
void require_utf8(const std::string& s, const char* what) {
    try {
        (void)json(s).dump();
    } catch (const json::type_error&) {
        throw_failure(std::string(what) + ": not valid UTF-8: " +
                          json(s).dump(-1, ' ', false, json::error_handler_t::replace),
                      kExitUsage);
    }
}

std::string fmt_ms(double ms) {
    char b[32];
    std::snprintf(b, sizeof b, ms < 10 ? "%.2fms" : "%.0fms", ms);
    return b;
}

std::string fmt_secs(double s) {
    if (s < 60) return std::to_string(static_cast<int>(s)) + "s";
    if (s < 3600) return std::to_string(static_cast<int>(s / 60)) + "m";
    return std::to_string(static_cast<int>(s / 3600)) + "h";
}

uint64_t duration_ms(const std::string& s, const char* flag) {
    auto v = ember::parse_duration_ms(s);
    if (!v)
        throw_failure(std::string(flag) + ": not a duration: '" + s + "' (e.g. 500ms, 1s, 2m)",
                      kExitUsage);
    return *v;
}

}  // namespace

namespace {

std::string base_name(const std::string& path) {
    std::string p = path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    const auto slash = p.find_last_of('/');
    return slash == std::string::npos ? p : p.substr(slash + 1);
}

// A service name from a file name: "my_app.tar" -> "my-app".
std::string name_from_file(const std::string& path) {
    std::string n = base_name(path);
    if (const auto dot = n.find('.'); dot != std::string::npos && dot > 0) n.erase(dot);
    for (char& ch : n) {
        if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))) ch = '-';
    }
    return n;
}

}  // namespace

int cmd_deploy(const Global& g, DeployOptions& o) {
    if (!o.image.empty() && !o.program.empty()) {
        // "deploy --image IMG ARG..." without "--": ARGs are the program's.
        o.args.insert(o.args.begin(), o.program);
        o.program.clear();
    }
    if (o.image.empty() && o.program.empty())
        throw_failure("deploy: give a PROGRAM or --image IMG (see ember deploy --help)",
                      kExitUsage);
    const std::string& source = o.image.empty() ? o.program : o.image;
    if (o.name.empty()) o.name = o.image.empty() ? base_name(o.program) : name_from_file(o.image);
    require_utf8(source, o.image.empty() ? "program" : "--image");
    for (const auto& a : o.args) require_utf8(a, "program argument");
    for (const auto& e : o.env) require_utf8(e, "--env");
    for (const auto& e : o.egress) require_utf8(e, "--allow-egress");
    for (const auto& f : o.files) require_utf8(f, "--file");
    Client c(g);
    auto upload = [&](const std::vector<uint8_t>& data) {
        auto j = c.call("POST", "/v1/images", std::string(data.begin(), data.end()),
                        "application/octet-stream");
        return text(j, "sha256");
    };
    json spec;
    json files = json::array();
    int port = 8080;
    if (!o.image.empty()) {
        // Read and checked here, so that a wrong file is refused before
        // anything is uploaded.
        auto archive = ember::read_image_archive(o.image);
        if (!archive) throw_failure("--image " + o.image + ": " + archive.message(), kExitUsage);
        ember::cpio::Writer scratch;
        auto config = ember::load_image_archive(*archive, scratch);
        if (!config) throw_failure("--image " + o.image + ": " + config.message(), kExitUsage);
        if (!config->exposed_ports.empty()) port = config->exposed_ports.front();
        spec["image"] = upload(*archive);
        spec["image_type"] = "container";
    } else {
        const auto bytes = read_file(o.program);
        // A dynamically linked program runs with the interpreter and
        // libraries it has here, uploaded as files at the same paths.
        auto deps = ember::host_dependencies(bytes);
        if (!deps) throw_failure(o.program + ": " + deps.message(), kExitUsage);
        for (const auto& dep : *deps)
            files.push_back({{"path", dep.path}, {"image", upload(dep.data)}, {"mode", 0755}});
        spec["image"] = upload(bytes);
        spec["program"] = base_name(o.program);
    }
    spec["port"] = o.port.value_or(port);
    spec["args"] = o.args;
    spec["env"] = o.env;
    spec["egress"] = o.egress;
    for (const auto& f : o.files) {
        const auto colon = f.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == f.size())
            throw_failure("--file: expected SRC:DST, got '" + f + "'", kExitUsage);
        const std::string src = f.substr(0, colon), dst = f.substr(colon + 1);
        struct stat st;
        const unsigned mode = ::stat(src.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
        files.push_back({{"path", dst}, {"image", upload(read_file(src))}, {"mode", mode}});
    }
    spec["files"] = files;
    if (!o.volumes.empty()) spec["volumes"] = volume_mounts(o.volumes);
    auto mem = ember::parse_size(o.memory);
    if (!mem || *mem < (1ull << 20))
        throw_failure("--memory: not a size: '" + o.memory + "' (e.g. 64M)", kExitUsage);
    spec["memory_mb"] = (*mem + (1ull << 20) - 1) >> 20;
    if (o.min) spec["min_instances"] = *o.min;
    if (o.max) spec["max_instances"] = *o.max;
    if (o.concurrency) spec["concurrency"] = *o.concurrency;
    if (o.queue) spec["queue_size"] = *o.queue;
    if (o.spare) spec["spare_instances"] = *o.spare;
    if (!o.isolation.empty()) spec["isolation"] = o.isolation;
    if (!o.scale_to_zero.empty()) spec["scale_to_zero"] = o.scale_to_zero;
    if (!o.idle_timeout.empty())
        spec["idle_timeout_ms"] = duration_ms(o.idle_timeout, "--idle-timeout");
    if (!o.timeout.empty()) spec["timeout_ms"] = duration_ms(o.timeout, "--timeout");
    if (!o.queue_timeout.empty())
        spec["queue_timeout_ms"] = duration_ms(o.queue_timeout, "--queue-timeout");
    const auto t0 = std::chrono::steady_clock::now();
    auto svc = c.call("PUT", "/v1/services/" + o.name, spec.dump());
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (g.output == "json") {
        std::printf("%s\n", svc.dump(2).c_str());
        return 0;
    }
    std::printf("deployed %s (generation %s) in %s: %s\n", o.name.c_str(),
                str(svc, "generation").c_str(), fmt_ms(ms).c_str(), str(svc, "url").c_str());
    return 0;
}

int cmd_ls(const Global& g) {
    Client c(g);
    auto j = c.call("GET", "/v1/services");
    if (g.output == "json") {
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : list(j, "services"))
        rows.push_back({str(s, "name"), str(s, "status"), str(s, "instances"), str(s, "generation"),
                        str(s, "min_instances") + "-" + str(s, "max_instances"),
                        str(s, "concurrency"), str(s, "isolation"), str(s, "url")});
    print_table({"NAME", "STATUS", "INSTANCES", "GEN", "SCALE", "CONCURRENCY", "ISOLATION", "URL"},
                rows);
    return 0;
}

int cmd_status(const Global& g, const std::string& name) {
    Client c(g);
    auto s = c.call("GET", "/v1/services/" + name);
    auto inst = c.call("GET", "/v1/services/" + name + "/instances");
    const json& instances = list(inst, "instances");
    if (g.output == "json") {
        s["instance_list"] = instances;
        std::printf("%s\n", s.dump(2).c_str());
        return 0;
    }
    std::printf("name:         %s\n", str(s, "name").c_str());
    std::printf("status:       %s%s\n", str(s, "status").c_str(),
                s.contains("error") ? (" (" + str(s, "error") + ")").c_str() : "");
    std::printf("url:          %s\n", str(s, "url").c_str());
    std::printf("generation:   %s\n", str(s, "generation").c_str());
    const bool container = s.contains("image_type") && str(s, "image_type") == "container";
    std::printf("image:        %s (%s, port %s)\n", str(s, "image").substr(0, 12).c_str(),
                container ? "container image" : ("/bin/" + str(s, "program")).c_str(),
                str(s, "port").c_str());
    std::printf("memory:       %sM\n", str(s, "memory_mb").c_str());
    std::printf("scale:        min %s, max %s, concurrency %s, isolation %s",
                str(s, "min_instances").c_str(), str(s, "max_instances").c_str(),
                str(s, "concurrency").c_str(), str(s, "isolation").c_str());
    if (s.contains("spare_instances") && u64(s, "spare_instances") > 0)
        std::printf(", %s spare", str(s, "spare_instances").c_str());
    if (s.contains("scale_to_zero") && str(s, "scale_to_zero") == "stateful")
        std::printf(", scale to zero stateful");
    std::printf("\n");
    std::printf("timeouts:     idle %s, request %s, queue %s (max %s waiting)\n",
                ember::format_duration_ms(u64(s, "idle_timeout_ms")).c_str(),
                ember::format_duration_ms(u64(s, "timeout_ms")).c_str(),
                ember::format_duration_ms(u64(s, "queue_timeout_ms")).c_str(),
                str(s, "queue_size").c_str());
    if (s.contains("snapshot")) std::printf("snapshot:     %s\n", str(s, "snapshot").c_str());
    // A cluster node lists every node's instances, each with its "node".
    std::map<std::string, int> per_node;
    for (const auto& i : instances)
        if (i.contains("node") && str(i, "state") != "suspended") ++per_node[str(i, "node")];
    if (per_node.empty()) {
        std::printf("instances:    %s running, %s queued requests", str(s, "instances").c_str(),
                    str(s, "queued").c_str());
    } else {
        int total = 0;
        std::string by;
        for (const auto& [node, n] : per_node) {
            total += n;
            by += (by.empty() ? "" : ", ") + node + " " + std::to_string(n);
        }
        std::printf("instances:    %d running (%s), %s queued requests here", total, by.c_str(),
                    str(s, "queued").c_str());
    }
    if (s.contains("suspended") && u64(s, "suspended") > 0)
        std::printf(", %s suspended (%s on disk)", str(s, "suspended").c_str(),
                    ember::format_size(u64(s, "suspended_bytes")).c_str());
    std::printf("\n");
    if (!instances.empty()) {
        std::printf("\n");
        std::vector<std::vector<std::string>> rows;
        for (const auto& i : instances) {
            const uint64_t priv = u64(i, "private_memory_bytes");
            const uint64_t disk = i.contains("disk_bytes") ? u64(i, "disk_bytes") : 0;
            // A suspended instance has no VM: its size is on disk.
            const bool suspended = str(i, "state") == "suspended";
            rows.push_back(std::vector<std::string>{});
            if (!per_node.empty()) rows.back().push_back(i.contains("node") ? str(i, "node") : "-");
            const std::vector<std::string> cells = {
                str(i, "id"),
                str(i, "state"),
                str(i, "generation"),
                str(i, "active_requests"),
                str(i, "requests_served"),
                suspended ? "-" : fmt_secs(num(i, "age_s")),
                suspended ? "-" : fmt_ms(num(i, "restore_ms")),
                suspended ? "-" : ember::format_size(u64(i, "memory_bytes")),
                priv ? ember::format_size(priv) : "-",
                disk ? ember::format_size(disk) : "-"};
            rows.back().insert(rows.back().end(), cells.begin(), cells.end());
        }
        std::vector<std::string> head = {"INSTANCE", "STATE",   "GEN",    "ACTIVE",  "SERVED",
                                         "AGE",      "RESTORE", "MEMORY", "PRIVATE", "DISK"};
        if (!per_node.empty()) head.insert(head.begin(), "NODE");
        print_table(head, rows);
    }
    return 0;
}

int cmd_logs(const Global& g, const std::string& name, bool follow, const std::string& instance,
             unsigned tail) {
    Client c(g);
    std::string target = "/v1/services/" + name + "/logs?tail=" + std::to_string(tail);
    if (!instance.empty()) target += "&instance=" + instance;
    if (!follow) {
        if (g.output == "json") target += "&format=json";
        auto r = request(c.endpoint(), "GET", target, c.token(), "", "");
        if (r.status >= 400) throw_failure(api_error(r));
        std::fwrite(r.body.data(), 1, r.body.size(), stdout);
        return 0;
    }
    target += "&follow=true";
    stream_get(c.endpoint(), target, c.token(), [](const char* p, size_t n) {
        std::fwrite(p, 1, n, stdout);
        std::fflush(stdout);
    });
    return 0;
}

int cmd_invoke(const Global& g, InvokeOptions& o) {
    Client c(g);
    auto info = c.call("GET", "/v1/info");
    const Endpoint gw = parse_url("http://" + str(info, "gateway"));
    std::vector<std::pair<std::string, std::string>> extra;
    for (const auto& h : o.headers) {
        const auto colon = h.find(':');
        if (colon == std::string::npos)
            throw_failure("-H: expected 'Name: value', got '" + h + "'", kExitUsage);
        std::string v = h.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.erase(0, 1);
        extra.emplace_back(h.substr(0, colon), v);
    }
    if (o.path.empty() || o.path[0] != '/') o.path = "/" + o.path;
    auto r =
        request(gw, o.method, o.path, "", o.data, o.data.empty() ? "" : "application/octet-stream",
                o.name + "." + str(info, "domain") + ":" + gw.port, extra);
    if (o.verbose) {
        std::fprintf(stderr, "HTTP %u\n", r.status);
        for (const auto& [k, v] : r.headers) std::fprintf(stderr, "%s: %s\n", k.c_str(), v.c_str());
        std::fprintf(stderr, "\n");
    }
    std::fwrite(r.body.data(), 1, r.body.size(), stdout);
    std::fflush(stdout);
    if (r.status >= 400)
        throw_failure("invoke " + o.name + ": HTTP " + std::to_string(r.status) + ": " +
                      api_error(r));
    return 0;
}

int cmd_scale(const Global& g, const ScaleOptions& o) {
    json patch = json::object();
    if (o.min) patch["min_instances"] = *o.min;
    if (o.max) patch["max_instances"] = *o.max;
    if (o.concurrency) patch["concurrency"] = *o.concurrency;
    if (o.spare) patch["spare_instances"] = *o.spare;
    if (!o.idle_timeout.empty())
        patch["idle_timeout_ms"] = duration_ms(o.idle_timeout, "--idle-timeout");
    if (!o.timeout.empty()) patch["timeout_ms"] = duration_ms(o.timeout, "--timeout");
    if (!o.scale_to_zero.empty()) patch["scale_to_zero"] = o.scale_to_zero;
    if (patch.empty())
        throw_failure(
            "scale: give at least one of --min, --max, --concurrency, --spare, --idle-timeout, "
            "--timeout, --scale-to-zero",
            kExitUsage);
    Client c(g);
    auto s = c.call("PATCH", "/v1/services/" + o.name, patch.dump());
    if (g.output == "json")
        std::printf("%s\n", s.dump(2).c_str());
    else
        std::printf("%s: min %s, max %s, concurrency %s\n", o.name.c_str(),
                    str(s, "min_instances").c_str(), str(s, "max_instances").c_str(),
                    str(s, "concurrency").c_str());
    return 0;
}

int cmd_rm(const Global& g, const std::string& name) {
    Client c(g);
    c.call("DELETE", "/v1/services/" + name);
    if (g.output != "json") std::printf("removed %s\n", name.c_str());
    return 0;
}

}  // namespace ember::cli
