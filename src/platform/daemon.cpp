#include "platform/daemon.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

#include "platform/api.h"
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
    std::unique_ptr<Store> store;
    std::unique_ptr<VolumeStore> volumes;
    ImageStore images;
    Metrics metrics;
    LogHub logs;
    std::unique_ptr<WorkerGuestFactory> vm_factory;
    std::unique_ptr<GuestFactory> factory;  // vm_factory, sealing its snapshots
    std::unique_ptr<InstanceManager> manager;
    std::unique_ptr<ServiceController> controller;
    std::unique_ptr<Api> api;
    std::unique_ptr<GatewayHost> gateway;  // the gateway process
    std::unique_ptr<ApiServer> api_server;
    bool stopped = false;
};

Daemon::Daemon(std::unique_ptr<Parts> p) : p_(std::move(p)) {}
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
    auto store = Store::open(p->dir.db_path());
    if (!store) return store.status();
    p->store = std::move(*store);
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
    wo.sandbox = opts.sandbox;
    wo.uid = opts.worker_uid;
    wo.gid = opts.worker_gid;
    wo.vm_pool = opts.vm_pool;
    wo.vm = VmGuestOptions{opts.prepare_timeout_ms, opts.max_image_bytes, opts.warm_vms};
    if (p->cgroups && p->cgroups->on()) wo.cgroups = p->cgroups;
    wo.cgroup_limits = opts.worker_limits;
    wo.hang_ms = opts.worker_timeout_ms;
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
    p->controller = std::make_unique<ServiceController>(*p->store, p->images, p->dir, *p->factory,
                                                        *p->manager, p->logs);
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
    p->api = std::make_unique<Api>(info, *token, *p->store, p->images, *p->controller, *p->manager,
                                   p->metrics, p->logs);
    p->api->set_volumes(p->volumes.get());
    auto api = ApiServer::start(opts.api, *p->api, p->logs, *p->manager);
    if (!api) return api.status();
    p->api_server = std::move(*api);
    return std::unique_ptr<Daemon>(new Daemon(std::move(p)));
}

void Daemon::stop() {
    if (!p_ || p_->stopped) return;
    p_->stopped = true;
    p_->api_server->stop();
    p_->gateway->stop();
    p_->manager->shutdown();
}

uint16_t Daemon::gateway_port() const { return p_->gateway->port(); }
uint16_t Daemon::tls_port() const { return p_->gateway->tls_port(); }
uint16_t Daemon::api_port() const { return p_->api_server->port(); }
const std::string& Daemon::data_dir() const { return p_->dir.root(); }
const std::string& Daemon::token_path() const { return p_->token_path; }

}  // namespace ember::platform
