// vm_config.h - what a microVM is asked to run (VmConfig), how its run
// ended (Outcome) and what it cost (VmStats). Plain data shared by the Vm
// (vm.h) and the hypercall handlers (hypercalls.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vmm/guest_memory.h"  // the memory-size rule
#include "vmm/stream_host.h"
#include "vmm/volume_host.h"

namespace ember {

struct VmConfig {
    uint64_t mem_size = 64ull << 20;  // see check_guest_memory_size()
    std::vector<uint8_t> program;     // the ELF executable
    // A dynamically linked program's interpreter (PT_INTERP), loaded beside
    // it; empty for a static program.
    std::vector<uint8_t> interpreter;
    std::string guest_path;         // where the program is in the rootfs (AT_EXECFN)
    std::string cwd;                // initial working directory in the guest ("" = /)
    std::vector<std::string> argv;  // argv[0] included
    std::vector<std::string> env;   // "K=V"
    std::vector<uint8_t> rootfs;    // cpio newc archive (copied into its memory slot)
    // Or the archive as a host file, used instead of rootfs when >= 0: mapped
    // copy-on-write as the guest's root filesystem slot, never copied, its
    // pages shared with every VM on the host that maps the same file. Not
    // owned; it must stay open until the VM is created.
    int rootfs_fd = -1;
    // rootfs_fd's file by name (absolute; the host cache's, which never
    // rewrites a file in place): a snapshot then refers to it instead of
    // holding its pages. "" (e.g. a memfd): the snapshot holds them.
    std::string rootfs_path;
    int stdin_fd = -1;          // read as the guest consumes stdin; -1 = empty
    uint64_t timeout_ns = 0;    // wall clock, 0 = none
    uint64_t cpu_limit_ns = 0;  // CPU time of the vCPU thread, 0 = none
    bool trace_syscalls = false;
    // Console output of the guest (fd 1 or 2). Default: write(2) to the same fd.
    std::function<void(int fd, const char* data, size_t len)> console;
    // Diagnostic lines from the guest kernel. Default: stderr "ember-vm: guest: ".
    std::function<void(const std::string& line)> log;
    // When set, the VM writes a snapshot here the first time it is READY
    // (blocks waiting for input, or makes the READY call), then stops with
    // Outcome::kSnapshotted unless continue_after_snapshot.
    std::string snapshot_out;
    // Or into this open read-write file (not owned), for a process that
    // cannot create files; used when >= 0 (snapshot::write_fd).
    int snapshot_out_fd = -1;
    bool continue_after_snapshot = false;
    // Published ports and egress rules for the guest's sockets.
    NetConfig net;
    // Let the kernel route `mov $nr,%eax; syscall` sites around the trap
    // after their first trap (see "patched syscall sites" in ember_abi.h).
    bool syscall_patch = true;
    // Restored VMs only: allow reset() to return the VM to the snapshot's
    // state and run it again as a new instance.
    bool reusable = false;
    // Time slice of the guest's threads while more than one is runnable
    // (the VMM preempts a thread that has not blocked for this long); 0:
    // no preemption.
    uint64_t time_slice_ns = 10'000'000;
    // Host directories mounted in the guest (at most EMBER_VOLUMES_MAX);
    // their descriptors stay the caller's and must outlive every run.
    std::vector<VolumeMount> volumes;
};

// How a VM run ended (RunReport::outcome).
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
    uint64_t exits = 0;  // returns from KVM_RUN
    uint64_t hypercalls = 0;
    uint64_t syscalls = 0;       // counted by the guest kernel
    uint64_t fast_syscalls = 0;  // of those, through a patched site (no trap)
    uint64_t bad_hypercalls = 0;
    uint64_t volume_ops = 0;                     // EMBER_HC_VOLUME calls (one exit each)
    uint64_t preemptions = 0;                    // threads preempted at the end of their time slice
    uint64_t cr3_loads = 0;                      // guest address-space switches and TLB flushes
    uint64_t forks = 0;                          // guest fork/vfork/clone of processes
    uint64_t cow_faults = 0;                     // guest copy-on-write faults
    double cr3_us = 0, fork_us = 0, cow_us = 0;  // guest time in each (TSC)
    double create_us = 0;                        // create VM -> ready to run
    double first_insn_us = 0;                    // create VM -> first application instruction
    double kernel_init_us = 0;   // guest kernel's first instruction -> application start
    double run_us = 0;           // first KVM_RUN -> exit
    double total_us = 0;         // create VM -> exit
    double snapshot_us = 0;      // writing the snapshot, when one was taken
    uint64_t suspend_pages = 0;  // Vm::suspend: pages written
    uint64_t suspend_bytes = 0;  // and the file's size
    // UDP through the host (stream_host.h NetStats): host sockets at most,
    // datagrams each way and dropped, DNS queries, destinations denied.
    uint64_t udp_sockets_max = 0, dgrams_out = 0, dgrams_in = 0, dgrams_dropped = 0,
             dns_queries = 0, egress_denied = 0;
};

}  // namespace ember
