// vm_guest.h - the real GuestFactory: prepares services by booting their
// program in a KVM microVM until READY, and starts instances by restoring
// that snapshot (src/vmm). When an instance ends, its VM is reset to the
// snapshot's state on the instance's thread (off the request path) and kept
// for the next instance of the same snapshot.
#pragma once

#include <cstdint>

#include "platform/guest.h"
#include "platform/image_store.h"

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

class VmGuestFactory : public GuestFactory {
  public:
    VmGuestFactory(const ImageStore& images, VmGuestOptions opts) : images_(images), opts_(opts) {}

    Result<std::shared_ptr<const Prepared>> prepare(const ServiceSpec& spec,
                                                    const std::string& snapshot_path,
                                                    const ConsoleFn& console) override;
    Result<std::shared_ptr<const Prepared>> open(const ServiceSpec& spec,
                                                 const std::string& snapshot_path) override;
    Result<std::unique_ptr<Guest>> restore(const std::shared_ptr<const Prepared>& p,
                                           const ConsoleFn& console) override;

  private:
    const ImageStore& images_;
    VmGuestOptions opts_;
};

}  // namespace ember::platform
