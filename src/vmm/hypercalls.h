// hypercalls.h - the VMM side of the control path (port-I/O hypercalls) and
// of the console and stdin rings. Every guest struct is copied out of guest
// memory first and validated as a copy; a bad call gets an error status,
// never a VMM crash.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "vmm/guest_memory.h"
#include "vmm/stream_host.h"
#include "vmm/vm_config.h"

namespace ember {

// Drains the console ring of `mem` into cfg.console (not thread-safe by
// itself: callers serialise). Returns false when the ring was malformed.
bool drain_console_ring(GuestMemory& mem, const VmConfig& cfg);

// Writes guest console output to a host fd (ember-vm's stdout or stderr)
// without being held past the run's end: while fd cannot take more, it waits
// in short slices until *stop is set or the host CLOCK_MONOTONIC passes
// *deadline (0: none), then drops the rest and returns false. A reader that
// does not read thus stalls the guest's console (its ring fills), not
// --timeout or stop().
bool write_console_fd(int fd, const char* data, size_t len, const std::atomic<bool>& stop,
                      const std::atomic<int64_t>& deadline);

// Fills buf with len bytes from the kernel's CSPRNG; returns bytes written.
size_t getrandom_bytes(void* buf, size_t len);

// What the run loop does after a hypercall: resume the guest (the
// default), take the snapshot (ready_point), or end the run (done).
struct HypercallAction {
    // The guest reached READY (a wait on stdin with nothing pending, or the
    // READY call) while a snapshot was wanted. The call is left pending: the
    // VMM takes the snapshot, then calls complete_ready().
    bool ready_point = false;
    bool done = false;  // the VM ends with `outcome`
    Outcome outcome = Outcome::kExited;
    int exit_status = 0;
    std::string message;
};

class HypercallContext {
  public:
    // vcpu_fd: for reading CR2 in crash reports.
    HypercallContext(GuestMemory& mem, const VmConfig& cfg, VmStats& stats, int64_t wall_deadline,
                     int vcpu_fd, StreamHost& net)
        : mem_(mem),
          cfg_(cfg),
          stats_(stats),
          wall_deadline_(wall_deadline),
          vcpu_fd_(vcpu_fd),
          net_(net) {}

    // Handles hypercall `nr` with argument GPA `arg`.
    HypercallAction dispatch(uint32_t nr, uint64_t arg);
    // Copies pending console records out of the guest's ring to the sink.
    // Thread-safe with the doorbell handler (both take console_mutex).
    void drain_console();
    // Finishes the call left pending at a ready point.
    HypercallAction complete_ready(uint32_t nr, uint64_t arg);
    // Moves the stdin input available now into the guest's ring, or marks
    // EOF; never blocks (waits happen in the wait hypercall, together with
    // the network). Also used before a restored instance first runs.
    void read_stdin_now();
    void set_want_ready(bool v) { want_ready_ = v; }
    // Once *flag is true (Vm::suspend), a wait for connections with none
    // open or pending is a ready point (HypercallAction::ready_point), and
    // the guest's open streams get end-of-file so that it gets there.
    void set_suspend_flag(const std::atomic<bool>* flag) { suspend_ = flag; }
    // Waits end early (Outcome::kStopped) once *flag is true.
    void set_stop_flag(const std::atomic<bool>* flag) { stop_ = flag; }
    // Shared with the ioeventfd doorbell handler that also drains the console.
    void set_console_mutex(std::mutex* mu) { console_mu_ = mu; }
    // Called with true before the vCPU thread blocks in a wait hypercall
    // (every guest thread is blocked) and with false when it goes back to
    // the guest: the VM's time-slice timer need not tick in between.
    void set_wait_hook(std::function<void(bool waiting)> fn) { wait_hook_ = std::move(fn); }
    bool stdin_eof() const { return stdin_eof_; }
    void set_stdin_eof(bool v) { stdin_eof_ = v; }

  private:
    int64_t do_wait(uint64_t arg, HypercallAction* out);
    int64_t do_random(uint64_t arg);
    int64_t do_log(uint64_t arg);
    int64_t do_clock();
    int64_t do_volume(uint64_t arg);
    HypercallAction do_crash(uint64_t arg);
    HypercallAction do_exit(uint64_t arg);
    void mark_stdin_eof();
    void set_status(int64_t status);
    bool stdin_ready() const;
    bool suspend_point(uint32_t events);

    GuestMemory& mem_;
    const VmConfig& cfg_;
    VmStats& stats_;
    int64_t wall_deadline_;
    int vcpu_fd_;
    StreamHost& net_;
    bool stdin_eof_ = false;
    bool want_ready_ = false;
    const std::atomic<bool>* stop_ = nullptr;
    const std::atomic<bool>* suspend_ = nullptr;
    std::mutex* console_mu_ = nullptr;
    std::function<void(bool)> wait_hook_;
    std::unique_ptr<VolumeHost> volumes_;  // made at the first volume call
};

}  // namespace ember
