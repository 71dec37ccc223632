// cluster_agent.h - a node's membership in the cluster (emberd --cluster):
//   <prefix>nodes/<name>     this node's record under a lease (a heartbeat
//                            renews it every second; a node whose lease
//                            expired is dead and its key is gone)
//   <prefix>members/<name>   the same record without a lease, so that a
//                            dead node is listed as "down" rather than forgotten
// and the watch that keeps the node's copy of the desired state
// (EtcdStore) current and hands each change to the node. When etcd goes
// away the node keeps its copy (serving what it knows), and when it returns
// re-reads the whole state and applies the difference (catch-up).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "platform/cluster/etcd_client.h"
#include "platform/cluster/etcd_store.h"

namespace ember::platform {
class ImageStore;
}

namespace ember::platform::cluster {

struct ClusterOptions {
    std::string etcd;       // "http://H:P[,...]"; empty: single node
    std::string node;       // this node's name
    std::string advertise;  // ADDR:PORT where peers reach this node's API
    std::string gateway;    // ADDR:PORT of this node's gateway, as peers reach it
    std::string token;      // the cluster token (node-to-node calls)
    EtcdAuth etcd_auth;     // etcd user and password (empty user: none)
    std::string prefix = "/ember/";
    int lease_ttl_s = 5;
    int etcd_timeout_ms = 2000;
};

// What `ember nodes` shows of a node.
struct NodeInfo {
    std::string name, api, gateway;
    std::string state;  // "up" (its lease lives) or "down"
    uint32_t instances = 0, services = 0;
    uint64_t memory_bytes = 0;  // the instances' private memory
    double load = 0;            // 1-minute load average of the machine
    int64_t started_at = 0, updated_at = 0;
};

// This node's numbers for its record, from the instance manager.
struct NodeLoad {
    uint32_t instances = 0, services = 0;
    uint64_t memory_bytes = 0;
};

class ClusterAgent {
  public:
    using Listener = std::function<void(const StateChange&)>;

    // Connects to etcd and reads the desired state (an error when etcd
    // cannot be reached: a node does not start without knowing the state).
    static Result<std::unique_ptr<ClusterAgent>> connect(const ClusterOptions& opts);
    ~ClusterAgent();  // stop()

    EtcdStore& store() { return *store_; }
    const ClusterOptions& options() const { return opts_; }

    // Registers the node and starts the heartbeat and the watch; listener
    // gets every change after the one load() read (on the watch's thread,
    // one at a time); load gives the record's numbers.
    // api, gateway: this node's addresses as peers reach them (known once
    // the servers listen).
    Status start(const std::string& api, const std::string& gateway, Listener listener,
                 std::function<NodeLoad()> load);
    // Gets the members at every read of them (the heartbeat's, every second,
    // and nodes()): the forwarder's peers and the split of min/max follow
    // the live ones. Before start().
    void on_nodes(std::function<void(const std::vector<NodeInfo>&)> f) { on_nodes_ = std::move(f); }
    // Stops the threads and revokes the lease (the node is "down" at once).
    void stop();

    // Every member, live ones first; from the last heartbeat's read when
    // etcd cannot be reached.
    std::vector<NodeInfo> nodes();
    bool etcd_reachable() const { return etcd_up_.load(); }

    // The service's instances on the other live nodes, each with "node"
    // (a node that does not answer within 1 s is left out).
    nlohmann::json peer_instances(const std::string& service);

    // Copies image sha256 from a live peer that has it into images,
    // verified against its name; the peers are asked in turn.
    Status fetch_image(const std::string& sha256, ImageStore& images, uint64_t max_bytes);

  private:
    ClusterAgent(ClusterOptions opts, std::unique_ptr<EtcdClient> etcd);
    Status register_node();
    void heartbeat_loop();
    void watch_loop();
    void refresh_nodes();
    std::string node_record() const;
    bool sleep_for_ms(int ms);  // false when stopping

    ClusterOptions opts_;
    std::unique_ptr<EtcdClient> etcd_;
    std::unique_ptr<EtcdStore> store_;
    Listener listener_;
    std::function<NodeLoad()> load_;
    std::function<void(const std::vector<NodeInfo>&)> on_nodes_;
    int64_t revision_ = 0;  // the state the copy is at (the watch's thread)
    int64_t lease_ = 0;     // the heartbeat's thread
    int64_t started_at_ = 0;
    std::atomic<bool> etcd_up_{true};
    std::atomic<bool> stopping_{false};
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<NodeInfo> nodes_;
    std::thread heartbeat_, watcher_;
};

}  // namespace ember::platform::cluster
