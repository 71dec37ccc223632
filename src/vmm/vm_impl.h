// vm_impl.h - private to the VMM: the state of one microVM (Vm::Impl),
// shared by its phases:
//   vm_boot.cpp     a new VM: guest memory contents, then the x86 machine state
//   vm_restore.cpp  a VM from a snapshot; snapshot writing; reset; what a
//                   restored instance teaches its snapshot (working set, patches)
//   vm_run.cpp      the run loop and the handling of each exit
//   vm.cpp          what the phases share, and the public Vm
#pragma once

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "abi/ember_abi.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm.h"
#include "vmm/loader.h"
#include "vmm/snapshot.h"
#include "vmm/stream_host.h"
#include "vmm/vm.h"
#include "vmm/vm_pool.h"

namespace ember {

class HypercallContext;

struct Vm::Impl {
    explicit Impl(VmConfig cfg) : cfg_(std::move(cfg)) {}
    ~Impl();

    // vm.cpp: shared by boot and restore.
    VmConfig with_defaults(VmConfig cfg);  // console and log sinks bound to this VM's limits
    Status open_kvm();
    Status attach_memory(uint32_t flags = 0);
    void setup_doorbell();
    void kick_if_over_cpu_limit();
    Status start_net();
    Status take_shell();
    Status learn_host();

    // vm_boot.cpp
    Status setup_boot();
    Result<ember_kernel_header> build_machine_tables();
    Result<uint64_t> rootfs_size() const;
    Status place_rootfs();
    Status setup_syscall_slots(const LoadedImage& app);
    // The top of the kernel's page pool: the top of RAM, or below the
    // interpreter.
    uint64_t pool_top() const;
    void prefault_boot_pages();
    Status setup_vcpu(const ember_kernel_header& kh);
    Status setup_sregs();
    Status setup_xcr0();
    Status setup_msrs(const ember_kernel_header& kh);
    Status setup_regs(const ember_kernel_header& kh);
    Status fill_boot_info(const LoadedImage& app, uint64_t args_size);

    LoadedImage interp_{};  // a dynamic program's interpreter (lo == hi == 0: none)
    // The root filesystem's slot (boot only; a restored VM has one slot for
    // all its memory): rootfs_gpa_ == mem_.size() when there is none.
    uint64_t rootfs_gpa_ = 0, rootfs_size_ = 0;
    // The archive's file, which snapshots refer to (size 0: none).
    snapshot::RootfsRef rootfs_ref_;

    // vm_restore.cpp
    Status setup_restore(std::shared_ptr<const snapshot::Snapshot> snap);
    Status load_snapshot_state();
    Status load_vcpu_state(const snapshot::VcpuState& v, int64_t guest_mono_ns);
    Status write_vcpu_state(const snapshot::VcpuState& v);
    Status read_vcpu_state(const std::vector<uint32_t>& msr_indices, snapshot::VcpuState* v);
    std::vector<uint32_t> restorable_guest_msrs();
    Status check_events_clean();
    Status refresh_boot_info();
    Status reset(VmConfig cfg);
    Status put_back_written_pages();
    Status restore_page_range(uint64_t gpa, uint64_t len);
    Status take_snapshot(uint32_t call, uint64_t arg, bool stdin_eof);
    Status complete_pending_io();
    void learn_working_set();

    // vm_suspend.cpp: stateful scale to zero.
    Status write_suspended(uint32_t call, uint64_t arg);
    Status resume_from(const snapshot::Suspended& s);

    // vm_run.cpp
    RunReport run();
    void resume_ready_call(HypercallContext& hc);
    // Each returns the VM's result when the exit ends the run, else nothing.
    std::optional<RunReport> handle_interrupted_run(HypercallContext& hc, int err);
    std::optional<RunReport> handle_exit(HypercallContext& hc);
    std::optional<RunReport> handle_port_io(HypercallContext& hc);
    std::optional<RunReport> handle_hypercall(HypercallContext& hc, uint32_t nr, uint32_t arg);
    std::string describe_registers();
    RunReport finish(Outcome o, int status, std::string msg);

    // vm_preempt.cpp: time slices for the guest's threads.
    void start_preempt_timer();
    void stop_preempt_timer();
    // Stops the ticks while the vCPU waits on the host (no guest thread can
    // run), so that idle VMs cost the I/O thread nothing.
    void pause_preempt_timer(bool paused);
    void preempt_tick();  // the I/O thread
    bool try_preempt();   // the vCPU thread, after a kick

    VmConfig cfg_;
    KvmSystem* sys_ = nullptr;
    VmShell shell_;
    GuestMemory mem_;
    HostKind kind_ = HostKind::kUnknown;
    uint64_t tsc_base_ = 0;
    int64_t mono_base_ = 0;
    int64_t host_mono_at_tsc_base_ = 0;  // for timing statistics
    uint32_t tsc_khz_ = 0;
    int64_t t_start_ = 0, t_ready_ = 0;
    std::unique_ptr<StreamHost> net_;
    std::shared_ptr<const snapshot::Snapshot> snap_;  // restored instances
    // Console doorbell: an ioeventfd served by the process's I/O thread.
    std::mutex console_mu_;
    Fd doorbell_;
    int64_t io_id_ = -1;
    std::atomic<bool> stop_{false};
    // suspend(): the file, then the flag (release; the vCPU thread acquires).
    std::atomic<int> suspend_fd_{-1};
    std::atomic<bool> suspend_{false};
    std::atomic<bool> running_{false};
    pthread_t vcpu_thread_{};
    bool restored_ = false;
    uint32_t ready_call_ = 0;  // restored instances: the call they resume in
    uint64_t ready_arg_ = 0;
    // Limits of the current run() (0: none).
    std::atomic<int64_t> wall_deadline_{0};  // host CLOCK_MONOTONIC; read by the console sink
    uint64_t cpu_start_ns_ = 0;              // the vCPU thread's CPU time when run() began
    // The I/O thread's CPU time for this VM (its doorbell), and its value
    // when run() began: counted against cpu_limit_ns with the vCPU's.
    std::atomic<uint64_t> io_cpu_ns_{0};
    uint64_t io_cpu_start_ = 0;
    uint64_t run_io_cpu_ns() const { return io_cpu_ns_.load() - io_cpu_start_; }
    VmStats stats_;
    // Time slices (vm_preempt.cpp): a timerfd served by the I/O thread while
    // run() runs; preempt_kick_ tells the vCPU thread why KVM_RUN returned.
    Fd preempt_timer_;
    int64_t preempt_io_id_ = -1;
    std::atomic<bool> preempt_kick_{false};
};

// The watchdog signal only interrupts KVM_RUN (or a wait) in the vCPU thread;
// its handler does nothing.
constexpr int kWatchdogSignal = SIGUSR1;
void install_watchdog_handler();

// The CPU time of the calling thread.
uint64_t thread_cpu_ns();

}  // namespace ember
