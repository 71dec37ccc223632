// worker_client.h - the GuestFactory emberd uses: every microVM runs in a VM
// worker process (worker_main.h) that holds no secret and runs sandboxed;
// this side, in emberd, speaks worker_protocol.h to it.
//
// What stays here: the API token, the database, the image store and the
// snapshot cache (opened here and passed as fds), the egress rules (checked
// here: the worker asks for each outbound connection and gets a socket).
//
// A worker that dies ends each of its instances with "worker process died:
// <wait status>"; the next call starts a new worker, and a Prepared opens
// its snapshot again in it when it is next used. A worker that stays alive
// but stops answering emberd's pings is killed and treated the same ("VM
// worker hung: ...").
//
// Placement: --vm-workers workers are started at once, and a service is
// prepared in the one a hash of its name picks (its home). A worker holds at
// most vms_per_worker instances (and prepares): every VM registers a KVM MMU
// notifier on its process's address space, so the cost of each munmap,
// madvise and KVM_CREATE_VM in a process grows with its number of VMs
// (docs/benchmarks.md, "Density"). An instance goes to a worker where its
// snapshot is open already and that has room (its home first), else to any
// worker with room (its snapshot is opened there), else to a new worker,
// up to max_workers. A worker beyond the first --vm-workers that has held
// no instance for a while is stopped.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "platform/cgroups.h"
#include "platform/guest.h"
#include "platform/image_store.h"
#include "platform/vm_guest.h"
#include "platform/volume_store.h"

namespace ember::platform {

struct WorkerOptions {
    size_t workers = 1;
    bool sandbox = true;                // false: --no-sandbox (debugging)
    uint32_t uid = 65534, gid = 65534;  // the workers' user when emberd runs as root
    size_t vm_pool = 4;                 // KVM VMs each worker creates ahead
    // Instances (and prepares) one worker holds at most; more workers are
    // started for more, up to max_workers in all (see the top of this file).
    size_t vms_per_worker = 500;
    size_t max_workers = 64;
    // A worker beyond `workers` that has held nothing for this long is stopped.
    uint64_t idle_worker_ms = 30000;
    VmGuestOptions vm;
    // When set (and on), each worker process goes into a cgroup of its own
    // under the delegated one, with these limits.
    std::shared_ptr<Cgroups> cgroups;
    CgroupLimits cgroup_limits;
    // Heartbeat: each worker is pinged every ping_ms; one that has not
    // answered for hang_ms (alive but stuck: stopped, deadlocked, its
    // channel thread blocked) is killed, ends like a dead worker, and is
    // replaced at the next call. 0: no heartbeat.
    uint64_t hang_ms = 5000;
    uint64_t ping_ms = 1000;
    // Where the services' volumes are (not owned; null: a spec with
    // volumes cannot be prepared).
    VolumeStore* volumes = nullptr;
};

// Opens spec's volume directories for a worker (appended to fds, O_PATH)
// and adds their quotas to the message body ("volume_quotas").
Status add_volume_fds(VolumeStore* store, const ServiceSpec& spec, std::vector<int>* fds,
                      nlohmann::json* body);

class WorkerProcess;
class WorkerPrepared;

class WorkerGuestFactory : public GuestFactory {
  public:
    // Starts the workers; each reports its sandbox's layers (logged). An
    // error when one cannot start or sandbox itself.
    static Result<std::unique_ptr<WorkerGuestFactory>> start(const ImageStore& images,
                                                             WorkerOptions opts);
    ~WorkerGuestFactory() override;

    Result<std::shared_ptr<const Prepared>> prepare(const ServiceSpec& spec,
                                                    const std::string& snapshot_path,
                                                    const ConsoleFn& console) override;
    Result<std::shared_ptr<const Prepared>> open(const ServiceSpec& spec,
                                                 const std::string& snapshot_path) override;
    Result<std::unique_ptr<Guest>> restore(const std::shared_ptr<const Prepared>& p,
                                           const ConsoleFn& console) override;
    Result<std::unique_ptr<Guest>> resume(const std::shared_ptr<const Prepared>& p,
                                          const std::string& path,
                                          const ConsoleFn& console) override;

    // The sandbox layers the first worker reported, one line.
    const std::string& sandbox_summary() const { return summary_; }

  private:
    struct Slot {
        std::mutex mu;
        std::shared_ptr<WorkerProcess> current;
    };
    WorkerGuestFactory(const ImageStore& images, WorkerOptions opts);
    void heartbeat_loop();
    // Stops workers beyond the first opts_.workers that held nothing for
    // idle_worker_ms.
    void stop_idle_workers();
    // The slot's live worker, started anew when it died.
    Result<std::shared_ptr<WorkerProcess>> worker(size_t slot);
    size_t slot_of(const std::string& service) const;
    std::vector<Slot*> slots() const;
    // A live worker with room for one more VM, which is reserved in it
    // (WorkerProcess::release_vm gives it back); see the top of this file.
    // p: the snapshot the VM is for (null: a prepare of service).
    Result<std::shared_ptr<WorkerProcess>> place(const std::string& service,
                                                 const WorkerPrepared* p);
    // resume_path: resume from that suspended snapshot instead. *used: the
    // worker it went to.
    Result<std::unique_ptr<Guest>> restore_once(const std::shared_ptr<const Prepared>& p,
                                                const ConsoleFn& console,
                                                const std::string& resume_path,
                                                std::shared_ptr<WorkerProcess>* used);
    Result<std::unique_ptr<Guest>> restore_retry(const std::shared_ptr<const Prepared>& p,
                                                 const ConsoleFn& console,
                                                 const std::string& resume_path);
    uint64_t next_id() { return next_id_++; }
    VolumeStore* volume_store() const { return opts_.volumes; }

    const ImageStore& images_;
    WorkerOptions opts_;
    mutable std::mutex slots_mu_;  // slots_ itself (it grows); each Slot has its mu
    std::vector<std::unique_ptr<Slot>> slots_;
    std::mutex place_mu_;  // one placement at a time: reservations stay within the bound
    std::atomic<uint64_t> next_id_{1};
    std::string summary_;
    std::mutex hb_mu_;
    std::condition_variable hb_cv_;
    bool hb_stop_ = false;
    std::thread heartbeat_;
    friend class WorkerPrepared;
};

}  // namespace ember::platform
