// ember: the command-line client of emberd's control API.
//
//   ember deploy ./server --name hello --port 8080 [--file SRC:DST]... [--env K=V]...
//   ember ls | status NAME | logs NAME [-f] | invoke NAME [PATH] | scale NAME --min/--max | rm NAME
//
// Tables by default, -o json for the API's JSON. Errors are one line on
// stderr ("ember: ...") and a non-zero exit status.
#include <sys/stat.h>

#include <utility>

#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "platform/units.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

struct Failure {
    int code;
    std::string message;
};

[[noreturn]] void fail(const std::string& msg, int code = kExitError) { throw Failure{code, msg}; }

struct Global {
    std::string api = "http://127.0.0.1:8081";
    std::string token;
    std::string data_dir;
    std::string output = "table";
};

struct Endpoint {
    std::string host, port;
};

Endpoint parse_url(const std::string& url) {
    std::string rest = url;
    if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
    else if (rest.find("://") != std::string::npos) fail("--api: only http:// URLs are supported, got '" + url + "'", kExitUsage);
    if (const auto slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos || colon == 0) return {rest.empty() ? "127.0.0.1" : rest, "80"};
    return {rest.substr(0, colon), rest.substr(colon + 1)};
}

std::string read_token(const Global& g) {
    if (!g.token.empty()) return g.token;
    if (const char* t = std::getenv("EMBER_TOKEN"); t && *t) return t;
    std::string dir = g.data_dir;
    if (dir.empty()) {
        const char* d = std::getenv("EMBER_DATA_DIR");
        dir = d && *d ? d : "./var/ember";
    }
    std::ifstream f(dir + "/token");
    std::string tok;
    if (!f || !std::getline(f, tok) || tok.empty())
        fail("no API token: pass --token, set EMBER_TOKEN, or point --data-dir (EMBER_DATA_DIR) at emberd's data "
             "directory (tried " + dir + "/token)");
    return tok;
}

struct HttpResult {
    unsigned status = 0;
    std::string body;
    http::fields headers;
};

// One request on a fresh connection. Connection errors end the program.
HttpResult request(const Endpoint& ep, http::verb method, const std::string& target, const std::string& token,
                   const std::string& body, const std::string& content_type, const std::string& host_header = "",
                   const std::vector<std::pair<std::string, std::string>>& extra = {}) {
    asio::io_context io;
    beast::tcp_stream stream(io);
    beast::error_code ec;
    tcp::resolver resolver(io);
    auto results = resolver.resolve(ep.host, ep.port, ec);
    if (ec) fail("cannot resolve " + ep.host + ": " + ec.message());
    stream.connect(results, ec);
    if (ec) fail("cannot connect to " + ep.host + ":" + ep.port + ": " + ec.message() + " (is emberd running?)");
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, host_header.empty() ? ep.host + ":" + ep.port : host_header);
    req.set(http::field::user_agent, "ember-cli");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    for (const auto& [k, v] : extra) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req, ec);
    if (ec) fail("sending the request: " + ec.message());
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1ull << 30);
    if (method == http::verb::head) parser.skip(true);
    http::read(stream, buf, parser, ec);
    if (ec) fail("reading the response: " + ec.message());
    HttpResult r;
    r.status = parser.get().result_int();
    r.body = std::move(parser.get().body());
    r.headers = parser.get().base();
    return r;
}

// The API's error message, or the status.
std::string api_error(const HttpResult& r) {
    auto j = json::parse(r.body, nullptr, false);
    if (!j.is_discarded() && j.contains("error") && j["error"].contains("message"))
        return j["error"]["message"].get<std::string>();
    return "HTTP " + std::to_string(r.status);
}

class Client {
public:
    explicit Client(const Global& g) : g_(g), ep_(parse_url(g.api)), token_(read_token(g)) {}

