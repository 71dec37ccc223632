// emberd: the Ember node daemon. Options, signals, start-up banner; the
// parts are wired in daemon.cpp.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "common/units.h"
#include "platform/child_process.h"
#include "platform/cluster/etcd_client.h"
#include "platform/daemon.h"
#include "platform/gateway_process.h"
#include "platform/service_spec.h"
#include "platform/worker_main.h"

namespace {

using ember::platform::DaemonOptions;
using ember::platform::GatewayOptions;

// ADDR:PORT ("[v6]:PORT" too): "" and the parts, or what is wrong. Strict,
// so that a typo (8080abc, 80800, a missing host) is not silently some other
// address.
std::string parse_addr(const std::string& s, std::string* addr, uint16_t* port) {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos) return "missing ':PORT'";
    std::string a = s.substr(0, colon);
    if (a.size() >= 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
    if (a.empty()) return "empty host";
    const std::string p = s.substr(colon + 1);
    if (p.empty() || p.size() > 5 ||
        !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoul(p) > 65535)
        return "the port must be a number from 0 to 65535";
    *addr = a;
    *port = static_cast<uint16_t>(std::stoul(p));
    return "";
}

// "UID" or "UID:GID" (GID defaults to UID): "" or what is wrong. Root (0)
// is refused: the point is that the workers are not root.
std::string parse_user(const std::string& s, uint32_t* uid, uint32_t* gid) {
    auto num = [](const std::string& t, uint32_t* out) {
        if (t.empty() || t.size() > 9 ||
            !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return false;
        *out = static_cast<uint32_t>(std::stoul(t));
        return *out != 0;
    };
    const auto colon = s.find(':');
    if (!num(s.substr(0, colon), uid))
        return "expected UID[:GID] (numbers, not 0), got '" + s + "'";
    *gid = *uid;
    if (colon != std::string::npos && !num(s.substr(colon + 1), gid))
        return "expected UID[:GID] (numbers, not 0), got '" + s + "'";
    return "";
}

int usage_error(const std::string& msg) {
    std::fprintf(stderr, "emberd: %s\n", msg.c_str());
    return 2;
}

// The whole of a small file (a PEM certificate or key): "" and the text, or
// what is wrong.
std::string read_small_file(const std::string& path, std::string* out) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return "cannot read " + path + ": " + std::strerror(errno);
    char buf[4096];
    size_t n;
    out->clear();
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && out->size() <= (1u << 20))
        out->append(buf, n);
    std::fclose(f);
    if (out->size() > (1u << 20)) return path + ": larger than 1 MiB";
    if (out->empty()) return path + ": empty";
    return "";
}

void raise_fd_limit() {
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

}  // namespace

