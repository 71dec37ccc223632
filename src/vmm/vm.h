// vm.h - one Ember microVM: configuration, creation, the run loop, result.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "common/result.h"
#include "vmm/vm_config.h"

namespace ember {

// What Vm::run() reports: how the run ended (Outcome), the program's exit
// status, a diagnostic and the run's costs.
struct RunReport {
    Outcome outcome = Outcome::kVmError;
    int exit_status = 0;
    std::string message;  // diagnostic for every outcome but kExited
    VmStats stats;
};

namespace snapshot {
class Snapshot;
class Suspended;
struct VcpuState;
}  // namespace snapshot

// One microVM. Created by boot() or restore(), then run() once.
class Vm {
  public:
    ~Vm();
    Vm(const Vm&) = delete;
    Vm& operator=(const Vm&) = delete;

    // Boots `config.program` in a new VM. An error Status means the VM could
    // not be set up (bad program, no KVM, ...).
    static Result<std::unique_ptr<Vm>> boot(VmConfig config);
    // Creates a VM from a snapshot. Uses config's runtime fields only
    // (stdin_fd, timeouts, console, log). The input available on stdin_fd is
    // placed in guest memory before the first instruction.
    static Result<std::unique_ptr<Vm>> restore(std::shared_ptr<const snapshot::Snapshot> snap,
                                               VmConfig config);
    // Runs until the guest exits, crashes, hits a limit, or (with
    // snapshot_out) is snapshotted. Anything the guest does is reported in
    // RunReport; the host process is never affected.
    RunReport run();
    // Hands an accepted client connection to the guest's listener on
    // guest_port before run() (the platform gateway's path). Takes fd.
    Status adopt_connection(int fd, uint16_t guest_port);
    // Thread-safe, also while run() executes in another thread: hands a
    // client connection to the guest's listener on guest_port (fd is closed
    // if there is none).
    void post_connection(int fd, uint16_t guest_port);
    // Thread-safe: makes run() return Outcome::kStopped soon, whether the
    // guest is running or waiting.
    void stop();
    // After run() returned: returns a VM restored with config.reusable to
    // the snapshot's exact state (every page written since the restore is
    // copied back, registers reloaded, new clock base and entropy), ready to run()
    // as a new instance with `config`'s runtime fields. Much cheaper than a
    // new restore: the VM and its memory mappings stay warm.
    Status reset(VmConfig config);
    // Thread-safe, also while run() executes: asks the instance to suspend
    // itself into fd (read-write, not owned; the caller keeps it open until
    // run() returns). The guest's connections get end-of-file; once it
    // waits for new connections with none open or pending (as at READY),
    // the VMM writes a suspended snapshot (suspended.h: the pages that
    // differ from the snapshot this VM was restored from, vCPU and VMM
    // state) and run() returns Outcome::kSnapshotted. Until then the guest
    // runs on; stop() still ends it (then nothing is written). Only for a
    // VM made by restore().
    void suspend(int fd);
    // Before run(), on a VM fresh from restore() or reset(): makes it the
    // instance `s` saved (s must be of this VM's snapshot: BaseId checked).
    // The guest resumes in the wait it was suspended in, with a new clock
    // base and entropy.
    Status resume_from(const snapshot::Suspended& s);
    // Where guest RAM is mapped in this process, for memory accounting
    // (e.g. the emberd reads /proc/self/smaps for it). Thread-safe.
    std::pair<const void*, size_t> guest_memory_range() const;

    // For tests and diagnostics, while run() is not executing: the vCPU's
    // registers as a snapshot holds them (for a restored VM, the snapshot's
    // MSRs; else every guest-writable MSR this host keeps), and setting
    // them, as a guest at CPL 0 could (the TSC is not set).
    Result<snapshot::VcpuState> vcpu_state();
    Status set_vcpu_state(const snapshot::VcpuState& state);

    struct Impl;

  private:
    explicit Vm(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Creates a microVM for `config`, runs it to completion and tears it down.
// An error Status means the VM could not be set up (bad program, no KVM, ...);
// anything the guest does is reported in RunReport.
Result<RunReport> run_vm(VmConfig config);

// Facts about this host's KVM, for `ember-vm info`.
struct HostInfo {
    std::string kind;  // "pvm" or "hardware"
    int api_version = 0;
    uint32_t tsc_khz = 0;
    uint64_t xcr0 = 0;
};
Result<HostInfo> probe_host();

}  // namespace ember