    json call(http::verb method, const std::string& target, const std::string& body = "",
              const std::string& content_type = "application/json") {
        auto r = request(ep_, method, target, token_, body, body.empty() ? "" : content_type);
        if (r.status >= 400) {
            // Deploy failures carry the program's output after the first line.
            const std::string msg = api_error(r);
            const auto nl = msg.find('\n');
            if (nl == std::string::npos) fail(msg);
            std::fprintf(stderr, "ember: %s\n", msg.substr(0, nl).c_str());
            std::string rest = msg.substr(nl + 1);
            size_t i = 0;
            while (i < rest.size()) {
                size_t j = rest.find('\n', i);
                if (j == std::string::npos) j = rest.size();
                std::fprintf(stderr, "  | %s\n", rest.substr(i, j - i).c_str());
                i = j + 1;
            }
            throw Failure{kExitError, ""};
        }
        if (r.body.empty()) return json::object();
        auto j = json::parse(r.body, nullptr, false);
        if (j.is_discarded()) fail("the API answered with something that is not JSON");
        return j;
    }
    const Endpoint& endpoint() const { return ep_; }
    const std::string& token() const { return token_; }

private:
    const Global& g_;
    Endpoint ep_;
    std::string token_;
};

std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail("cannot read " + path + ": " + std::strerror(errno));
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void print_table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows) {
    std::vector<size_t> w(head.size());
    for (size_t i = 0; i < head.size(); ++i) w[i] = head[i].size();
    for (const auto& r : rows)
        for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
    auto line = [&](const std::vector<std::string>& r) {
        std::string s;
        for (size_t i = 0; i < r.size(); ++i) {
            s += r[i];
            if (i + 1 < r.size()) s += std::string(w[i] - r[i].size() + 2, ' ');
        }
        std::printf("%s\n", s.c_str());
    };
    line(head);
    for (const auto& r : rows) line(r);
}

std::string str(const json& j, const char* key) {
    if (!j.contains(key)) return "";
    const auto& v = j[key];
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
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
    auto v = ember::platform::parse_duration_ms(s);
    if (!v) fail(std::string(flag) + ": not a duration: '" + s + "' (e.g. 500ms, 1s, 2m)", kExitUsage);
    return *v;
}

struct DeployOptions {
    std::string program, name, memory = "64M", isolation, idle_timeout, timeout, queue_timeout;
    int port = 8080;
    std::vector<std::string> files, env, egress, args;
    std::optional<unsigned> min, max, concurrency, queue, spare;
};

int cmd_deploy(const Global& g, DeployOptions& o) {
    Client c(g);
    if (o.name.empty()) {
        const auto slash = o.program.find_last_of('/');
        o.name = slash == std::string::npos ? o.program : o.program.substr(slash + 1);
    }
    const auto bytes = read_file(o.program);
    auto upload = [&](const std::vector<uint8_t>& data) {
        auto j = c.call(http::verb::post, "/v1/images", std::string(data.begin(), data.end()), "application/octet-stream");
        return j["sha256"].get<std::string>();
    };
    json spec;
    spec["image"] = upload(bytes);
    const auto slash = o.program.find_last_of('/');
    spec["program"] = slash == std::string::npos ? o.program : o.program.substr(slash + 1);
    spec["port"] = o.port;
    spec["args"] = o.args;
    spec["env"] = o.env;
    spec["egress"] = o.egress;
    json files = json::array();
    for (const auto& f : o.files) {
        const auto colon = f.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == f.size())
            fail("--file: expected SRC:DST, got '" + f + "'", kExitUsage);
        const std::string src = f.substr(0, colon), dst = f.substr(colon + 1);
        struct stat st;
        const unsigned mode = ::stat(src.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
        files.push_back({{"path", dst}, {"image", upload(read_file(src))}, {"mode", mode}});
    }
    spec["files"] = files;
    auto mem = ember::platform::parse_size(o.memory);
    if (!mem || *mem < (1ull << 20)) fail("--memory: not a size: '" + o.memory + "' (e.g. 64M)", kExitUsage);
    spec["memory_mb"] = (*mem + (1ull << 20) - 1) >> 20;
    if (o.min) spec["min_instances"] = *o.min;
    if (o.max) spec["max_instances"] = *o.max;
    if (o.concurrency) spec["concurrency"] = *o.concurrency;
    if (o.queue) spec["queue_size"] = *o.queue;
    if (o.spare) spec["spare_instances"] = *o.spare;
    if (!o.isolation.empty()) spec["isolation"] = o.isolation;
    if (!o.idle_timeout.empty()) spec["idle_timeout_ms"] = duration_ms(o.idle_timeout, "--idle-timeout");
    if (!o.timeout.empty()) spec["timeout_ms"] = duration_ms(o.timeout, "--timeout");
    if (!o.queue_timeout.empty()) spec["queue_timeout_ms"] = duration_ms(o.queue_timeout, "--queue-timeout");
    const auto t0 = std::chrono::steady_clock::now();
    auto svc = c.call(http::verb::put, "/v1/services/" + o.name, spec.dump());
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (g.output == "json") {
        std::printf("%s\n", svc.dump(2).c_str());
        return 0;
    }
    std::printf("deployed %s (generation %s) in %s: %s\n", o.name.c_str(), str(svc, "generation").c_str(),
                fmt_ms(ms).c_str(), str(svc, "url").c_str());
    return 0;
}

