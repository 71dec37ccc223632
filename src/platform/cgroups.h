// cgroups.h - cgroup limits (memory, CPU, pids) for emberd's worker
// processes, where emberd is given a cgroup to manage: a "delegated" one.
//
// Ember never modifies a cgroup it did not create. The one exception is the
// delegated cgroup itself, which is emberd's by delegation: on cgroup v2 its
// cgroup.subtree_control enables the controllers for the children, and the
// processes in it (emberd) move into a leaf child "emberd" (v2 lets only
// leaves hold processes once controllers are enabled below them). Nothing
// above the delegated cgroup is touched.
//
// Which cgroup is delegated (emberd --cgroup):
//   auto  (default) the cgroup systemd runs emberd in, when systemd marked it
//         delegated (Delegate=yes: the xattr trusted.delegate or
//         user.delegate is "1"). On v1 that mark is on the unified (hybrid)
//         or name=systemd (legacy) hierarchy, and emberd's memory, cpu and
//         pids cgroups must be the same path as that unit's cgroup. Anything
//         else (a host-managed hierarchy, a login session, a container) is
//         "not delegated" and the layer is off.
//   off   no cgroups.
//   PATH  the operator's delegation: a cgroup path as /proc/self/cgroup
//         prints it (/ember, /system.slice/emberd.service). On v2 a full path
//         under the cgroup filesystem (/sys/fs/cgroup/ember) is accepted too.
//         On v1 the same path must exist in each of the memory, cpu and pids
//         hierarchies. It must exist and be writable; the root is refused.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace ember::platform {

struct CgroupLimits {
    uint64_t memory_bytes = 0;  // 0: no limit
    double cpus = 0;            // CPU time per wall time, 1.5 = one and a half CPUs; 0: no limit
    uint64_t pids = 0;          // processes and threads; 0: no limit
};
// "memory 2 GiB, cpus 1.5, pids 4096" ("no limits" when all are 0).
std::string describe_limits(const CgroupLimits& l);

enum class CgroupMode { kNone, kV2, kV1Hybrid, kV1Legacy };
const char* cgroup_mode_name(CgroupMode m);  // "none", "v2", "v1 hybrid", "v1 legacy"

// Where the detector looks; tests point it at a fake tree in a directory.
struct CgroupHost {
    std::string root = "/sys/fs/cgroup";
    std::string proc_self_cgroup;  // the text of /proc/self/cgroup; empty: read it
    // Removes a cgroup directory. A cgroup's control files vanish with it;
    // tests on a plain directory tree pass one that removes its files first.
    std::function<int(const char*)> rmdir = [](const char* p) { return ::rmdir(p); };
};

// A cgroup emberd created under the delegated one (one directory per
// hierarchy: one on v2, memory/cpu/pids on v1). Removed by the destructor.
class Cgroup {
  public:
    ~Cgroup();  // remove(200 ms); a cgroup that still has processes is left, with a warning
    Cgroup(const Cgroup&) = delete;
    Cgroup& operator=(const Cgroup&) = delete;

    // Moves process pid (all its threads) into the cgroup, in every hierarchy.
    Status add(pid_t pid);
    // Removes the directories once no process is left in them, retrying
    // while the kernel answers EBUSY (processes that are still exiting) for
    // up to timeout_ms.
    Status remove(int timeout_ms);
    const std::vector<std::string>& dirs() const { return dirs_; }

  private:
    friend class Cgroups;
    Cgroup(std::vector<std::string> dirs, std::function<int(const char*)> rmdir)
        : dirs_(std::move(dirs)), rmdir_(std::move(rmdir)) {}
    std::vector<std::string> dirs_;
    std::function<int(const char*)> rmdir_;
};

class Cgroups {
  public:
    // option: "auto", "off" or PATH (above). Never changes anything. An error
    // only when PATH is given and is not a usable cgroup; otherwise a layer
    // that is on or off with the reason in describe().
    static Result<std::shared_ptr<Cgroups>> detect(const std::string& option,
                                                   const CgroupHost& host = {});

    // emberd's start-up: detect(option), then activate() when on, and one log
    // line with describe() and the limits. An explicit PATH that cannot be
    // used is an error; with "auto" a failed activation turns the layer off
    // (the reason is logged).
    static Result<std::shared_ptr<Cgroups>> open_for_emberd(const std::string& option,
                                                            const CgroupLimits& worker_limits);

    bool on() const { return !dirs_.empty(); }
    CgroupMode mode() const { return mode_; }
    // The delegated cgroup's directory in each hierarchy used (empty: off).
    const std::vector<std::string>& delegated() const { return dirs_; }
    // emberd's own cgroup per hierarchy, from /proc/self/cgroup: "" for the
    // v2 one, "memory", "cpu", "name=systemd", ... for v1.
    const std::map<std::string, std::string>& own() const { return own_; }
    // One line for the start-up log: "cgroups: on (v2, delegated ...)" or
    // "cgroups: off (<why>)".
    std::string describe() const;

    // Once, before create(), when on(). v2: moves the processes in the
    // delegated cgroup (emberd itself) into its leaf "<delegated>/emberd",
    // then enables memory, cpu and pids in the delegated cgroup's
    // cgroup.subtree_control. v1: nothing to do.
    Status activate();

    // A new cgroup <delegated>/<name> with the limits written (v2 memory.max,
    // cpu.max, pids.max; v1 memory.limit_in_bytes, cpu.cfs_period_us and
    // cpu.cfs_quota_us, pids.max). name: letters, digits, '-', '_', '.', not
    // "emberd"; a cgroup of that name must not exist yet (a leftover of an
    // earlier emberd is an error naming it: choose names unique per run).
    // The worker spawner does: create("worker-<n>", limits)->add(pid).
    Result<std::unique_ptr<Cgroup>> create(const std::string& name,
                                           const CgroupLimits& limits) const;

  private:
    Cgroups() = default;
    CgroupMode mode_ = CgroupMode::kNone;
    std::vector<std::string> dirs_;  // delegated cgroup per hierarchy used
    std::map<std::string, std::string> own_;
    std::string why_off_;
    std::string label_;  // how the delegated cgroup is named in describe()
    CgroupHost host_;
};

}  // namespace ember::platform
