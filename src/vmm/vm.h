// vm.h - one Ember microVM: configuration, creation, the run loop, result.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "vmm/net.h"
#include "common/result.h"

namespace ember {

struct VmConfig {
    uint64_t mem_size = 64ull << 20;   // multiple of 2 MiB
    std::vector<uint8_t> program;      // the static ELF executable
    std::string guest_path;            // where the program is in the rootfs (AT_EXECFN)
    std::vector<std::string> argv;     // argv[0] included
    std::vector<std::string> env;      // "K=V"
    std::vector<uint8_t> rootfs;       // cpio newc archive
    int stdin_fd = -1;                 // read as the guest consumes stdin; -1 = empty
    uint64_t timeout_ns = 0;           // wall clock, 0 = none
    uint64_t cpu_limit_ns = 0;         // CPU time of the vCPU thread, 0 = none
    bool trace_syscalls = false;
    // Console output of the guest (fd 1 or 2). Default: write(2) to the same fd.
    std::function<void(int fd, const char* data, size_t len)> console;
    // Diagnostic lines from the guest kernel. Default: stderr "ember-vm: guest: ".
    std::function<void(const std::string& line)> log;
    // When set, the VM writes a snapshot here the first time it is READY
    // (blocks waiting for input, or makes the READY call), then stops with
    // Outcome::kSnapshotted unless continue_after_snapshot.
    std::string snapshot_out;
    bool continue_after_snapshot = false;
    // Published ports and egress rules for the guest's sockets.
    NetConfig net;
    // Patch each trapped `syscall` site into a call through the sled in page
    // 0, so later syscalls from it take no trap (see ember_abi.h; off for
    // programs that keep data in the red zone across syscalls).
    bool syscall_patch = true;
    // Restored VMs only: allow reset() to return the VM to the snapshot's
    // state and run it again as a new instance.
    bool reusable = false;
};

enum class Outcome {
    kExited,       // the program exited; exit_status is its status
    kCrashed,      // CPU exception in the guest (crash report in message)
    kKernelPanic,  // the guest kernel reported a fatal error
    kTimeout,      // wall-clock limit
    kCpuLimit,     // CPU-time limit
    kDeadlock,     // the guest waits for nothing, forever
    kVmError,      // triple fault, unexpected exit, bad port, internal error
    kSnapshotted,  // the snapshot was written and the VM stopped at READY
    kStopped,      // stop() was called
};
const char* outcome_name(Outcome o);

struct VmStats {
    uint64_t exits = 0;        // returns from KVM_RUN
    uint64_t hypercalls = 0;
    uint64_t syscalls = 0;     // counted by the guest kernel
    uint64_t bad_hypercalls = 0;
    double create_us = 0;      // create VM -> ready to run
    double first_insn_us = 0;  // create VM -> first application instruction
    double kernel_init_us = 0; // guest kernel's first instruction -> application start
    double run_us = 0;         // first KVM_RUN -> exit
    double total_us = 0;       // create VM -> exit
    double snapshot_us = 0;    // writing the snapshot, when one was taken
};

struct VmResult {
    Outcome outcome = Outcome::kVmError;
    int exit_status = 0;
    std::string message;  // diagnostic for every outcome but kExited
    VmStats stats;
};

namespace snapshot {
class Snapshot;
}

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
    // VmResult; the host process is never affected.
    VmResult run();
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
    // Where guest RAM is mapped in this process, for memory accounting
    // (e.g. the emberd reads /proc/self/smaps for it). Thread-safe.
    std::pair<const void*, size_t> guest_memory_range() const;

    struct Impl;

private:
    explicit Vm(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Creates a microVM for `config`, runs it to completion and tears it down.
// An error Status means the VM could not be set up (bad program, no KVM, ...);
// anything the guest does is reported in VmResult.
Result<VmResult> run_vm(VmConfig config);

// Facts about this host's KVM, for `ember-vm info`.
struct HostInfo {
    std::string kind;  // "pvm" or "hardware"
    int api_version = 0;
    uint32_t tsc_khz = 0;
    uint64_t xcr0 = 0;
};
Result<HostInfo> probe_host();

}  // namespace ember