int cmd_ls(const Global& g) {
    Client c(g);
    auto j = c.call(http::verb::get, "/v1/services");
    if (g.output == "json") {
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : j["services"])
        rows.push_back({str(s, "name"), str(s, "status"), str(s, "instances"), str(s, "generation"),
                        str(s, "min_instances") + "-" + str(s, "max_instances"), str(s, "concurrency"),
                        str(s, "isolation"), str(s, "url")});
    print_table({"NAME", "STATUS", "INSTANCES", "GEN", "SCALE", "CONCURRENCY", "ISOLATION", "URL"}, rows);
    return 0;
}

int cmd_status(const Global& g, const std::string& name) {
    Client c(g);
    auto s = c.call(http::verb::get, "/v1/services/" + name);
    auto inst = c.call(http::verb::get, "/v1/services/" + name + "/instances");
    if (g.output == "json") {
        s["instance_list"] = inst["instances"];
        std::printf("%s\n", s.dump(2).c_str());
        return 0;
    }
    std::printf("name:         %s\n", str(s, "name").c_str());
    std::printf("status:       %s%s\n", str(s, "status").c_str(),
                s.contains("error") ? (" (" + str(s, "error") + ")").c_str() : "");
    std::printf("url:          %s\n", str(s, "url").c_str());
    std::printf("generation:   %s\n", str(s, "generation").c_str());
    std::printf("image:        %s (/bin/%s, port %s)\n", str(s, "image").substr(0, 12).c_str(),
                str(s, "program").c_str(), str(s, "port").c_str());
    std::printf("memory:       %sM\n", str(s, "memory_mb").c_str());
    std::printf("scale:        min %s, max %s, concurrency %s, isolation %s", str(s, "min_instances").c_str(),
                str(s, "max_instances").c_str(), str(s, "concurrency").c_str(), str(s, "isolation").c_str());
    if (s.value("spare_instances", 0) > 0) std::printf(", %s spare", str(s, "spare_instances").c_str());
    std::printf("\n");
    std::printf("timeouts:     idle %s, request %s, queue %s (max %s waiting)\n",
                ember::platform::format_duration_ms(s["idle_timeout_ms"].get<uint64_t>()).c_str(),
                ember::platform::format_duration_ms(s["timeout_ms"].get<uint64_t>()).c_str(),
                ember::platform::format_duration_ms(s["queue_timeout_ms"].get<uint64_t>()).c_str(),
                str(s, "queue_size").c_str());
    if (s.contains("snapshot")) std::printf("snapshot:     %s\n", str(s, "snapshot").c_str());
    std::printf("instances:    %s running, %s queued requests\n", str(s, "instances").c_str(), str(s, "queued").c_str());
    if (!inst["instances"].empty()) {
        std::printf("\n");
        std::vector<std::vector<std::string>> rows;
        for (const auto& i : inst["instances"])
            rows.push_back({str(i, "id"), str(i, "state"), str(i, "generation"), str(i, "active_requests"),
                            str(i, "requests_served"), fmt_secs(i["age_s"].get<double>()),
                            fmt_ms(i["restore_ms"].get<double>()),
                            ember::platform::format_size(i["memory_bytes"].get<uint64_t>()),
                            i["private_memory_bytes"].get<uint64_t>()
                                ? ember::platform::format_size(i["private_memory_bytes"].get<uint64_t>())
                                : "-"});
        print_table({"INSTANCE", "STATE", "GEN", "ACTIVE", "SERVED", "AGE", "RESTORE", "MEMORY", "PRIVATE"}, rows);
    }
    return 0;
}

