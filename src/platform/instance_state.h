// instance_state.h - the manager's private records of services and
// instances (guarded by InstanceManager::mu_). Internal to
// instance_manager*.cpp.
#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "platform/guest.h"
#include "platform/instance_manager.h"
#include "platform/log_hub.h"

namespace ember::platform {

struct Instance {
    enum class State { kStarting, kReady, kStopping, kGone };

    uint64_t id = 0;
    std::shared_ptr<ServiceState> service;
    uint64_t generation = 0;
    std::shared_ptr<const Prepared> prepared;
    uint16_t port = 0;
    State state = State::kStarting;
    std::unique_ptr<Guest> guest;    // set once restored; destroyed by its thread
    std::vector<TicketPtr> pending;  // assigned while starting
    uint32_t active = 0;             // tickets assigned or handed, not finished
    uint64_t served = 0;
    bool single_use = false;  // isolation "request"
    bool taken = false;       // single use: it was given its one request
    bool no_new = false;      // takes no new requests (a request timed out)
    bool stop_requested = false;
    std::string stop_reason;
    // Stateful scale to zero: asked to suspend itself into suspend_path
    // (then it becomes a SuspendedInstance); stopped instead when it does not
    // get there within kSuspendGraceMs.
    bool suspending = false, suspend_abandoned = false;
    int64_t suspend_started = 0;
    std::string suspend_path;
    std::string resume_path;  // started from this suspended instance's file
    int64_t created = 0, ready = 0, last_active = 0;
    double restore_ms = 0;
    std::unique_ptr<LineAssembler> console;  // used on the instance's thread only

    std::string name() const { return "i-" + std::to_string(id); }
};

// An instance saved by Guest::suspend: no VM, only its file (and seal) in
// the manager's suspend directory.
struct SuspendedInstance {
    uint64_t id = 0;
    uint64_t generation = 0;
    std::string path;
    uint64_t disk_bytes = 0;
    uint64_t served = 0;
    int64_t since = 0;  // CLOCK_MONOTONIC
};

struct ServiceState {
    std::string name;
    ServiceRecord rec;                         // min/max: this node's share (instance_share.cpp)
    ServiceSpec declared;                      // rec.spec as deployed (cluster-wide min/max)
    std::shared_ptr<const Prepared> prepared;  // current generation; null while preparing
    std::string error;                         // why there is no snapshot
    bool removed = false;
    std::list<std::shared_ptr<Instance>> instances;
    std::deque<TicketPtr> queue;
    std::vector<SuspendedInstance> suspended;  // the newest last
    int start_failures = 0;                    // consecutive restore failures
    Counter* cold_starts = nullptr;
    Counter* start_failed = nullptr;
    Counter* crashes = nullptr;
    Counter* queue_timeouts = nullptr;
    Counter* queue_full = nullptr;
};

}  // namespace ember::platform
