// The instances' side of the manager: starting and stopping instances (a
// runner thread for the restore, none while an instance runs where the
// guest reports its end itself), housekeeping (queue deadlines, scale to zero,
// warm minimum) and what the API and /metrics show.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "platform/instance_manager.h"
#include "platform/instance_state.h"
#include "platform/proc_memory.h"
#include "platform/runner_pool.h"

namespace ember::platform {

std::shared_ptr<Instance> InstanceManager::start_instance_locked(ServiceState& s, bool single_use) {
    auto inst = std::make_shared<Instance>();
    // Stateful: the newest suspended instance comes back (same id).
    if (!single_use && stateful_locked(s) && !s.suspended.empty()) {
        SuspendedInstance rec = std::move(s.suspended.back());
        s.suspended.pop_back();
        inst->id = rec.id;
        inst->resume_path = rec.path;
        inst->served = rec.served;
    } else {
        inst->id = next_instance_++;
    }
    inst->service = services_.at(s.name);
    inst->generation = s.rec.generation;
    inst->prepared = s.prepared;
    inst->port = s.rec.spec.port;
    inst->single_use = single_use;
    inst->created = inst->last_active = mono_now_ns();
    inst->console = std::make_unique<LineAssembler>(logs_, s.name, inst->name());
    s.instances.push_back(inst);
    s.cold_starts->inc();
    ++running_;
    runners_->run([this, inst] { run_instance(inst); });
    return inst;
}

void InstanceManager::stop_instance_locked(Instance& inst) {
    if (inst.stop_requested) return;
    inst.stop_requested = true;
    if (inst.state == Instance::State::kReady) {
        inst.state = Instance::State::kStopping;
        if (inst.guest) inst.guest->stop();
    }
    // A starting instance stops as soon as its restore returns.
}

void InstanceManager::run_instance(std::shared_ptr<Instance> inst) {
    Instance* raw = inst.get();
    ConsoleFn console = [raw](int fd, const char* p, size_t n) { raw->console->feed(fd, p, n); };
    ServiceState& s = *inst->service;
    const int64_t t0 = mono_now_ns();
    Result<std::unique_ptr<Guest>> g = Status::internal("not started");
    if (!inst->resume_path.empty()) {
        g = factory_.resume(inst->prepared, inst->resume_path, console);
        if (!g) {
            // A damaged or foreign file costs the state, never the request.
            logs_.append(s.name, inst->name(), "ember",
                         "the suspended instance could not be resumed (" + g.message() +
                             "): it is discarded, the instance starts from the snapshot");
            spdlog::warn("service {}: instance {}: suspended snapshot discarded: {}", s.name,
                         inst->name(), g.message());
        }
        // Resumed or not, the file has served: the instance's state is in
        // memory from now on, and is saved anew at its next suspension.
        ::unlink(inst->resume_path.c_str());
        ::unlink((inst->resume_path + ".seal").c_str());
    }
    if (!g) g = factory_.restore(inst->prepared, console);
    const int64_t t1 = mono_now_ns();
    std::unique_lock lock(mu_);
    if (!g) {
        s.start_failed->inc();
        ++s.start_failures;
        logs_.append(s.name, inst->name(), "ember", "could not start: " + g.message());
        spdlog::error("service {}: instance {} could not start: {}", s.name, inst->name(),
                      g.message());
        for (auto& t : inst->pending)
            reject_locked(t, RejectReason::kInstanceFailed,
                          "the instance could not start: " + g.message());
        inst->pending.clear();
        inst->active = 0;
        inst->state = Instance::State::kGone;
        s.instances.remove(inst);
        if (s.start_failures >= 3) {
            // Do not restore in a loop: fail what waits; the next request tries again.
            for (auto& t : s.queue)
                reject_locked(t, RejectReason::kInstanceFailed,
                              "instances fail to start: " + g.message());
            s.queue.clear();
        } else if (!s.removed) {
            schedule_locked(s);
        }
        --running_;
        all_done_.notify_all();
        return;
    }
    s.start_failures = 0;
    inst->guest = std::move(*g);
    inst->restore_ms = static_cast<double>(t1 - t0) / 1e6;
    inst->ready = t1;
    const char* kind = inst->guest->reused() ? "reused_vm" : "new_vm";
    metrics_.histogram("ember_instance_restore_seconds", {{"vm", kind}})
        .observe(static_cast<double>(t1 - t0) / 1e9);
    inst->state = inst->stop_requested ? Instance::State::kStopping : Instance::State::kReady;
    std::vector<int> fds;
    const int64_t now = mono_now_ns();
    for (auto& t : inst->pending) {
        t->state = TicketState::kHanded;
        t->t_handed = now;
        fds.push_back(t->fd);
        t->fd = -1;
    }
    inst->pending.clear();
    Guest* guest = inst->guest.get();
    const bool stop_now = inst->stop_requested;
    lock.unlock();

    for (int fd : fds) guest->adopt(fd, inst->port);
    if (stop_now) guest->stop();
    // The guest lives until end_instance takes it, after `ended` was called.
    if (!guest->start([this, inst] { runners_->run([this, inst] { end_instance(inst); }); }))
        end_instance(inst);
}

void InstanceManager::end_instance(std::shared_ptr<Instance> inst) {
    ServiceState& s = *inst->service;
    Guest* guest;
    {
        std::lock_guard lock(mu_);
        guest = inst->guest.get();
    }
    const InstanceEnd exit = guest->run();
    inst->console->flush();

    std::unique_lock lock(mu_);
    std::unique_ptr<Guest> dead = std::move(inst->guest);
    const bool expected = exit.stopped && inst->stop_requested;
    inst->state = Instance::State::kGone;
    s.instances.remove(inst);
    if (exit.suspended) {
        record_suspended_locked(s, *inst, mono_now_ns());
    } else if (!expected) {
        s.crashes->inc();
        logs_.append(s.name, inst->name(), "ember",
                     "instance ended unexpectedly: " + exit.description);
        spdlog::warn("service {}: instance {} ended unexpectedly: {}", s.name, inst->name(),
                     exit.description.substr(0, exit.description.find('\n')));
    } else {
        if (inst->suspending)
            inst->stop_reason += "; it could not be suspended: " + exit.description;
        logs_.append(
            s.name, inst->name(), "ember",
            "instance stopped" + (inst->stop_reason.empty() ? "" : " (" + inst->stop_reason + ")"));
    }
    if (!s.removed) schedule_locked(s);
    cv_.notify_all();  // housekeeping restores the warm minimum
    lock.unlock();
    dead.reset();  // closes the streams it still held: their requests end with 502
    lock.lock();
    --running_;
    all_done_.notify_all();
}

// Every 20 ms (and at each notify), but each round walks every instance
// under mu_, which requests wait for: with more than 1,000 instances the
// rounds are spaced by 1 ms per 50 instances (200 ms at 10,000), so idle
// timeouts and drains may act that much later, and the walk costs a bounded
// share of a core and of mu_ (docs/benchmarks.md, "Density").
void InstanceManager::housekeeping_loop() {
    std::unique_lock lock(mu_);
    while (!shutting_down_) {
        housekeep_locked(mono_now_ns());
        size_t n = 0;
        for (const auto& [name, s] : services_) n += s->instances.size();
        cv_.wait_for(lock, std::chrono::milliseconds(std::clamp<size_t>(n / 50, 20, 1000)));
    }
}

void InstanceManager::housekeep_locked(int64_t now) {
    for (auto& [name, sp] : services_) {
        ServiceState& s = *sp;
        const ServiceSpec& spec = s.rec.spec;
        while (!s.queue.empty() && s.queue.front()->deadline <= now) {
            s.queue_timeouts->inc();
            reject_locked(s.queue.front(), RejectReason::kQueueTimeout,
                          "no instance of '" + name + "' became free within " +
                              std::to_string(spec.queue_timeout_ms) + " ms");
            s.queue.pop_front();
        }
        uint32_t warm = 0;
        for (auto& inst : s.instances)
            if (inst->generation == s.rec.generation && !inst->no_new && !inst->stop_requested &&
                inst->state == Instance::State::kReady)
                ++warm;
        const int64_t idle_ns = static_cast<int64_t>(spec.idle_timeout_ms) * 1000000;
        const bool stateful = stateful_locked(s);
        suspend_housekeeping_locked(s, now);
        for (auto& inst : s.instances) {
            if (inst->state != Instance::State::kReady || inst->active > 0 || inst->stop_requested)
                continue;
            if (inst->generation != s.rec.generation || inst->no_new) {
                inst->stop_reason =
                    inst->no_new ? "replaced after a timeout" : "drained (redeployed)";
                stop_instance_locked(*inst);
            } else if (now - inst->last_active >= idle_ns &&
                       (stateful || warm > spec.min_instances)) {
                // Stateful: min_instances counts suspended instances too.
                inst->stop_reason = "idle for " + std::to_string(spec.idle_timeout_ms) + " ms";
                if (stateful)
                    suspend_instance_locked(*inst);
                else
                    stop_instance_locked(*inst);
                --warm;
            }
        }
        if (s.prepared && !s.removed && !shutting_down_ && spec.isolation == Isolation::kInstance &&
            s.start_failures < 3) {
            const uint32_t kept =
                stateful ? static_cast<uint32_t>(s.suspended.size()) + suspending_locked(s) : 0;
            while (live_instances_locked(s, true) + kept < spec.min_instances)
                start_instance_locked(s, false);
        }
    }
}

namespace {

const char* instance_state_name(const Instance& inst, uint64_t current_generation) {
    switch (inst.state) {
        case Instance::State::kStarting:
            return "starting";
        case Instance::State::kStopping:
            return inst.suspending ? "suspending" : "stopping";
        case Instance::State::kGone:
            return "stopped";
        case Instance::State::kReady:
            break;
    }
    if (inst.stop_requested) return inst.suspending ? "suspending" : "stopping";
    if (inst.no_new || inst.generation != current_generation) return "draining";
    if (inst.single_use && !inst.taken) return "spare";
    return inst.active > 0 ? "busy" : "idle";
}

}  // namespace

ServiceStatus InstanceManager::status(const std::string& name) {
    std::lock_guard lock(mu_);
    ServiceStatus st;
    auto it = services_.find(name);
    if (it == services_.end()) return st;
    const ServiceState& s = *it->second;
    st.exists = true;
    st.record = s.rec;
    st.record.spec = s.declared;  // the cluster-wide min/max, not this node's share
    st.instances = live_instances_locked(s, false);
    st.queued = static_cast<uint32_t>(s.queue.size());
    st.suspended = static_cast<uint32_t>(s.suspended.size());
    for (const auto& r : s.suspended) st.suspended_bytes += r.disk_bytes;
    st.error = s.error;
    if (s.prepared) st.prepared = s.prepared->describe();
    if (!s.prepared)
        st.state = s.error.empty() ? "preparing" : "failed";
    else
        st.state = st.instances > 0 ? "running" : "standby";
    return st;
}

std::vector<InstanceInfo> InstanceManager::instances(const std::string& name) {
    std::vector<InstanceInfo> out;
    std::vector<MemRange> ranges;
    std::unique_lock lock(mu_);
    const int64_t now = mono_now_ns();
    for (const auto& [sname, sp] : services_) {
        if (!name.empty() && sname != name) continue;
        for (const auto& inst : sp->instances) {
            InstanceInfo i;
            i.id = inst->id;
            i.service = sname;
            i.generation = inst->generation;
            i.state = instance_state_name(*inst, sp->rec.generation);
            i.active = inst->active;
            i.served = inst->served;
            i.age_s = static_cast<double>(now - inst->created) / 1e9;
            i.idle_s = inst->active ? 0 : static_cast<double>(now - inst->last_active) / 1e9;
            i.restore_ms = inst->restore_ms;
            i.memory_bytes = inst->prepared ? inst->prepared->memory_bytes() : 0;
            const auto r =
                inst->guest ? inst->guest->memory_range() : std::pair<uintptr_t, size_t>{0, 0};
            ranges.push_back({r.first, r.second, inst->guest ? inst->guest->memory_pid() : 0});
            out.push_back(std::move(i));
        }
        for (const auto& r : sp->suspended) {
            InstanceInfo i;
            i.id = r.id;
            i.service = sname;
            i.generation = r.generation;
            i.state = "suspended";
            i.served = r.served;
            i.idle_s = static_cast<double>(now - r.since) / 1e9;
            i.disk_bytes = r.disk_bytes;
            ranges.push_back({0, 0, 0});
            out.push_back(std::move(i));
        }
    }
    lock.unlock();
    // One pass over each process's smaps, outside the lock. An instance that
    // ended meanwhile may be misreported once; its range is no longer mapped.
    const auto anon = anonymous_bytes(ranges);
    for (size_t k = 0; k < out.size(); ++k) out[k].private_memory_bytes = anon[k];
    return out;
}

void InstanceManager::collect_metrics(std::vector<GaugeSample>* out) {
    const auto all = instances();
    std::map<std::pair<std::string, std::string>, double> by_state;
    std::map<std::string, double> mem, priv, disk;
    {
        std::lock_guard lock(mu_);
        for (const auto& [name, s] : services_) {
            for (const char* st : {"starting", "busy", "idle", "spare", "draining", "stopping",
                                   "suspending", "suspended"})
                by_state[{name, st}] = 0;
            mem[name] = 0;
            priv[name] = 0;
            disk[name] = 0;
            out->push_back(
                {"ember_queue_length", {{"service", name}}, static_cast<double>(s->queue.size())});
        }
    }
    for (const auto& i : all) {
        by_state[{i.service, i.state}] += 1;
        mem[i.service] += static_cast<double>(i.memory_bytes);
        priv[i.service] += static_cast<double>(i.private_memory_bytes);
        disk[i.service] += static_cast<double>(i.disk_bytes);
    }
    for (const auto& [k, v] : by_state)
        out->push_back({"ember_instances", {{"service", k.first}, {"state", k.second}}, v});
    for (const auto& [k, v] : mem)
        out->push_back({"ember_instance_guest_memory_bytes", {{"service", k}}, v});
    for (const auto& [k, v] : priv)
        out->push_back({"ember_instance_private_memory_bytes", {{"service", k}}, v});
    for (const auto& [k, v] : disk)
        out->push_back({"ember_suspended_instance_bytes", {{"service", k}}, v});
}

}  // namespace ember::platform