int cmd_logs(const Global& g, const std::string& name, bool follow, const std::string& instance, unsigned tail) {
    Client c(g);
    std::string target = "/v1/services/" + name + "/logs?tail=" + std::to_string(tail);
    if (!instance.empty()) target += "&instance=" + instance;
    if (!follow) {
        if (g.output == "json") target += "&format=json";
        auto r = request(c.endpoint(), http::verb::get, target, c.token(), "", "");
        if (r.status >= 400) fail(api_error(r));
        std::fwrite(r.body.data(), 1, r.body.size(), stdout);
        return 0;
    }
    target += "&follow=true";
    asio::io_context io;
    beast::tcp_stream stream(io);
    beast::error_code ec;
    tcp::resolver resolver(io);
    auto results = resolver.resolve(c.endpoint().host, c.endpoint().port, ec);
    if (!ec) stream.connect(results, ec);
    if (ec) fail("cannot connect to the API: " + ec.message());
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, c.endpoint().host);
    req.set(http::field::authorization, "Bearer " + c.token());
    http::write(stream, req, ec);
    beast::flat_buffer buf;
    http::response_parser<http::buffer_body> p;
    p.body_limit(boost::none);
    http::read_header(stream, buf, p, ec);
    if (ec) fail("reading the log stream: " + ec.message());
    if (p.get().result_int() >= 400) fail("HTTP " + std::to_string(p.get().result_int()));
    char out[8192];
    while (!p.is_done()) {
        p.get().body().data = out;
        p.get().body().size = sizeof out;
        http::read(stream, buf, p, ec);
        if (ec == http::error::need_buffer) ec = {};
        if (ec) break;
        std::fwrite(out, 1, sizeof out - p.get().body().size, stdout);
        std::fflush(stdout);
    }
    return 0;
}

struct InvokeOptions {
    std::string name, path = "/", method = "GET", data;
    std::vector<std::string> headers;
    bool verbose = false;
};

int cmd_invoke(const Global& g, InvokeOptions& o) {
    Client c(g);
    auto info = c.call(http::verb::get, "/v1/info");
    const Endpoint gw = parse_url("http://" + str(info, "gateway"));
    std::vector<std::pair<std::string, std::string>> extra;
    for (const auto& h : o.headers) {
        const auto colon = h.find(':');
        if (colon == std::string::npos) fail("-H: expected 'Name: value', got '" + h + "'", kExitUsage);
        std::string v = h.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.erase(0, 1);
        extra.emplace_back(h.substr(0, colon), v);
    }
    if (o.path.empty() || o.path[0] != '/') o.path = "/" + o.path;
    const auto verb = http::string_to_verb(o.method);
    if (verb == http::verb::unknown) fail("-X: unknown method '" + o.method + "'", kExitUsage);
    auto r = request(gw, verb, o.path, "", o.data, o.data.empty() ? "" : "application/octet-stream",
                     o.name + "." + str(info, "domain") + ":" + gw.port, extra);
    if (o.verbose) {
        std::fprintf(stderr, "HTTP %u\n", r.status);
        for (const auto& f : r.headers)
            std::fprintf(stderr, "%s: %s\n", std::string(f.name_string()).c_str(), std::string(f.value()).c_str());
        std::fprintf(stderr, "\n");
    }
    std::fwrite(r.body.data(), 1, r.body.size(), stdout);
    std::fflush(stdout);
    if (r.status >= 400) fail("invoke " + o.name + ": HTTP " + std::to_string(r.status) + ": " + api_error(r));
    return 0;
}

