// vm_guest.h - what the VM worker process (worker_main.cpp) does for
// WorkerGuestFactory: prepares services by booting their program in a KVM
// microVM until READY, and starts instances by restoring that snapshot
// (src/vmm). When an instance ends, its VM is reset to the
// snapshot's state on the instance's thread (off the request path) and kept
// for the next instance of the same snapshot.
#pragma once

#include <cstdint>
#include <vector>

#include "platform/guest.h"
#include "vmm/stream_host.h"
#include "vmm/volume_host.h"

namespace ember::platform {

struct VmGuestOptions {
    uint64_t prepare_timeout_ms = 10000;  // boot to READY
    uint64_t max_image_bytes = 256ull << 20;
    // Finished instances' VMs kept per snapshot, already reset to the
    // snapshot's state (Vm::reset), for the next instance: a reset VM keeps
    // its host mappings warm and starts several times faster than a restore
    // into a new VM. 0 disables reuse.
    size_t warm_vms = 4;
};

// A service's volumes in the worker: spec.volumes with the directory fds
// emberd passed (owned: closed when the last Prepared of them goes) and
// their quotas. Mounted read-only with isolation "request".
struct VmVolumes {
    std::vector<VolumeMount> mounts;
    VmVolumes() = default;
    VmVolumes(const VmVolumes&) = delete;
    VmVolumes& operator=(const VmVolumes&) = delete;
    ~VmVolumes();
};
// Takes fds (one per spec.volumes entry, in order); quotas likewise.
Result<std::shared_ptr<VmVolumes>> make_volumes(const ServiceSpec& spec, std::vector<int> fds,
                                                const std::vector<uint64_t>& quotas);

// The worker gets its files as open fds and may have no network.
struct VmPrepareInput {
    std::vector<uint8_t> program;
    std::vector<std::vector<uint8_t>> files;  // the contents of spec.files, in order
    int snapshot_fd = -1;                     // the snapshot is written here (not owned)
    // The same file opened read-only (not owned; -1: snapshot_fd): what the
    // Prepared keeps, so the snapshot cannot be changed through it later.
    int snapshot_read_fd = -1;
    ConnectFn connect;  // outbound connects (empty: made here)
    // With connect: the guest's resolver's table (NetConfig::dns).
    std::shared_ptr<const DnsServer::Table> dns;
    std::shared_ptr<VmVolumes> volumes;  // may be null: none
};
Result<std::shared_ptr<const Prepared>> prepare_vm(const ServiceSpec& spec, VmPrepareInput in,
                                                   const ConsoleFn& console,
                                                   const VmGuestOptions& opts);
// Takes snapshot_fd; name is for messages.
Result<std::shared_ptr<const Prepared>> open_vm(const ServiceSpec& spec, int snapshot_fd,
                                                const std::string& name, ConnectFn connect,
                                                std::shared_ptr<const DnsServer::Table> dns,
                                                const VmGuestOptions& opts,
                                                std::shared_ptr<VmVolumes> volumes = nullptr);
// p must come from this file's functions. warm_only: only into a kept reset
// VM (quick: no KVM calls), else unavailable.
Result<std::unique_ptr<Guest>> restore_vm(const std::shared_ptr<const Prepared>& p,
                                          const ConsoleFn& console, bool warm_only = false);
// The instance a suspended snapshot (src/vmm/suspended.h, read from fd,
// which is taken) saved, restored on p's snapshot (a kept reset VM if there
// is one). An error when the file is damaged or of another snapshot.
Result<std::unique_ptr<Guest>> resume_vm(const std::shared_ptr<const Prepared>& p, int fd,
                                         const ConsoleFn& console);
// Guest::suspend for an instance of restore_vm/resume_vm (g must be one),
// into fd (read-write; taken): run() then reports `suspended` when the
// instance was written there.
void suspend_vm(Guest& g, int fd);

}  // namespace ember::platform
