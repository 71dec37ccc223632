// instance_share.cpp - the instance manager's cluster side: a service's
// min/max are cluster-wide, and each node runs its share of them (the
// share function comes from the cluster's placement, cluster/placement.h),
// and the question the request forwarder asks before it forwards: would a
// request here be assigned at once?
#include <algorithm>

#include "platform/instance_manager.h"
#include "platform/instance_state.h"

namespace ember::platform {

void InstanceManager::apply_share_locked(ServiceState& s, const ServiceSpec& declared) {
    s.declared = declared;
    if (!share_) return;
    uint32_t min = declared.min_instances, max = declared.max_instances;
    share_(s.name, &min, &max);
    // A node whose share of max is 0 still serves when it must (no peer can
    // take the request): one instance at most. Its share of min stays 0.
    s.rec.spec.max_instances = std::max<uint32_t>(1, std::min(max, declared.max_instances));
    s.rec.spec.min_instances = std::min(min, s.rec.spec.max_instances);
}

void InstanceManager::set_share(ShareFn share) {
    std::lock_guard lock(mu_);
    share_ = std::move(share);
}

void InstanceManager::reshare() {
    std::lock_guard lock(mu_);
    for (auto& [name, s] : services_) {
        if (s->removed) continue;
        apply_share_locked(*s, s->declared);
        schedule_locked(*s);
    }
    // Housekeeping starts the instances a larger share of min asks for and
    // stops the idle ones a smaller share no longer keeps.
    cv_.notify_all();
}

bool InstanceManager::can_take_now(const std::string& service) {
    std::lock_guard lock(mu_);
    auto it = services_.find(service);
    if (it == services_.end() || shutting_down_) return false;
    const ServiceState& s = *it->second;
    if (!s.prepared || s.removed || !s.queue.empty()) return false;
    const ServiceSpec& spec = s.rec.spec;
    if (spec.isolation == Isolation::kRequest) {
        for (const auto& inst : s.instances)
            if (inst->single_use && !inst->taken && !inst->stop_requested &&
                inst->generation == s.rec.generation &&
                (inst->state == Instance::State::kReady ||
                 inst->state == Instance::State::kStarting))
                return true;
        return live_instances_locked(s, false) < spec.max_instances;
    }
    for (const auto& inst : s.instances) {
        if (inst->generation != s.rec.generation || inst->no_new || inst->single_use ||
            inst->stop_requested || inst->active >= spec.concurrency)
            continue;
        if (inst->state == Instance::State::kReady || inst->state == Instance::State::kStarting)
            return true;
    }
    return live_instances_locked(s, true) < spec.max_instances;
}

}  // namespace ember::platform
