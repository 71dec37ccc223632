// Scheduling: acquire, assign, finish, deploy, remove. The instance threads
// and housekeeping are in instance_runner.cpp.
#include "platform/instance_manager.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "platform/instance_state.h"
#include "platform/runner_pool.h"

namespace ember::platform {

int64_t mono_now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

const char* reject_reason_name(RejectReason r) {
    switch (r) {
        case RejectReason::kNone:
            return "none";
        case RejectReason::kNoService:
            return "no_service";
        case RejectReason::kQueueFull:
            return "queue_full";
        case RejectReason::kQueueTimeout:
            return "queue_timeout";
        case RejectReason::kUnavailable:
            return "unavailable";
        case RejectReason::kInstanceFailed:
            return "instance_failed";
        case RejectReason::kShuttingDown:
            return "shutting_down";
    }
    return "unknown";
}

InstanceManager::InstanceManager(GuestFactory& factory, LogHub& logs, Metrics& metrics)
    : factory_(factory), logs_(logs), metrics_(metrics), runners_(std::make_unique<RunnerPool>()) {
    metrics_.describe("ember_cold_starts_total", "counter", "Instances started from a snapshot");
    metrics_.describe("ember_instance_start_failures_total", "counter", "Restores that failed");
    metrics_.describe("ember_instance_crashes_total", "counter",
                      "Instances that ended without being stopped (crash, exit, limit)");
    metrics_.describe("ember_queue_rejections_total", "counter",
                      "Requests rejected because the queue was full or its deadline passed");
    metrics_.describe(
        "ember_instance_restore_seconds", "histogram",
        "Time to start an instance from its snapshot: into a reused VM (reset) or a new one");
    runners_->prestart(2);
    housekeeper_ = std::thread([this] { housekeeping_loop(); });
}

InstanceManager::~InstanceManager() {
    shutdown();
    runners_.reset();
}

void InstanceManager::shutdown() {
    std::unique_lock lock(mu_);
    if (!shutting_down_) {
        shutting_down_ = true;
        for (auto& [name, s] : services_) {
            for (auto& t : s->queue)
                reject_locked(t, RejectReason::kShuttingDown, "emberd is shutting down");
            s->queue.clear();
            for (auto& inst : s->instances) {
                for (auto& t : inst->pending)
                    reject_locked(t, RejectReason::kShuttingDown, "emberd is shutting down");
                inst->pending.clear();
                // An idle instance of a stateful service keeps its state
                // across the restart.
                if (stateful_locked(*s) && inst->active == 0 &&
                    inst->generation == s->rec.generation && !inst->no_new &&
                    inst->state == Instance::State::kReady) {
                    inst->stop_reason = "emberd is shutting down";
                    suspend_instance_locked(*inst);
                }
                inst->active = 0;
                stop_instance_locked(*inst);
            }
        }
        cv_.notify_all();
    }
    // Suspensions get their grace period (the housekeeper has stopped).
    if (!all_done_.wait_for(lock, std::chrono::seconds(5), [&] { return running_ == 0; })) {
        for (auto& [name, s] : services_)
            for (auto& inst : s->instances)
                if (inst->suspending && inst->guest) inst->guest->stop();
    }
    all_done_.wait(lock, [&] { return running_ == 0; });
    lock.unlock();
    if (housekeeper_.joinable()) housekeeper_.join();
}

void InstanceManager::deploy(const ServiceRecord& rec, std::shared_ptr<const Prepared> prepared) {
    std::lock_guard lock(mu_);
    auto& slot = services_[rec.spec.name];
    const bool first = !slot;
    if (!slot) {
        slot = std::make_shared<ServiceState>();
        slot->name = rec.spec.name;
        const Labels l = {{"service", rec.spec.name}};
        slot->cold_starts = &metrics_.counter("ember_cold_starts_total", l);
        slot->start_failed = &metrics_.counter("ember_instance_start_failures_total", l);
        slot->crashes = &metrics_.counter("ember_instance_crashes_total", l);
        slot->queue_timeouts = &metrics_.counter(
            "ember_queue_rejections_total", {{"service", rec.spec.name}, {"reason", "timeout"}});
        slot->queue_full = &metrics_.counter("ember_queue_rejections_total",
                                             {{"service", rec.spec.name}, {"reason", "full"}});
    }
    ServiceState& s = *slot;
    s.rec = rec;
    apply_share_locked(s, rec.spec);
    s.prepared = std::move(prepared);
    s.error.clear();
    s.start_failures = 0;
    // Suspended instances belong to one generation: a redeploy discards them.
    if (first) adopt_suspended_locked(s);
    discard_suspended_locked(s, [](uint64_t gen, uint64_t cur) { return gen != cur; });
    // Older generations drain: no new requests; stopped once idle.
    for (auto& inst : s.instances)
        if (inst->generation != rec.generation && inst->active == 0 &&
            inst->state == Instance::State::kReady)
            stop_instance_locked(*inst);
    schedule_locked(s);
    cv_.notify_all();
}

void InstanceManager::set_failed(const std::string& name, uint64_t generation,
                                 const std::string& error) {
    std::lock_guard lock(mu_);
    auto it = services_.find(name);
    if (it == services_.end() || it->second->rec.generation != generation) return;
    ServiceState& s = *it->second;
    s.error = error;
    for (auto& t : s.queue) reject_locked(t, RejectReason::kUnavailable, error);
    s.queue.clear();
}

void InstanceManager::update(const ServiceSpec& spec) {
    std::lock_guard lock(mu_);
    auto it = services_.find(spec.name);
    if (it == services_.end()) return;
    it->second->rec.spec = spec;
    apply_share_locked(*it->second, spec);
    // Back to "discard": the suspended instances go.
    if (!stateful_locked(*it->second))
        discard_suspended_locked(*it->second, [](uint64_t, uint64_t) { return true; });
    schedule_locked(*it->second);
    cv_.notify_all();
}

void InstanceManager::remove(const std::string& name) {
    std::lock_guard lock(mu_);
    auto it = services_.find(name);
    if (it == services_.end()) return;
    ServiceState& s = *it->second;
    s.removed = true;
    discard_suspended_locked(s, [](uint64_t, uint64_t) { return true; });
    for (auto& t : s.queue)
        reject_locked(t, RejectReason::kNoService, "service '" + name + "' was deleted");
    s.queue.clear();
    for (auto& inst : s.instances) {
        for (auto& t : inst->pending)
            reject_locked(t, RejectReason::kNoService, "service '" + name + "' was deleted");
        inst->pending.clear();
        stop_instance_locked(*inst);
    }
    services_.erase(it);
}

TicketPtr InstanceManager::acquire(const std::string& service, int fd) {
    auto t = std::make_shared<Ticket>();
    const int64_t now = mono_now_ns();
    std::lock_guard lock(mu_);
    t->id = next_ticket_++;
    t->fd = fd;
    t->t_acquire = now;
    if (shutting_down_) {
        reject_locked(t, RejectReason::kShuttingDown, "emberd is shutting down");
        return t;
    }
    auto it = services_.find(service);
    if (it == services_.end()) {
        reject_locked(t, RejectReason::kNoService, "no service named '" + service + "'");
        return t;
    }
    ServiceState& s = *it->second;
    t->service = it->second;
    if (!s.prepared && !s.error.empty()) {
        reject_locked(t, RejectReason::kUnavailable, s.error);
        return t;
    }
    const ServiceSpec& spec = s.rec.spec;
    t->deadline = now + static_cast<int64_t>(spec.queue_timeout_ms) * 1000000;
    if (s.queue.empty() && try_assign_locked(s, t)) return t;
    if (s.queue.size() >= spec.queue_size) {
        s.queue_full->inc();
        reject_locked(t, RejectReason::kQueueFull,
                      "service '" + service + "' is at capacity (" +
                          std::to_string(spec.max_instances) + " instances, queue of " +
                          std::to_string(spec.queue_size) + " full)");
        return t;
    }
    s.queue.push_back(t);
    cv_.notify_all();
    return t;
}

TicketPtr InstanceManager::acquire_on(const std::string& service,
                                      const std::vector<uint64_t>& instances,
                                      std::vector<uint64_t>* stale) {
    const int64_t now = mono_now_ns();
    std::lock_guard lock(mu_);
    auto it = services_.find(service);
    if (shutting_down_ || it == services_.end()) {
        *stale = instances;
        return nullptr;
    }
    ServiceState& s = *it->second;
    std::shared_ptr<Instance> best;
    for (uint64_t id : instances) {
        std::shared_ptr<Instance> inst;
        for (auto& i : s.instances)
            if (i->id == id) inst = i;
        if (!inst || inst->state == Instance::State::kStopping ||
            inst->state == Instance::State::kGone || inst->single_use || inst->no_new ||
            inst->stop_requested || inst->suspending || inst->generation != s.rec.generation ||
            s.rec.spec.isolation == Isolation::kRequest) {  // PATCHed since it started
            stale->push_back(id);
            continue;
        }
        if (inst->state != Instance::State::kReady || !inst->guest ||
            inst->active >= s.rec.spec.concurrency)
            continue;
        if (!best || inst->active > best->active) best = inst;  // pack, as try_assign_locked
    }
    if (!best || !s.prepared || s.removed || !s.queue.empty()) return nullptr;
    auto t = std::make_shared<Ticket>();
    t->id = next_ticket_++;
    t->service = it->second;
    t->t_acquire = t->t_assigned = t->t_handed = now;
    t->instance = best;
    t->state = TicketState::kHanded;
    ++best->active;
    best->last_active = now;
    return t;
}

bool InstanceManager::try_assign_locked(ServiceState& s, const TicketPtr& t) {
    if (!s.prepared || s.removed) return false;
    const ServiceSpec& spec = s.rec.spec;
    const int64_t now = mono_now_ns();
    if (spec.isolation == Isolation::kRequest) {
        // A spare (restored ahead, never given a request) if there is one,
        // ready ones first; else a new instance.
        std::shared_ptr<Instance> spare;
        for (auto& inst : s.instances) {
            if (!inst->single_use || inst->taken || inst->stop_requested ||
                inst->generation != s.rec.generation ||
                (inst->state != Instance::State::kReady &&
                 inst->state != Instance::State::kStarting))
                continue;
            if (!spare ||
                (inst->state == Instance::State::kReady && spare->state != Instance::State::kReady))
                spare = inst;
        }
        if (!spare) {
            if (live_instances_locked(s, false) >= spec.max_instances) return false;
            spare = start_instance_locked(s, true);
        }
        assign_locked(spare, t, now);
        top_up_spares_locked(s);
        return true;
    }
    std::shared_ptr<Instance> best;
    for (auto& inst : s.instances) {
        if (inst->generation != s.rec.generation || inst->no_new || inst->single_use ||
            inst->stop_requested || inst->active >= spec.concurrency)
            continue;
        if (inst->state != Instance::State::kReady && inst->state != Instance::State::kStarting)
            continue;
        if (!best) {
            best = inst;
            continue;
        }
        // Prefer ready over starting; then the busiest (packing requests lets
        // the other instances go idle and scale to zero).
        const bool r = inst->state == Instance::State::kReady,
                   br = best->state == Instance::State::kReady;
        if ((r && !br) || (r == br && inst->active > best->active)) best = inst;
    }
    if (!best && live_instances_locked(s, true) < spec.max_instances) {
        // An instance being suspended comes back (resumed) rather than a
        // fresh one starting without its state: wait for it.
        if (stateful_locked(s) && suspending_locked(s) > 0) return false;
        best = start_instance_locked(s, false);
    }
    if (!best) return false;
    assign_locked(best, t, now);
    return true;
}

void InstanceManager::top_up_spares_locked(ServiceState& s) {
    const ServiceSpec& spec = s.rec.spec;
    if (spec.isolation != Isolation::kRequest || !s.prepared || s.removed || shutting_down_) return;
    uint32_t spares = 0;
    for (const auto& inst : s.instances)
        if (inst->single_use && !inst->taken && !inst->stop_requested &&
            inst->generation == s.rec.generation &&
            (inst->state == Instance::State::kReady || inst->state == Instance::State::kStarting))
            ++spares;
    while (spares < spec.spare_instances && live_instances_locked(s, false) < spec.max_instances) {
        start_instance_locked(s, true);
        ++spares;
    }
}

void InstanceManager::assign_locked(const std::shared_ptr<Instance>& inst, const TicketPtr& t,
                                    int64_t now) {
    if (inst->single_use) inst->taken = true;
    t->instance = inst;
    t->t_assigned = now;
    ++inst->active;
    inst->last_active = now;
    if (inst->state == Instance::State::kReady && inst->guest) {
        t->state = TicketState::kHanded;
        t->t_handed = now;
        const int fd = t->fd;
        t->fd = -1;
        inst->guest->post(fd, inst->port);
    } else {
        t->state = TicketState::kAssigned;
        t->cold = true;
        inst->pending.push_back(t);
    }
}

void InstanceManager::schedule_locked(ServiceState& s) {
    while (!s.queue.empty() && try_assign_locked(s, s.queue.front())) s.queue.pop_front();
}

uint32_t InstanceManager::live_instances_locked(const ServiceState& s, bool current_only) const {
    uint32_t n = 0;
    for (const auto& inst : s.instances) {
        if (inst->state == Instance::State::kStopping || inst->state == Instance::State::kGone ||
            inst->stop_requested)
            continue;
        if (current_only && inst->generation != s.rec.generation) continue;
        ++n;
    }
    return n;
}

void InstanceManager::reject_locked(const TicketPtr& t, RejectReason r, std::string msg) {
    if (t->fd >= 0) {
        ::close(t->fd);
        t->fd = -1;
    }
    t->state = TicketState::kRejected;
    t->reason = r;
    t->message = std::move(msg);
}

void InstanceManager::finish(const TicketPtr& t, FinishKind kind) {
    std::lock_guard lock(mu_);
    const int64_t now = mono_now_ns();
    auto inst = t->instance;
    switch (t->state) {
        case TicketState::kQueued:
            if (t->service) {
                auto& q = t->service->queue;
                q.erase(std::remove(q.begin(), q.end(), t), q.end());
            }
            break;
        case TicketState::kAssigned:
            inst->pending.erase(std::remove(inst->pending.begin(), inst->pending.end(), t),
                                inst->pending.end());
            [[fallthrough]];
        case TicketState::kHanded:
            if (inst->active > 0) --inst->active;
            if (t->state == TicketState::kHanded) ++inst->served;
            inst->last_active = now;
            if (kind == FinishKind::kTimedOut && !inst->no_new) {
                inst->no_new = true;
                logs_.append(
                    inst->service->name, inst->name(), "ember",
                    "a request timed out; the instance takes no new requests and is replaced");
            }
            if (inst->single_use) {
                inst->stop_reason = "request done (isolation request)";
                stop_instance_locked(*inst);
            } else if (inst->active == 0 &&
                       (inst->no_new || inst->generation != inst->service->rec.generation)) {
                inst->stop_reason =
                    inst->no_new ? "replaced after a timeout" : "drained (redeployed)";
                stop_instance_locked(*inst);
            }
            break;
        case TicketState::kRejected:
        case TicketState::kDone:
            break;
    }
    if (t->fd >= 0) {
        ::close(t->fd);
        t->fd = -1;
    }
    if (t->state != TicketState::kRejected) t->state = TicketState::kDone;
    if (t->service && !t->service->removed) schedule_locked(*t->service);
}

TicketInfo InstanceManager::ticket_info(const TicketPtr& t) {
    std::lock_guard lock(mu_);
    TicketInfo i;
    i.state = t->state;
    i.reason = t->reason;
    i.message = t->message;
    i.instance_id = t->instance ? t->instance->id : 0;
    i.cold = t->cold;
    if (t->t_assigned) i.queue_ms = static_cast<double>(t->t_assigned - t->t_acquire) / 1e6;
    if (t->t_handed && t->t_assigned)
        i.restore_ms = static_cast<double>(t->t_handed - t->t_assigned) / 1e6;
    i.t_handed = t->t_handed;
    i.timeout_ms = t->service ? t->service->rec.spec.timeout_ms : 0;
    i.reusable = t->instance && !t->instance->single_use;
    return i;
}

}  // namespace ember::platform
