// instance_manager.h - the life of every instance: scale from zero, scale
// out, queueing, scale to zero, per-request isolation, redeploys that roll to
// a new generation while the old one drains, and crash replacement.
//
// The gateway's view: acquire() takes the instance-side end of a stream
// pair for one request and returns a Ticket at once. The ticket is queued,
// assigned to an instance (a cold one still restoring, or a warm one), handed
// to the guest, or rejected (the fd is then closed, so the gateway's read of
// the other end ends). The gateway calls finish() when it is done, whatever
// happened: that frees the instance's slot.
//
// Threads: every call is thread-safe (one mutex). Each instance runs on a
// thread of its own (restore, then Guest::run()); a housekeeping thread
// expires queued requests, stops idle instances and keeps `min` warm.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "platform/guest.h"
#include "platform/log_hub.h"
#include "platform/metrics.h"
#include "platform/store.h"

namespace ember::platform {

struct Instance;
struct ServiceState;
class RunnerPool;

// CLOCK_MONOTONIC in nanoseconds: the time base of every ticket timestamp.
int64_t mono_now_ns();

enum class TicketState { kQueued, kAssigned, kHanded, kRejected, kDone };

enum class RejectReason {
    kNone,
    kNoService,       // 404
    kQueueFull,       // 503 + Retry-After
    kQueueTimeout,    // 503 + Retry-After
    kUnavailable,     // 503: the service has no usable snapshot (preparing, or it failed)
    kInstanceFailed,  // 502: the instance could not start
    kShuttingDown,    // 503
};
const char* reject_reason_name(RejectReason r);

// One request's claim on an instance. Fields are guarded by the manager's
// mutex; read them with InstanceManager::ticket_info().
struct Ticket {
    uint64_t id = 0;
    std::shared_ptr<ServiceState> service;
    int fd = -1;  // the instance-side stream end, until handed or closed
    TicketState state = TicketState::kQueued;
    RejectReason reason = RejectReason::kNone;
    std::string message;
    std::shared_ptr<Instance> instance;
    bool cold = false;  // assigned to an instance that was still restoring
    int64_t t_acquire = 0, t_assigned = 0, t_handed = 0, deadline = 0;  // CLOCK_MONOTONIC ns
};
using TicketPtr = std::shared_ptr<Ticket>;

struct TicketInfo {
    TicketState state = TicketState::kQueued;
    RejectReason reason = RejectReason::kNone;
    std::string message;
    uint64_t instance_id = 0;
    bool cold = false;
    double queue_ms = 0;    // acquire -> assigned to an instance
    double restore_ms = 0;  // assigned -> handed to the guest (cold: the restore)
    int64_t t_handed = 0;
    uint64_t timeout_ms = 0;  // the service's request timeout
    // The instance takes further requests on the same stream (keep-alive):
    // false for single-use (isolation "request") instances.
    bool reusable = false;
};

enum class FinishKind {
    kCompleted,   // a response came back
    kClientGone,  // the client disconnected first
    kTimedOut,    // over the service's timeout: the instance takes no new requests
    kFailed,      // the instance broke the stream (crash, bad response)
};

struct InstanceInfo {
    uint64_t id = 0;
    std::string service;
    uint64_t generation = 0;
    // "starting", "busy", "idle", "draining", "stopping", "suspending",
    // "suspended" (no VM: disk_bytes on disk)
    std::string state;
    uint32_t active = 0;
    uint64_t served = 0;
    double age_s = 0, idle_s = 0;
    double restore_ms = 0;
    uint64_t memory_bytes = 0;          // guest memory size
    uint64_t private_memory_bytes = 0;  // host memory it wrote (0 = unknown)
    uint64_t disk_bytes = 0;            // suspended: its file and seal
};

struct ServiceStatus {
    bool exists = false;
    ServiceRecord record;
    std::string state;  // "standby", "running", "preparing", "failed"
    std::string error;  // why the service is unavailable
    uint32_t instances = 0, queued = 0;
    uint32_t suspended = 0;        // stateful scale to zero
    uint64_t suspended_bytes = 0;  // their files on disk
    std::string prepared;          // Prepared::describe()
};

class InstanceManager {
  public:
    InstanceManager(GuestFactory& factory, LogHub& logs, Metrics& metrics);
    ~InstanceManager();  // stops every instance and waits for them
    InstanceManager(const InstanceManager&) = delete;
    InstanceManager& operator=(const InstanceManager&) = delete;