struct ScaleOptions {
    std::string name, idle_timeout, timeout;
    std::optional<unsigned> min, max, concurrency, spare;
};

int cmd_scale(const Global& g, const ScaleOptions& o) {
    json patch = json::object();
    if (o.min) patch["min_instances"] = *o.min;
    if (o.max) patch["max_instances"] = *o.max;
    if (o.concurrency) patch["concurrency"] = *o.concurrency;
    if (o.spare) patch["spare_instances"] = *o.spare;
    if (!o.idle_timeout.empty()) patch["idle_timeout_ms"] = duration_ms(o.idle_timeout, "--idle-timeout");
    if (!o.timeout.empty()) patch["timeout_ms"] = duration_ms(o.timeout, "--timeout");
    if (patch.empty())
        fail("scale: give at least one of --min, --max, --concurrency, --spare, --idle-timeout, --timeout", kExitUsage);
    Client c(g);
    auto s = c.call(http::verb::patch, "/v1/services/" + o.name, patch.dump());
    if (g.output == "json") std::printf("%s\n", s.dump(2).c_str());
    else std::printf("%s: min %s, max %s, concurrency %s\n", o.name.c_str(), str(s, "min_instances").c_str(),
                     str(s, "max_instances").c_str(), str(s, "concurrency").c_str());
    return 0;
}

