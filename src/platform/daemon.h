// daemon.h - emberd's parts wired together: data directory, state store,
// image store, instance manager, service controller, gateway and API.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "platform/cgroups.h"
#include "platform/cluster/cluster_agent.h"
#include "platform/http_servers.h"

namespace ember::platform {

struct DaemonOptions {
    std::string data_dir = "./var/ember";
    GatewayOptions gateway;
    ApiServerOptions api;
    uint64_t prepare_timeout_ms = 10000;
    uint64_t max_image_bytes = 256ull << 20;
    size_t vm_pool = 4;                      // KVM VMs each worker creates ahead of cold starts
    size_t warm_vms = 4;                     // reset VMs kept per snapshot for the next instance
    std::string cgroup = "auto";             // auto, off or a delegated cgroup PATH (cgroups.h)
    CgroupLimits worker_limits{0, 0, 4096};  // per VM worker process, when cgroups are on
    // The helper processes (gateway, workers) sandbox themselves
    // (vmm/sandbox.h); false only for debugging (--no-sandbox).
    bool sandbox = true;
    // The VM worker processes (worker_client.h): how many, and their user
    // when emberd runs as root.
    size_t vm_workers = 1;
    // Instances one worker holds at most, and how many workers there may be
    // (worker_client.h, "Placement").
    size_t vms_per_worker = 500;
    size_t max_vm_workers = 64;
    uint32_t worker_uid = 65534, worker_gid = 65534;
    // A worker silent this long (no answer to the heartbeat) is killed and
    // replaced (--worker-timeout).
    uint64_t worker_timeout_ms = 5000;
    // A worker beyond the first --vm-workers that has held no instance this
    // long exits (--worker-idle-timeout).
    uint64_t worker_idle_ms = 30000;
    // --cluster: the desired state in etcd, shared with the other nodes
    // (cluster/cluster_agent.h); cluster.etcd empty: a single node on SQLite.
    // advertise empty: the --api address; token_file: the cluster token.
    cluster::ClusterOptions cluster;
    std::string cluster_token_file;
    std::string etcd_password_file;  // with cluster.etcd_auth.user
};

class Daemon {
  public:
    // Opens the data directory, recovers the services, starts listening.
    static Result<std::unique_ptr<Daemon>> start(const DaemonOptions& opts);
    ~Daemon();  // stop()
    // Stops accepting, stops every instance, waits for them.
    void stop();
    uint16_t gateway_port() const;
    uint16_t tls_port() const;  // the gateway's HTTPS port, 0 without TLS
    uint16_t api_port() const;
    const std::string& data_dir() const;
    const std::string& token_path() const;
    struct Parts;

  private:
    explicit Daemon(std::unique_ptr<Parts> p);
    std::unique_ptr<Parts> p_;
};

}  // namespace ember::platform