    // Installs or replaces a service's generation. New requests go to the new
    // generation at once; instances of older generations finish their
    // requests and stop. prepared == nullptr: the service waits for a
    // snapshot (requests queue) until set_prepared() or set_failed().
    void deploy(const ServiceRecord& rec, std::shared_ptr<const Prepared> prepared);
    void set_failed(const std::string& name, uint64_t generation, const std::string& error);
    // Runtime settings (PATCH): min/max/concurrency/timeouts/isolation.
    void update(const ServiceSpec& spec);
    // Rejects queued requests, stops every instance, forgets the service.
    void remove(const std::string& name);
    // Stops everything (instances of stateful services are suspended, as
    // when idle); acquire() rejects from now on.
    void shutdown();
    // Where suspended instances are kept (stateful scale to zero); before the
    // first deploy(). Without it, stateful services stop idle instances.
    // Files there of a deployed service's current generation are taken as
    // its suspended instances (they survive a restart); others are removed.
    void set_suspend_dir(std::string dir) { suspend_dir_ = std::move(dir); }

    // Cluster mode (instance_share.cpp): a service's min/max are
    // cluster-wide; share gives this node's part of them, applied at every
    // deploy() and update() and again at reshare() (the live nodes changed).
    // status() keeps showing the declared values.
    using ShareFn = std::function<void(const std::string& service, uint32_t* min, uint32_t* max)>;
    void set_share(ShareFn share);
    void reshare();
    // True when a request for service would be assigned to an instance at
    // once (one with a free slot, or room under max to start one) rather
    // than queued, rejected or left waiting for a snapshot.
    bool can_take_now(const std::string& service);

    TicketPtr acquire(const std::string& service, int fd);
    // A request on one of the streams the gateway kept open to `instances`
    // after earlier responses (keep-alive): handed at once, without a new
    // stream, to the busiest of them that is ready, of the service's current
    // generation, takes more requests (not single use) and has a free slot,
    // when nobody is queued. nullptr when none can (the gateway then
    // acquires with a new stream). *stale gets the ids that never will
    // (gone, stopping, replaced, single use, or the service's isolation is
    // now request): their streams can be closed.
    TicketPtr acquire_on(const std::string& service, const std::vector<uint64_t>& instances,
                         std::vector<uint64_t>* stale);
    void finish(const TicketPtr& t, FinishKind kind);
    TicketInfo ticket_info(const TicketPtr& t);

    ServiceStatus status(const std::string& name);
    std::vector<InstanceInfo> instances(const std::string& name = "");
    void collect_metrics(std::vector<GaugeSample>* out);

  private:
    void housekeeping_loop();
    void housekeep_locked(int64_t now);
    void schedule_locked(ServiceState& s);
    bool try_assign_locked(ServiceState& s, const TicketPtr& t);
    void assign_locked(const std::shared_ptr<Instance>& inst, const TicketPtr& t, int64_t now);
    std::shared_ptr<Instance> start_instance_locked(ServiceState& s, bool single_use);
    void top_up_spares_locked(ServiceState& s);
    void stop_instance_locked(Instance& inst);
    // Stateful scale to zero (instance_suspend.cpp).
    bool stateful_locked(const ServiceState& s) const;
    void suspend_instance_locked(Instance& inst);
    void adopt_suspended_locked(ServiceState& s);
    // Forgets the suspended instances for which drop(generation) is true and
    // removes their files.
    void discard_suspended_locked(ServiceState& s, bool (*drop)(uint64_t gen, uint64_t current));
    uint32_t suspending_locked(const ServiceState& s) const;
    void suspend_housekeeping_locked(ServiceState& s, int64_t now);
    void record_suspended_locked(ServiceState& s, Instance& inst, int64_t now);
    void reject_locked(const TicketPtr& t, RejectReason r, std::string msg);
    void apply_share_locked(ServiceState& s, const ServiceSpec& declared);
    // An instance's restore, and the hand-over of its first connections.
    void run_instance(std::shared_ptr<Instance> inst);
    // Its end: waits for it (Guest::run()), then takes it out of service.
    // On a runner thread once the guest reports its end (Guest::start), so
    // that no thread waits for an idle instance; else right after the start.
    void end_instance(std::shared_ptr<Instance> inst);
    uint32_t live_instances_locked(const ServiceState& s, bool current_only) const;

    GuestFactory& factory_;
    LogHub& logs_;
    Metrics& metrics_;
    std::unique_ptr<RunnerPool> runners_;

    std::mutex mu_;
    std::condition_variable cv_;  // housekeeping wake-ups
    std::map<std::string, std::shared_ptr<ServiceState>> services_;
    uint64_t next_ticket_ = 1, next_instance_ = 1;
    size_t running_ = 0;  // instances started and not yet ended (end_instance)
    std::condition_variable all_done_;
    bool shutting_down_ = false;
    std::thread housekeeper_;
    std::string suspend_dir_;
    ShareFn share_;
};

}  // namespace ember::platform
