#include "platform/cluster/cluster_agent.h"

#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>

#include "platform/cluster/http_call.h"
#include "platform/image_store.h"

namespace ember::platform::cluster {

using nlohmann::json;

namespace {

int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

// "host:port" ("[v6]:port") into its parts; false when malformed.
bool split_host_port(const std::string& s, std::string* host, uint16_t* port) {
    const size_t colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == s.size() ||
        s.find_first_not_of("0123456789", colon + 1) != std::string::npos || s.size() - colon > 6)
        return false;
    *host = s.substr(0, colon);
    if (host->size() >= 2 && host->front() == '[') *host = host->substr(1, host->size() - 2);
    const unsigned long p = std::stoul(s.substr(colon + 1));
    if (p == 0 || p > 65535) return false;
    *port = static_cast<uint16_t>(p);
    return true;
}

NodeInfo node_from_json(const std::string& value) {
    NodeInfo n;
    json j = json::parse(value, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return n;
    n.name = j.value("name", "");
    n.api = j.value("api", "");
    n.gateway = j.value("gateway", "");
    n.instances = j.value("instances", 0u);
    n.services = j.value("services", 0u);
    n.memory_bytes = j.value("memory_bytes", uint64_t{0});
    n.load = j.value("load", 0.0);
    n.started_at = j.value("started_at", int64_t{0});
    n.updated_at = j.value("updated_at", int64_t{0});
    return n;
}

}  // namespace

ClusterAgent::ClusterAgent(ClusterOptions opts, std::unique_ptr<EtcdClient> etcd)
    : opts_(std::move(opts)), etcd_(std::move(etcd)) {
    store_ = std::make_unique<EtcdStore>(*etcd_, opts_.prefix);
    started_at_ = unix_now();
}

ClusterAgent::~ClusterAgent() { stop(); }

Result<std::unique_ptr<ClusterAgent>> ClusterAgent::connect(const ClusterOptions& opts) {
    auto eps = parse_endpoints(opts.etcd);
    if (!eps) return eps.status();
    std::unique_ptr<ClusterAgent> a(new ClusterAgent(
        opts, std::make_unique<EtcdClient>(*eps, opts.etcd_timeout_ms, opts.etcd_auth)));
    auto changes = a->store_->load(&a->revision_);
    if (!changes)
        return Status(changes.code(),
                      "cluster: reading the desired state from etcd: " + changes.message());
    return a;
}

std::string ClusterAgent::node_record() const {
    NodeLoad l = load_ ? load_() : NodeLoad{};
    double avg[1] = {0};
    if (::getloadavg(avg, 1) != 1) avg[0] = 0;
    return json{
        {"name", opts_.node},       {"api", opts_.advertise},    {"gateway", opts_.gateway},
        {"instances", l.instances}, {"services", l.services},    {"memory_bytes", l.memory_bytes},
        {"load", avg[0]},           {"started_at", started_at_}, {"updated_at", unix_now()}}
        .dump();
}

Status ClusterAgent::register_node() {
    auto lease = etcd_->lease_grant(opts_.lease_ttl_s);
    if (!lease) return lease.status();
    const std::string rec = node_record();
    if (auto r = etcd_->put(opts_.prefix + "nodes/" + opts_.node, rec, *lease); !r)
        return r.status();
    if (auto r = etcd_->put(opts_.prefix + "members/" + opts_.node, rec); !r) return r.status();
    lease_ = *lease;
    return Status::ok();
}

Status ClusterAgent::start(const std::string& api, const std::string& gateway, Listener listener,
                           std::function<NodeLoad()> load) {
    opts_.advertise = api;
    opts_.gateway = gateway;
    listener_ = std::move(listener);
    load_ = std::move(load);
    if (auto st = register_node(); !st)
        return Status(st.code(), "cluster: registering node '" + opts_.node + "': " + st.message());
    refresh_nodes();
    spdlog::info("cluster: node {} registered (lease {:x}, TTL {} s), API for peers at {}",
                 opts_.node, lease_, opts_.lease_ttl_s, opts_.advertise);
    heartbeat_ = std::thread([this] { heartbeat_loop(); });
    watcher_ = std::thread([this] { watch_loop(); });
    return Status::ok();
}

void ClusterAgent::stop() {
    if (stopping_.exchange(true)) return;
    cv_.notify_all();
    if (heartbeat_.joinable()) heartbeat_.join();
    if (watcher_.joinable()) watcher_.join();
    if (lease_) {
        // The node's key goes now rather than at the lease's expiry.
        if (auto st = etcd_->lease_revoke(lease_); !st)
            spdlog::warn("cluster: revoking the node's lease: {}", st.message());
        lease_ = 0;
    }
}

bool ClusterAgent::sleep_for_ms(int ms) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_.load(); });
    return !stopping_.load();
}

void ClusterAgent::heartbeat_loop() {
    int tick = 0;
    while (sleep_for_ms(1000)) {
        ++tick;
        Status st = Status::ok();
        if (lease_ == 0) {
            st = register_node();
            if (st) spdlog::info("cluster: node {} registered again", opts_.node);
        } else {
            auto ttl = etcd_->lease_keepalive(lease_);
            if (!ttl) {
                st = ttl.status();
            } else if (*ttl == 0) {
                spdlog::warn("cluster: the node's lease expired; registering again");
                lease_ = 0;
                st = register_node();
            } else if (tick % 2 == 0) {
                // The record's numbers (instances, memory) every 2 s.
                auto r = etcd_->put(opts_.prefix + "nodes/" + opts_.node, node_record(), lease_);
                if (!r) st = r.status();
            }
        }
        if (!st) {
            if (etcd_up_.exchange(false))
                spdlog::warn(
                    "cluster: etcd unreachable ({}); serving what this node knows, "
                    "changes are refused",
                    st.message());
            continue;
        }
        if (!etcd_up_.exchange(true)) spdlog::info("cluster: etcd reachable again");
        refresh_nodes();
    }
}

