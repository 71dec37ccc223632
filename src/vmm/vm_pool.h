// vm_pool.h - KVM VMs and vCPUs created ahead of need, and torn down off
// the request path. Creating a VM+vCPU costs ~0.6 ms on the PVM hosts and
// destroying one as much again; neither belongs on a cold start.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>

#include "common/result.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm.h"

namespace ember {

// A VM with one vCPU whose CPUID is set; no memory yet.
struct VmShell {
    Fd vm;
    Vcpu vcpu;
};

class VmPool {
  public:
    // The process-wide pool (lives until exit).
    static VmPool& instance();

    // A shell from the pool, or a new one when the pool is empty.
    Result<VmShell> take();
    // Keeps `n` shells ready, refilled by a background thread.
    void set_target(size_t n);
    // Creates shells until `n` are ready (blocking).
    Status prefill(size_t n);
    // Starts creating `n` shells on a background thread and returns at once
    // (a one-shot tool overlaps VM creation with loading its files). take()
    // waits for a shell being created rather than creating another.
    void prefetch(size_t n);
    size_t ready() const;
    // Hands a finished VM to the background reaper.
    void retire(VmShell shell, GuestMemory mem);

    // Creates one shell now.
    static Result<VmShell> create_shell();
    // From now on, every shell is made on one thread with a file table of
    // its own, so that KVM makes no debugfs directory for it (vm_pool.cpp).
    // Call it before the process is sandboxed (unshare, pidfd_open); on an
    // error shells are made as before.
    static Status start_creator();

  private:
    VmPool() = default;
    void refill_loop();
    void reap_loop();
    void start_reaper();  // under mu_

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<VmShell> ready_;
    size_t target_ = 0;
    size_t creating_ = 0;  // shells being created by prefetch()
    bool refill_started_ = false;
    std::condition_variable reap_cv_;
    std::deque<std::pair<VmShell, GuestMemory>> dead_;
    bool reaper_started_ = false;
};

}  // namespace ember