int main(int argc, char** argv) {
    // emberd's helper processes are emberd re-executed with a role.
    if (auto role = ember::platform::child_role(argc, argv)) {
        if (role->role == ember::platform::kGatewayRole)
            return ember::platform::run_gateway_process(*role);
        if (role->role == "worker") return ember::platform::run_worker(*role);
        std::fprintf(stderr, "emberd: unknown role '%s'\n", role->role.c_str());
        return 2;
    }
    CLI::App app{"emberd: the Ember node daemon (gateway, instance manager, control API)"};
    app.set_version_flag("--version", std::string("emberd ") + EMBER_VERSION);
    DaemonOptions o;
    std::string gateway = "127.0.0.1:8080", api = "127.0.0.1:8081";
    std::string prepare_timeout = "10s", client_timeout = "10s", keepalive = "30s";
    std::string max_image = "256M", max_body = "10M", max_header = "16K", max_response = "64M";
    std::string log_level = "info";
    std::string worker_memory = "max";
    app.add_option("--data-dir", o.data_dir,
                   "State, images and snapshot cache (default ./var/ember)");
    app.add_option("--gateway", gateway,
                   "Gateway listen address ADDR:PORT (default 127.0.0.1:8080)");
    app.add_option("--api", api, "Control API listen address ADDR:PORT (default 127.0.0.1:8081)");
    std::vector<std::string> tls_certs, tls_keys;
    std::string https = "127.0.0.1:8443";
    app.add_option("--tls-cert", tls_certs,
                   "PEM certificate chain for HTTPS at the gateway; repeat it for one certificate "
                   "per domain (chosen by SNI, the first is the default)");
    app.add_option("--tls-key", tls_keys,
                   "PEM private key of the --tls-cert in the same position (read by emberd only)");
    app.add_option("--https", https,
                   "HTTPS listen address ADDR:PORT, with --tls-cert (default 127.0.0.1:8443)");
    app.add_flag("--https-redirect", o.gateway.tls_redirect,
                 "The --gateway address answers every request with a redirect (308) to HTTPS");
    app.add_option("--domain", o.gateway.domain,
                   "Services answer at <name>.<domain> (default localhost)");
    // Half the CPUs: the rest are for the instances' vCPU threads.
    o.gateway.threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency() / 2));
    app.add_option("--gateway-threads", o.gateway.threads,
                   "Gateway I/O threads (default: half the CPUs, at least 1)");
    app.add_option("--vm-pool", o.vm_pool,
                   "KVM VMs each VM worker keeps created ahead of cold starts (default 4)");
    app.add_option(
        "--warm-vms", o.warm_vms,
        "Finished instances' VMs kept reset per service for reuse: at least N (default 4), "
        "more while the load needs them (up to 64)");
    app.add_option("--prepare-timeout", prepare_timeout,
                   "Deadline for a deploy's boot to READY (default 10s)");
    app.add_option("--client-timeout", client_timeout,
                   "Time a client has to send one request (default 10s)");
    app.add_option("--keepalive-timeout", keepalive,
                   "Idle keep-alive client connections close after (default 30s)");
    app.add_option("--max-image-size", max_image, "Largest image upload (default 256M)");
    app.add_option("--max-body", max_body,
                   "Largest request body through the gateway (default 10M)");
    app.add_option("--max-header", max_header,
                   "Largest request header block through the gateway (default 16K)");
    app.add_option("--max-response", max_response,
                   "Largest response body from an instance (default 64M)");
    app.add_option("--max-connections", o.gateway.max_connections,
                   "Gateway client connections (default 10000)");
    app.add_option("--cgroup", o.cgroup,
                   "auto (a cgroup systemd delegated to emberd), off, or a delegated cgroup "
                   "PATH for the workers' limits (default auto; docs/security.md)");
    app.add_option("--worker-memory", worker_memory,
                   "cgroup memory limit per VM worker process, or max (default max)");
    app.add_option("--worker-cpus", o.worker_limits.cpus,
                   "cgroup CPU limit per VM worker process in CPUs, 0: none (default 0)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--worker-pids", o.worker_limits.pids,
                   "cgroup limit on threads per VM worker process, 0: none (default 4096)");
    app.add_option("--vm-workers", o.vm_workers,
                   "VM worker processes started at once; services are spread over them by "
                   "name (default 1)");
    app.add_option("--vms-per-worker", o.vms_per_worker,
                   "Instances one VM worker holds at most; more workers are started for more "
                   "(default 500)");
    app.add_option("--max-vm-workers", o.max_vm_workers,
                   "VM worker processes at most, with those started for --vms-per-worker "
                   "(default 64)");
    std::string worker_user = "65534";
    app.add_option("--worker-user", worker_user,
                   "UID[:GID] the VM workers run as when emberd runs as root (default 65534)");
    std::string worker_timeout = "5s";
    app.add_option("--worker-timeout", worker_timeout,
                   "A VM worker that does not answer emberd's heartbeat for this long is killed "
                   "and replaced (default 5s)");
    std::string worker_idle = "30s";
    app.add_option("--worker-idle-timeout", worker_idle,
                   "A VM worker started for --vms-per-worker (beyond the first --vm-workers) "
                   "that has held no instance for this long exits (default 30s)");
    std::string cluster_ttl = "5s";
    app.add_option("--cluster", o.cluster.etcd,
                   "Join a cluster: etcd endpoints http://HOST:PORT[,...]; the desired state "
                   "lives there (docs/cluster.md). Without it: a single node on SQLite");
    app.add_option("--node", o.cluster.node,
                   "This node's name in the cluster (default: the host name)");
    app.add_option("--advertise", o.cluster.advertise,
                   "ADDR:PORT where the other nodes reach this node's API (default: --api)");
    app.add_option("--cluster-token-file", o.cluster_token_file,
                   "The cluster token that authenticates node-to-node calls; created at first "
                   "start, copy it to every node (default <data-dir>/cluster-token)");
    app.add_option("--etcd-user", o.cluster.etcd_auth.user,
                   "Authenticate to etcd as this user (etcd's own users; docs/cluster.md)");
    app.add_option("--etcd-password-file", o.etcd_password_file,
                   "The --etcd-user's password: the first line of FILE (mode 0600)");
    app.add_option("--node-ttl", cluster_ttl,
                   "A node that misses its heartbeat this long is dead (default 5s)");
    app.add_option("--log-level", log_level, "debug, info, warn or error (default info)");
    app.add_flag("--no-sandbox{false}", o.sandbox,
                 "Run the gateway and worker processes without their sandbox (debugging)");
    // Every option above may also come from a file (the package's unit passes
    // /etc/ember/emberd.conf): "name = value" lines, the long option names
    // without "--"; the command line wins. An unknown key is an error, so
    // that a typo is not silently a default.
    app.set_config("--config", "",
                   "Read options from FILE: 'name = value' lines, names as the long options "
                   "above without '--' (the command line wins)");
    app.get_config_ptr()->type_name("FILE");
    app.allow_config_extras(CLI::config_extras_mode::error);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ConfigError& e) {
        const std::string file = app.get_config_ptr()->as<std::string>();
        const std::string what = e.what(), prefix = "INI was not able to parse ";
        if (what.rfind(prefix, 0) == 0)
            return usage_error("--config " + file + ": unknown option '" +
                               what.substr(prefix.size()) + "' (see emberd --help)");
        return usage_error("--config " + file + ": " + what);
    } catch (const CLI::FileError& e) {
        return usage_error("--config: " + std::string(e.what()));
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);
        return usage_error(std::string(e.what()) + " (see emberd --help)");
    }
    auto address = [](const char* flag, const std::string& s, std::string* addr, uint16_t* port) {
        const std::string err = parse_addr(s, addr, port);
        return err.empty() ? err
                           : std::string(flag) + ": expected ADDR:PORT, got '" + s + "': " + err;
    };
    for (const std::string& err :
         {address("--gateway", gateway, &o.gateway.addr, &o.gateway.port),
          address("--api", api, &o.api.addr, &o.api.port),
          address("--https", https, &o.gateway.tls_addr, &o.gateway.tls_port)})
        if (!err.empty()) return usage_error(err);
    // 'tls-cert = ""' in a config file is none (the packaged default).
    for (auto* v : {&tls_certs, &tls_keys})
        v->erase(std::remove(v->begin(), v->end(), std::string()), v->end());
    if (tls_certs.size() != tls_keys.size())
        return usage_error("--tls-cert and --tls-key: " + std::to_string(tls_certs.size()) +
                           " certificates but " + std::to_string(tls_keys.size()) +
                           " keys (give them in pairs)");
    if (o.gateway.tls_redirect && tls_certs.empty())
        return usage_error("--https-redirect needs --tls-cert and --tls-key");
    for (size_t i = 0; i < tls_certs.size(); ++i) {
        GatewayOptions::TlsCert c;
        for (const std::string& err :
             {read_small_file(tls_certs[i], &c.cert_pem), read_small_file(tls_keys[i], &c.key_pem)})
            if (!err.empty()) return usage_error("--tls-cert/--tls-key: " + err);
        o.gateway.tls_certs.push_back(std::move(c));
    }
    using ember::parse_duration_ms;
    using ember::parse_size;
    auto dur = [](const std::string& s, const char* name, uint64_t* out) {
        auto v = parse_duration_ms(s);
        if (!v || *v == 0)
            return std::string(name) + ": not a duration: '" + s + "' (e.g. 500ms, 10s)";
        *out = *v;
        return std::string();
    };
    auto size = [](const std::string& s, const char* name, uint64_t* out) {
        auto v = parse_size(s);
        if (!v || *v == 0) return std::string(name) + ": not a size: '" + s + "' (e.g. 16K, 10M)";
        *out = *v;
        return std::string();
    };
    for (const std::string& err :
         {dur(prepare_timeout, "--prepare-timeout", &o.prepare_timeout_ms),
          dur(client_timeout, "--client-timeout", &o.gateway.client_timeout_ms),
          dur(keepalive, "--keepalive-timeout", &o.gateway.keepalive_timeout_ms),
          dur(worker_timeout, "--worker-timeout", &o.worker_timeout_ms),
          dur(worker_idle, "--worker-idle-timeout", &o.worker_idle_ms),
          size(max_image, "--max-image-size", &o.max_image_bytes),
          size(max_body, "--max-body", &o.gateway.max_body_bytes),
          size(max_header, "--max-header", &o.gateway.max_header_bytes),
          size(max_response, "--max-response", &o.gateway.max_response_bytes)})
        if (!err.empty()) return usage_error(err);
    if (worker_memory != "max" &&
        !size(worker_memory, "--worker-memory", &o.worker_limits.memory_bytes).empty())
        return usage_error("--worker-memory: not a size: '" + worker_memory + "' (e.g. 2G, max)");
    if (std::string err = parse_user(worker_user, &o.worker_uid, &o.worker_gid); !err.empty())
        return usage_error("--worker-user: " + err);
    if (o.vm_workers < 1 || o.vm_workers > 64)
        return usage_error("--vm-workers: expected 1 to 64, got " + std::to_string(o.vm_workers));
    if (o.vms_per_worker < 1 || o.vms_per_worker > 100000)
        return usage_error("--vms-per-worker: expected 1 to 100000, got " +
                           std::to_string(o.vms_per_worker));
    if (o.max_vm_workers < 1 || o.max_vm_workers > 1024)
        return usage_error("--max-vm-workers: expected 1 to 1024, got " +
                           std::to_string(o.max_vm_workers));
    if (!o.cluster.etcd.empty()) {
        if (auto e = ember::platform::cluster::parse_endpoints(o.cluster.etcd); !e)
            return usage_error("--cluster: " + e.message());
        if (o.cluster.node.empty()) {
            char host[256] = {0};
            if (::gethostname(host, sizeof host - 1) != 0 || !host[0])
                return usage_error("--node: the host name is unknown; give a name");
            o.cluster.node = host;
        }
        if (auto st = ember::platform::validate_name(o.cluster.node); !st)
            return usage_error("--node: " + st.message());
        if (!o.cluster.advertise.empty()) {
            std::string a;
            uint16_t port = 0;
            if (std::string err = parse_addr(o.cluster.advertise, &a, &port);
                !err.empty() || port == 0)
                return usage_error("--advertise: expected ADDR:PORT, got '" + o.cluster.advertise +
                                   "'");
        }
        if (o.cluster_token_file.empty()) o.cluster_token_file = o.data_dir + "/cluster-token";
        if (o.cluster.etcd_auth.user.empty() != o.etcd_password_file.empty())
            return usage_error("--etcd-user and --etcd-password-file go together");
        uint64_t ttl_ms = 0;
        if (std::string err = dur(cluster_ttl, "--node-ttl", &ttl_ms); !err.empty())
            return usage_error(err);
        o.cluster.lease_ttl_s = static_cast<int>(std::max<uint64_t>(2, (ttl_ms + 999) / 1000));
    } else if (!o.cluster.node.empty() || !o.cluster.advertise.empty() ||
               !o.cluster.etcd_auth.user.empty() || !o.etcd_password_file.empty()) {
        return usage_error("--node, --advertise and --etcd-user need --cluster");
    }
    const auto level = spdlog::level::from_str(log_level);
    if (level == spdlog::level::off && log_level != "off")
        return usage_error("--log-level: unknown level '" + log_level + "'");
    spdlog::set_level(level);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

    // SIGINT/SIGTERM are taken by sigwait below; every thread inherits the mask.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    auto d = ember::platform::Daemon::start(o);
    if (!d) {
        spdlog::error("{}", d.message());
        return 1;
    }
    spdlog::info(
        "emberd {}: gateway http://{}:{} (services at <name>.{} or /<name>/), API http://{}:{}",
        EMBER_VERSION, o.gateway.addr, (*d)->gateway_port(), o.gateway.domain, o.api.addr,
        (*d)->api_port());
    if ((*d)->tls_port())
        spdlog::info("HTTPS https://{}:{} ({} certificate{}){}", o.gateway.tls_addr,
                     (*d)->tls_port(), o.gateway.tls_certs.size(),
                     o.gateway.tls_certs.size() == 1 ? "" : "s",
                     o.gateway.tls_redirect ? "; plain HTTP redirects to it" : "");
    spdlog::info("data in {}; API token in {}", (*d)->data_dir(), (*d)->token_path());
    int sig = 0;
    sigwait(&sigs, &sig);
    spdlog::info("{}: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    (*d)->stop();
    spdlog::info("stopped");
    return 0;
}