void ClusterAgent::refresh_nodes() {
    auto live = etcd_->get_prefix(opts_.prefix + "nodes/", nullptr);
    auto members = etcd_->get_prefix(opts_.prefix + "members/", nullptr);
    if (!live || !members) return;
    std::vector<NodeInfo> out;
    for (const auto& kv : *live) {
        NodeInfo n = node_from_json(kv.value);
        n.state = "up";
        if (!n.name.empty()) out.push_back(n);
    }
    for (const auto& kv : *members) {
        NodeInfo n = node_from_json(kv.value);
        if (n.name.empty() || std::any_of(out.begin(), out.end(),
                                          [&](const NodeInfo& o) { return o.name == n.name; }))
            continue;
        n.state = "down";
        n.instances = 0;
        out.push_back(n);
    }
    std::sort(out.begin(), out.end(), [](const NodeInfo& a, const NodeInfo& b) {
        return a.state != b.state ? a.state == "up" : a.name < b.name;
    });
    if (on_nodes_) on_nodes_(out);
    std::lock_guard g(mu_);
    nodes_ = std::move(out);
}

std::vector<NodeInfo> ClusterAgent::nodes() {
    // Read now while etcd answers; the last heartbeat's read otherwise.
    if (etcd_up_.load()) refresh_nodes();
    std::lock_guard g(mu_);
    return nodes_;
}

void ClusterAgent::watch_loop() {
    bool resync = false;
    while (!stopping_.load()) {
        if (resync) {
            auto changes = store_->load(&revision_);
            if (!changes) {
                if (!sleep_for_ms(1000)) return;
                continue;
            }
            if (!changes->empty())
                spdlog::info("cluster: caught up with etcd ({} change(s))", changes->size());
            for (const auto& c : *changes) listener_(c);
            resync = false;
        }
        const Status st = etcd_->watch(
            opts_.prefix, revision_ + 1,
            [this](const std::vector<WatchEvent>& evs, int64_t) {
                for (const auto& e : evs) revision_ = std::max(revision_, e.kv.mod_revision);
                for (const auto& c : store_->apply(evs)) listener_(c);
                return !stopping_.load();
            },
            stopping_);
        if (stopping_.load()) return;
        spdlog::warn("cluster: watch ended ({}); reading the state again", st.message());
        resync = true;
        if (!sleep_for_ms(1000)) return;
    }
}

json ClusterAgent::peer_instances(const std::string& service) {
    json out = json::array();
    std::vector<NodeInfo> ns;
    {
        std::lock_guard g(mu_);
        ns = nodes_;
    }
    for (const NodeInfo& n : ns) {
        if (n.state != "up" || n.name == opts_.node) continue;
        std::string host;
        uint16_t port = 0;
        if (!split_host_port(n.api, &host, &port)) continue;
        auto r = http_call("GET", host, port, "/v1/cluster/instances/" + service, "",
                           "Bearer " + opts_.token, 1000, 4 << 20);
        if (!r || r->status != 200) continue;
        json j = json::parse(r->body, nullptr, false);
        if (j.is_discarded() || !j.contains("instances") || !j["instances"].is_array()) continue;
        for (auto& i : j["instances"]) {
            i["node"] = n.name;  // as the asking node knows it
            out.push_back(std::move(i));
        }
    }
    return out;
}

Status ClusterAgent::fetch_image(const std::string& sha256, ImageStore& images,
                                 uint64_t max_bytes) {
    Status last = Status::not_found("image " + sha256 + ": no live peer has it");
    for (const NodeInfo& n : nodes()) {
        if (n.state != "up" || n.name == opts_.node) continue;
        std::string host;
        uint16_t port = 0;
        if (!split_host_port(n.api, &host, &port)) continue;
        auto r = http_call("GET", host, port, "/v1/cluster/images/" + sha256, "",
                           "Bearer " + opts_.token, 30000, max_bytes);
        if (!r) {
            last = r.status();
            continue;
        }
        if (r->status != 200) {
            last = Status::not_found("image " + sha256 + " from node " + n.name + ": HTTP " +
                                     std::to_string(r->status));
            continue;
        }
        // The bytes must hash to the name asked for: a peer's damaged (or
        // hostile) copy is refused, and the next peer is asked.
        if (sha256_hex(r->body.data(), r->body.size()) != sha256) {
            spdlog::warn("cluster: image {} from node {} does not match its sha256; refused",
                         sha256, n.name);
            last = Status::corruption("image " + sha256 + " from node " + n.name +
                                      " does not match its sha256");
            continue;
        }
        auto put = images.put(r->body);
        if (!put) return put.status();
        spdlog::info("cluster: image {} copied from node {} ({} bytes)", sha256, n.name,
                     r->body.size());
        return Status::ok();
    }
    return last;
}

}  // namespace ember::platform::cluster
