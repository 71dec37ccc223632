// Stateful scale to zero in the instance manager: idle instances of a
// service with scale_to_zero "stateful" are suspended (Guest::suspend) into
// files of the suspend directory instead of being stopped, and the next
// instance the service needs resumes the newest of them
// (GuestFactory::resume). The files outlive emberd: a restart takes those of
// each service's current generation back; a redeploy or a delete removes them.
#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "platform/instance_manager.h"
#include "platform/instance_state.h"
#include "platform/snapshot_seal.h"

namespace ember::platform {

namespace {

// How long an instance asked to suspend may take to get to a wait with no
// connection (its open connections get end-of-file): then it is stopped.
constexpr int64_t kSuspendGraceNs = 5'000'000'000;

std::string suspended_file(const std::string& dir, const std::string& service, uint64_t generation,
                           uint64_t id) {
    return dir + "/" + service + "." + std::to_string(generation) + "." + std::to_string(id) +
           ".susp";
}

// A file and its seal.
void remove_suspended(const std::string& path) {
    ::unlink(path.c_str());
    ::unlink(seal_path(path).c_str());
}

uint64_t disk_usage(const std::string& path) {
    uint64_t total = 0;
    struct stat st;
    for (const std::string& p : {path, seal_path(path)})
        if (::stat(p.c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_blocks) * 512;
    return total;
}

// "<generation>.<id>.susp" -> both; false for anything else.
bool parse_suspended_name(const std::string& rest, uint64_t* generation, uint64_t* id) {
    const auto dot1 = rest.find('.');
    const auto dot2 = rest.find('.', dot1 == std::string::npos ? dot1 : dot1 + 1);
    if (dot1 == std::string::npos || dot2 == std::string::npos || rest.substr(dot2) != ".susp" ||
        dot1 == 0 || dot2 == dot1 + 1)
        return false;
    const std::string g = rest.substr(0, dot1), i = rest.substr(dot1 + 1, dot2 - dot1 - 1);
    if (g.find_first_not_of("0123456789") != std::string::npos ||
        i.find_first_not_of("0123456789") != std::string::npos || g.size() > 18 || i.size() > 18)
        return false;
    *generation = std::strtoull(g.c_str(), nullptr, 10);
    *id = std::strtoull(i.c_str(), nullptr, 10);
    return true;
}

}  // namespace

bool InstanceManager::stateful_locked(const ServiceState& s) const {
    return !suspend_dir_.empty() && s.rec.spec.scale_to_zero == ScaleToZero::kStateful &&
           s.rec.spec.isolation == Isolation::kInstance;
}

uint32_t InstanceManager::suspending_locked(const ServiceState& s) const {
    uint32_t n = 0;
    for (const auto& inst : s.instances)
        if (inst->suspending && inst->generation == s.rec.generation) ++n;
    return n;
}

void InstanceManager::suspend_instance_locked(Instance& inst) {
    if (inst.stop_requested || inst.state != Instance::State::kReady || !inst.guest) {
        stop_instance_locked(inst);
        return;
    }
    inst.stop_requested = true;
    inst.suspending = true;
    inst.suspend_started = mono_now_ns();
    inst.suspend_path = suspended_file(suspend_dir_, inst.service->name, inst.generation, inst.id);
    inst.state = Instance::State::kStopping;
    inst.guest->suspend(inst.suspend_path);
}

// Instances that do not get to their suspension in time are stopped (their
// state is lost, as with scale_to_zero "discard"); the log says so.
void InstanceManager::suspend_housekeeping_locked(ServiceState& s, int64_t now) {
    for (auto& inst : s.instances) {
        if (!inst->suspending || inst->suspend_abandoned ||
            now - inst->suspend_started < kSuspendGraceNs)
            continue;
        inst->suspend_abandoned = true;
        logs_.append(s.name, inst->name(), "ember",
                     "the instance did not become idle within 5 s of its suspension (a "
                     "connection or a thread kept it busy): it is stopped, its state is lost");
        if (inst->guest) inst->guest->stop();
    }
}

void InstanceManager::record_suspended_locked(ServiceState& s, Instance& inst, int64_t now) {
    if (s.removed || inst.generation != s.rec.generation || !stateful_locked(s)) {
        remove_suspended(inst.suspend_path);
        return;
    }
    SuspendedInstance rec;
    rec.id = inst.id;
    rec.generation = inst.generation;
    rec.path = inst.suspend_path;
    rec.disk_bytes = disk_usage(rec.path);
    rec.served = inst.served;
    rec.since = now;
    s.suspended.push_back(rec);
    logs_.append(s.name, inst.name(), "ember",
                 "instance suspended (" + inst.stop_reason + "; " +
                     std::to_string((rec.disk_bytes + 1023) / 1024) + " KiB on disk)");
}

void InstanceManager::discard_suspended_locked(ServiceState& s,
                                               bool (*drop)(uint64_t gen, uint64_t current)) {
    std::vector<SuspendedInstance> keep;
    for (auto& rec : s.suspended) {
        if (drop(rec.generation, s.rec.generation))
            remove_suspended(rec.path);
        else
            keep.push_back(std::move(rec));
    }
    s.suspended = std::move(keep);
}

// At the service's first deploy in this process: the suspended instances
// an earlier emberd left. Files of other generations, and unfinished ones,
// go.
void InstanceManager::adopt_suspended_locked(ServiceState& s) {
    if (suspend_dir_.empty()) return;
    DIR* d = ::opendir(suspend_dir_.c_str());
    if (!d) return;
    const std::string prefix = s.name + ".";
    while (dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        // Service names have no dots: the prefix names one service.
        if (n.compare(0, prefix.size(), prefix) != 0) continue;
        const std::string path = suspend_dir_ + "/" + n;
        if (n.size() > 5 && n.compare(n.size() - 5, 5, ".seal") == 0) {
            struct stat st;
            if (::stat(path.substr(0, path.size() - 5).c_str(), &st) != 0) ::unlink(path.c_str());
            continue;
        }
        uint64_t gen = 0, id = 0;
        if (!parse_suspended_name(n.substr(prefix.size()), &gen, &id) || gen != s.rec.generation ||
            !stateful_locked(s)) {
            remove_suspended(path);
            continue;
        }
        SuspendedInstance rec;
        rec.id = id;
        rec.generation = gen;
        rec.path = path;
        rec.disk_bytes = disk_usage(path);
        rec.since = mono_now_ns();
        s.suspended.push_back(rec);
        next_instance_ = std::max(next_instance_, id + 1);
    }
    ::closedir(d);
    if (!s.suspended.empty())
        spdlog::info("service {}: {} suspended instance(s) kept from before the restart", s.name,
                     s.suspended.size());
}

}  // namespace ember::platform