int cmd_rm(const Global& g, const std::string& name) {
    Client c(g);
    c.call(http::verb::delete_, "/v1/services/" + name);
    if (g.output != "json") std::printf("removed %s\n", name.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"ember: deploy and run services on emberd"};
    app.set_version_flag("--version", std::string("ember ") + EMBER_VERSION);
    app.require_subcommand(1);
    app.fallthrough();  // global options may follow the subcommand: ember ls -o json
    Global g;
    if (const char* a = std::getenv("EMBER_API"); a && *a) g.api = a;
    app.add_option("--api", g.api, "emberd's API URL (default http://127.0.0.1:8081, or $EMBER_API)");
    app.add_option("--token", g.token, "API token (default $EMBER_TOKEN, else DATA_DIR/token)");
    app.add_option("--data-dir", g.data_dir, "emberd's data directory, for the token (default $EMBER_DATA_DIR or ./var/ember)");
    app.add_option("-o,--output", g.output, "table or json")->check(CLI::IsMember({"table", "json"}));

    DeployOptions d;
    auto* deploy = app.add_subcommand("deploy", "Upload a static Linux server and deploy it as a service: "
                                                "ember deploy PROGRAM [options] [-- ARGS...]");
    deploy->add_option("program", d.program, "The static x86-64 Linux executable")->required();
    deploy->add_option("--name", d.name, "Service name (default: the program's file name)");
    deploy->add_option("--port", d.port, "The port the program listens on (default 8080)");
    deploy->add_option("--file", d.files, "Add a file: SRC:DST (repeatable)")->allow_extra_args(false);
    deploy->add_option("--env", d.env, "Environment variable K=V (repeatable)")->allow_extra_args(false);
    deploy->add_option("--allow-egress", d.egress, "Let the program connect() to HOST:PORT (repeatable)")->allow_extra_args(false);
    deploy->add_option("--memory", d.memory, "Guest memory (default 64M)");
    deploy->add_option("--min", d.min, "Instances kept warm (default 0)");
    deploy->add_option("--max", d.max, "Most instances (default 16)");
    deploy->add_option("--concurrency", d.concurrency, "Requests one instance serves at once (default 8)");
    deploy->add_option("--idle-timeout", d.idle_timeout, "Stop an instance idle this long (default 1s)");
    deploy->add_option("--timeout", d.timeout, "Request timeout, queueing included (default 30s)");
    deploy->add_option("--queue", d.queue, "Requests that may wait when all instances are busy (default 64)");
    deploy->add_option("--queue-timeout", d.queue_timeout, "Longest wait in the queue (default 10s)");
    deploy->add_option("--isolation", d.isolation, "instance (default) or request (a fresh instance per request)")
        ->check(CLI::IsMember({"instance", "request"}));
    deploy->add_option("--spare", d.spare,
                       "With --isolation request: fresh instances restored ahead of requests (default 0)");
    deploy->add_option("args", d.args, "Arguments for the program (after --)");

    auto* ls = app.add_subcommand("ls", "List services");
    std::string name;
    auto* status = app.add_subcommand("status", "Show a service and its instances");
    status->add_option("name", name, "Service")->required();
    bool follow = false;
    std::string instance;
    unsigned tail = 200;
    auto* logs = app.add_subcommand("logs", "Console output of a service's instances");
    logs->add_option("name", name, "Service")->required();
    logs->add_flag("-f,--follow", follow, "Keep printing new lines");
    logs->add_option("--instance", instance, "Only this instance (e.g. i-3)");
    logs->add_option("--tail", tail, "Lines of history (default 200)");
    InvokeOptions inv;
    auto* invoke = app.add_subcommand("invoke", "Send one HTTP request to a service through the gateway");
    invoke->add_option("name", inv.name, "Service")->required();
    invoke->add_option("path", inv.path, "Path (default /)");
    invoke->add_option("-X,--method", inv.method, "Method (default GET)");
    invoke->add_option("-d,--data", inv.data, "Request body");
    invoke->add_option("-H,--header", inv.headers, "Header 'Name: value' (repeatable)")->allow_extra_args(false);
    invoke->add_flag("-v,--verbose", inv.verbose, "Print the status and headers on stderr");
    ScaleOptions sc;
    auto* scale = app.add_subcommand("scale", "Change a service's scaling without redeploying");
    scale->add_option("name", sc.name, "Service")->required();
    scale->add_option("--min", sc.min, "Instances kept warm");
    scale->add_option("--max", sc.max, "Most instances");
    scale->add_option("--concurrency", sc.concurrency, "Requests per instance");
    scale->add_option("--spare", sc.spare, "Spare fresh instances (isolation request)");
    scale->add_option("--idle-timeout", sc.idle_timeout, "Stop instances idle this long");
    scale->add_option("--timeout", sc.timeout, "Request timeout");
    auto* rm = app.add_subcommand("rm", "Delete a service and stop its instances");
    rm->add_option("name", name, "Service")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);
        std::fprintf(stderr, "ember: %s (see ember --help)\n", e.what());
        return kExitUsage;
    }
    try {
        if (deploy->parsed()) return cmd_deploy(g, d);
        if (ls->parsed()) return cmd_ls(g);
        if (status->parsed()) return cmd_status(g, name);
        if (logs->parsed()) return cmd_logs(g, name, follow, instance, tail);
        if (invoke->parsed()) return cmd_invoke(g, inv);
        if (scale->parsed()) return cmd_scale(g, sc);
        if (rm->parsed()) return cmd_rm(g, name);
    } catch (const Failure& f) {
        if (!f.message.empty()) std::fprintf(stderr, "ember: %s\n", f.message.c_str());
        return f.code;
    }
    return kExitUsage;
}
