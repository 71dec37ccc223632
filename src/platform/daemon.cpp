#include "platform/daemon.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "platform/api.h"
#include "platform/cluster/forwarder.h"
#include "platform/data_dir.h"
#include "platform/gateway_process.h"
#include "platform/image_store.h"
#include "platform/instance_manager.h"
#include "platform/log_hub.h"
#include "platform/metrics.h"
#include "platform/service_controller.h"
#include "platform/snapshot_seal.h"
#include "platform/store.h"
#include "platform/worker_client.h"
#include "vmm/vmm.h"

#ifndef EMBER_VERSION
#define EMBER_VERSION "dev"
#endif

namespace ember::platform {

// Declaration order is construction order; destruction runs backwards, so
// the servers go first and the store last.
struct Daemon::Parts {
    explicit Parts(DataDir d) : dir(std::move(d)), images(dir.images_dir()) {}
    DataDir dir;
    std::string token_path;
    // Worker processes go into cgroups->create("worker-<n>", worker_limits) when on().
    std::shared_ptr<Cgroups> cgroups;
    CgroupLimits worker_limits;
    std::unique_ptr<Store> store;                    // a single node's state
    std::unique_ptr<cluster::ClusterAgent> cluster;  // or the cluster's (--cluster)
    StateStore* state = nullptr;
    std::unique_ptr<VolumeStore> volumes;  // this node's volumes (never in etcd)
    ImageStore images;
    Metrics metrics;
    LogHub logs;
    std::unique_ptr<WorkerGuestFactory> vm_factory;
    std::unique_ptr<GuestFactory> factory;  // vm_factory, sealing its snapshots
    std::unique_ptr<InstanceManager> manager;
    std::unique_ptr<ServiceController> controller;
    // --cluster: the live nodes' split of min/max, and request forwarding.
    std::unique_ptr<cluster::Placement> placement;
    std::unique_ptr<cluster::Forwarder> forwarder;
    std::unique_ptr<Api> api;
    std::unique_ptr<GatewayHost> gateway;  // the gateway process
    std::unique_ptr<ApiServer> api_server;
    bool stopped = false;
};

Daemon::Daemon(std::unique_ptr<Parts> p) : p_(std::move(p)) {}

namespace {

// --cluster: connects to etcd with the cluster token and reads the state.
Result<std::unique_ptr<cluster::ClusterAgent>> start_cluster(const DaemonOptions& opts) {
    cluster::ClusterOptions co = opts.cluster;
    auto token = load_or_create_token(opts.cluster_token_file);
    if (!token) return Status(token.code(), "cluster token: " + token.message());
    co.token = *token;
    if (!co.etcd_auth.user.empty()) {
        auto pw = read_secret_file(opts.etcd_password_file, 1);
        if (!pw) return Status(pw.code(), "--etcd-password-file: " + pw.message());
        co.etcd_auth.password = *pw;
    }
    return cluster::ClusterAgent::connect(co);
}

// Registers the node (its addresses are known now) and applies what other
// nodes change from then on.
Status join_cluster(Daemon::Parts& p, const DaemonOptions& opts) {
    std::string api = opts.cluster.advertise;
    if (api.empty()) api = opts.api.addr + ":" + std::to_string(p.api_server->port());
    const std::string host = api.substr(0, api.rfind(':'));
    const std::string gateway = host + ":" + std::to_string(p.gateway->port());
    p.api->set_cluster(ClusterApi{
        opts.cluster.node, p.cluster->options().token,
        [c = p.cluster.get()] {
            nlohmann::json arr = nlohmann::json::array();
            for (const auto& n : c->nodes())
                arr.push_back({{"name", n.name},
                               {"state", n.state},
                               {"api", n.api},
                               {"gateway", n.gateway},
                               {"instances", n.instances},
                               {"services", n.services},
                               {"memory_bytes", n.memory_bytes},
                               {"load", n.load},
                               {"started_at", n.started_at},
                               {"updated_at", n.updated_at}});
            return arr;
        },
        [c = p.cluster.get()](const std::string& service) { return c->peer_instances(service); }});
    auto listener = [&p, max = opts.max_image_bytes](const cluster::StateChange& c) {
        switch (c.kind) {
            case cluster::StateChange::kServicePut:
                p.controller->apply_remote(c.service);
                break;
            case cluster::StateChange::kServiceDeleted:
                p.controller->remove_remote(c.name);
                break;
            case cluster::StateChange::kImagePut:
                // Every node keeps a copy: an image survives the loss of the
                // node it was uploaded to.
                if (!p.images.exists(c.name))
                    if (auto st = p.cluster->fetch_image(c.name, p.images, max); !st)
                        spdlog::warn("cluster: image {}: {}", c.name, st.message());
                break;
            case cluster::StateChange::kImageDeleted:
                break;  // the local copy stays until no service here uses it
        }
    };
    // The live nodes split every service's min/max; when one dies, the
    // others see it at their next heartbeat and take over its share.
    p.cluster->on_nodes(
        [pl = p.placement.get(), m = p.manager.get()](const std::vector<cluster::NodeInfo>& nodes) {
            std::vector<cluster::Peer> live;
            std::string names;
            for (const auto& n : nodes)
                if (n.state == "up") {
                    live.push_back({n.name, n.api});
                    names += (names.empty() ? "" : ", ") + n.name;
                }
            if (pl->set_live(std::move(live))) {
                spdlog::info("cluster: live nodes: {}", names);
                m->reshare();
            }
        });
    cluster::ForwarderOptions fo;
    fo.token = p.cluster->options().token;
    fo.max_body_bytes = opts.gateway.max_body_bytes;
    fo.max_response_bytes = opts.gateway.max_response_bytes;
    p.forwarder = std::make_unique<cluster::Forwarder>(fo, *p.manager, *p.placement, p.metrics);
    p.gateway->set_forward_hook(
        [f = p.forwarder.get()](const std::string& service, int fd, uint64_t* timeout_ms) {
            return f->take(service, fd, timeout_ms);
        });
    p.api_server->set_forward_handler(
        [f = p.forwarder.get()](const std::string& service, std::string wire,
                                std::function<void(std::string)> done) {
            f->serve_forwarded(service, std::move(wire), std::move(done));
        });
    auto load = [m = p.manager.get(), st = p.state] {
        cluster::NodeLoad l;
        for (const auto& i : m->instances()) {
            ++l.instances;
            l.memory_bytes += i.private_memory_bytes;
        }
        if (auto s = st->list_services()) l.services = static_cast<uint32_t>(s->size());
        return l;
    };
    return p.cluster->start(api, gateway, listener, load);
}

}  // namespace
Daemon::~Daemon() { stop(); }

Result<std::unique_ptr<Daemon>> Daemon::start(const DaemonOptions& opts) {
    if (auto st = check_kvm(); !st) return Status(st.code(), "KVM: " + st.message());
    auto dir = DataDir::open(opts.data_dir);
    if (!dir) return dir.status();
    auto p = std::make_unique<Parts>(std::move(*dir));
    // The data directory's lock is ours: no upload of another emberd runs.
    if (const size_t n = p->images.remove_temp_files(); n > 0)
        spdlog::info("removed {} unfinished image upload(s) from {}", n, p->dir.images_dir());
    p->token_path = p->dir.token_path();
    auto token = load_or_create_token(p->token_path);
    if (!token) return Status(token.code(), "API token: " + token.message());
    if (opts.cluster.etcd.empty()) {
        auto store = Store::open(p->dir.db_path());
        if (!store) return store.status();
        p->store = std::move(*store);
        p->state = p->store.get();
    } else {
        auto agent = start_cluster(opts);
        if (!agent) return agent.status();
        p->cluster = std::move(*agent);
        p->state = &p->cluster->store();
    }
    // A root emberd's workers run as worker_uid: the volumes are theirs.
    const bool give = opts.sandbox && ::geteuid() == 0;
    auto volumes = VolumeStore::open(p->dir.db_path(), p->dir.root() + "/volumes",
                                     give ? int64_t{opts.worker_uid} : -1,
                                     give ? int64_t{opts.worker_gid} : -1);
    if (!volumes) return volumes.status();
    p->volumes = std::move(*volumes);
    auto cgroups = Cgroups::open_for_emberd(opts.cgroup, opts.worker_limits);
    if (!cgroups) return cgroups.status();
    p->cgroups = std::move(*cgroups);
    p->worker_limits = opts.worker_limits;

    // The microVMs run in worker processes that hold none of the above.
    WorkerOptions wo;
    wo.workers = opts.vm_workers;
    wo.vms_per_worker = opts.vms_per_worker;
    wo.max_workers = std::max(opts.max_vm_workers, opts.vm_workers);
    wo.sandbox = opts.sandbox;
    wo.uid = opts.worker_uid;
    wo.gid = opts.worker_gid;
    wo.vm_pool = opts.vm_pool;
    wo.vm = VmGuestOptions{opts.prepare_timeout_ms, opts.max_image_bytes, opts.warm_vms};
    if (p->cgroups && p->cgroups->on()) wo.cgroups = p->cgroups;
    wo.cgroup_limits = opts.worker_limits;
    wo.hang_ms = opts.worker_timeout_ms;
    wo.idle_worker_ms = opts.worker_idle_ms;
    // Five pings in the time allowed, at most one a second.
    wo.ping_ms = std::clamp<uint64_t>(opts.worker_timeout_ms / 5, 10, 1000);
    wo.volumes = p->volumes.get();
    auto factory = WorkerGuestFactory::start(p->images, wo);
    if (!factory) return factory.status();
    p->vm_factory = std::move(*factory);
    auto seal_key = load_or_create_seal_key(seal_key_path(p->dir.root()));
    if (!seal_key) return Status(seal_key.code(), "snapshot key: " + seal_key.message());
    p->factory = std::make_unique<SealedGuestFactory>(*p->vm_factory, *seal_key);
    p->manager = std::make_unique<InstanceManager>(*p->factory, p->logs, p->metrics);
    p->manager->set_suspend_dir(p->dir.suspended_dir());
    p->metrics.add_collector(
        [m = p->manager.get()](std::vector<GaugeSample>* out) { m->collect_metrics(out); });
    p->controller = std::make_unique<ServiceController>(*p->state, p->images, p->dir, *p->factory,
                                                        *p->manager, p->logs);
    if (p->cluster) {
        p->placement = std::make_unique<cluster::Placement>(opts.cluster.node);
        p->manager->set_share(
            [pl = p->placement.get()](const std::string&, uint32_t* min, uint32_t* max) {
                *min = pl->my_share(*min);
                *max = pl->my_share(*max);
            });
        p->controller->set_image_fetcher([c = p->cluster.get(), images = &p->images,
                                          max = opts.max_image_bytes](const std::string& sha) {
            return c->fetch_image(sha, *images, max);
        });
    }
    if (auto st = p->controller->recover(); !st)
        return Status(st.code(), "recovering services: " + st.message());

    auto gw = GatewayHost::start(opts.gateway, opts.sandbox, *p->manager, p->metrics);
    if (!gw) return gw.status();
    p->gateway = std::move(*gw);
    ApiInfo info;
    info.version = EMBER_VERSION;
    info.gateway = opts.gateway.addr + ":" + std::to_string(p->gateway->port());
    info.domain = opts.gateway.domain;
    info.max_image_bytes = opts.max_image_bytes;
    p->api = std::make_unique<Api>(info, *token, *p->state, p->images, *p->controller, *p->manager,
                                   p->metrics, p->logs);
    p->api->set_volumes(p->volumes.get());
    auto api = ApiServer::start(opts.api, *p->api, p->logs, *p->manager);
    if (!api) return api.status();
    p->api_server = std::move(*api);
    if (p->cluster) {
        if (auto st = join_cluster(*p, opts); !st) return st;
    }
    return std::unique_ptr<Daemon>(new Daemon(std::move(p)));
}

void Daemon::stop() {
    if (!p_ || p_->stopped) return;
    p_->stopped = true;
    // Peers stop sending work here first (the lease is revoked).
    if (p_->cluster) p_->cluster->stop();
    p_->api_server->stop();
    p_->gateway->stop();
    if (p_->forwarder) p_->forwarder->stop();
    p_->manager->shutdown();
}

uint16_t Daemon::gateway_port() const { return p_->gateway->port(); }
uint16_t Daemon::tls_port() const { return p_->gateway->tls_port(); }
uint16_t Daemon::api_port() const { return p_->api_server->port(); }
const std::string& Daemon::data_dir() const { return p_->dir.root(); }
const std::string& Daemon::token_path() const { return p_->token_path; }

}  // namespace ember::platform
