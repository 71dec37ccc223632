// vm_run.cpp - running a VM: the run loop, its limits (wall clock, CPU
// time, stop()), and what each kind of exit means.
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "abi/ember_abi.h"
#include "common/clock.h"
#include "common/units.h"
#include "vmm/hypercalls.h"
#include "vmm/snapshot.h"
#include "vmm/vm_impl.h"

namespace ember {

namespace {

// A POSIX timer on `clock` that signals the calling thread at `after_ns`
// and then every 2 ms (so a signal that lands just before KVM_RUN is not lost).
class ThreadTimer {
  public:
    ~ThreadTimer() {
        if (armed_) timer_delete(id_);
    }
    Status arm(clockid_t clock, uint64_t after_ns) {
        sigevent sev{};
        sev.sigev_notify = SIGEV_THREAD_ID;
        sev.sigev_signo = kWatchdogSignal;
        sev._sigev_un._tid = static_cast<pid_t>(syscall(SYS_gettid));
        if (timer_create(clock, &sev, &id_) != 0) return Status::from_errno("timer_create");
        armed_ = true;
        itimerspec its{};
        its.it_value.tv_sec = static_cast<time_t>(after_ns / 1000000000ull);
        its.it_value.tv_nsec = static_cast<long>(after_ns % 1000000000ull);
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
        its.it_interval.tv_nsec = 2000000;
        if (timer_settime(id_, 0, &its, nullptr) != 0) return Status::from_errno("timer_settime");
        return Status::ok();
    }

  private:
    timer_t id_{};
    bool armed_ = false;
};

// KVM's extra words for an internal error (for an emulation failure: the
// instruction bytes and, on newer kernels, the faulting address), in hex.
std::string describe_internal_data(const kvm_run& run) {
    const uint32_t n = std::min<uint32_t>(run.internal.ndata, 16);
    if (n == 0) return {};
    std::string out = "data=";
    for (uint32_t i = 0; i < n; ++i) out += (i ? "," : "") + format_hex(run.internal.data[i]);
    return out + "; ";
}

}  // namespace

std::string Vm::Impl::describe_registers() {
    kvm_regs r{};
    kvm_sregs s{};
    if (ioctl(shell_.vcpu.fd(), KVM_GET_REGS, &r) < 0 ||
        ioctl(shell_.vcpu.fd(), KVM_GET_SREGS, &s) < 0)
        return "(registers unavailable)";
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "rip=%#llx rsp=%#llx rflags=%#llx cr2=%#llx\n"
                  "  rax=%#llx rbx=%#llx rcx=%#llx rdx=%#llx rsi=%#llx rdi=%#llx rbp=%#llx",
                  r.rip, r.rsp, r.rflags, s.cr2, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp);
    return buf;
}

RunReport Vm::Impl::finish(Outcome o, int status, std::string msg) {
    if (restored_ && !snap_->working_set() && o == Outcome::kExited) learn_working_set();
    const int64_t t_end = mono_ns();
    stats_.total_us = static_cast<double>(t_end - t_start_) / 1e3;
    stats_.create_us = static_cast<double>(t_ready_ - t_start_) / 1e3;
    stats_.run_us = static_cast<double>(t_end - t_ready_) / 1e3;
    if (auto b = mem_.read_obj<ember_boot_info>(EMBER_GPA_BOOT_INFO)) {
        stats_.syscalls = b->stat_syscalls;
        stats_.fast_syscalls = b->stat_fast_syscalls;
        stats_.cr3_loads = b->stat_cr3_loads;
        stats_.forks = b->stat_forks;
        stats_.cow_faults = b->stat_cow_faults;
        if (tsc_khz_) {
            stats_.cr3_us = static_cast<double>(b->stat_cr3_tsc) * 1e3 / tsc_khz_;
            stats_.fork_us = static_cast<double>(b->stat_fork_tsc) * 1e3 / tsc_khz_;
            stats_.cow_us = static_cast<double>(b->stat_cow_tsc) * 1e3 / tsc_khz_;
        }
        if (b->tsc_app_start > tsc_base_ && tsc_khz_) {
            const double since_base_us =
                static_cast<double>(b->tsc_app_start - tsc_base_) * 1e3 / tsc_khz_;
            if (b->tsc_kernel_start > tsc_base_ && b->tsc_app_start > b->tsc_kernel_start)
                stats_.kernel_init_us =
                    static_cast<double>(b->tsc_app_start - b->tsc_kernel_start) * 1e3 / tsc_khz_;
            stats_.first_insn_us =
                static_cast<double>(host_mono_at_tsc_base_ - t_start_) / 1e3 + since_base_us;
        }
    }
    if (net_) {
        const NetStats& n = net_->stats();
        stats_.udp_sockets_max = n.udp_sockets_max;
        stats_.dgrams_out = n.dgrams_out;
        stats_.dgrams_in = n.dgrams_in;
        stats_.dgrams_dropped = n.dgrams_dropped;
        stats_.dns_queries = n.dns_queries;
        stats_.egress_denied = n.denied;
    }
    RunReport res;
    res.outcome = o;
    res.exit_status = status;
    res.message = std::move(msg);
    res.stats = stats_;
    return res;
}

RunReport Vm::Impl::run() {
    install_watchdog_handler();
    ThreadTimer wall_timer, cpu_timer;
    wall_deadline_ = cfg_.timeout_ns ? mono_ns() + static_cast<int64_t>(cfg_.timeout_ns) : 0;
    if (cfg_.timeout_ns) {
        if (auto s = wall_timer.arm(CLOCK_MONOTONIC, cfg_.timeout_ns); !s)
            return finish(Outcome::kVmError, 0, s.message());
    }
    cpu_start_ns_ = thread_cpu_ns();
    io_cpu_start_ = io_cpu_ns_.load();
    if (cfg_.cpu_limit_ns) {
        if (auto s = cpu_timer.arm(CLOCK_THREAD_CPUTIME_ID, cfg_.cpu_limit_ns); !s)
            return finish(Outcome::kVmError, 0, s.message());
    }
    HypercallContext hc(mem_, cfg_, stats_, wall_deadline_, shell_.vcpu.fd(), *net_);
    hc.set_stop_flag(&stop_);
    hc.set_suspend_flag(&suspend_);
    hc.set_console_mutex(&console_mu_);
    hc.set_wait_hook([this](bool waiting) { pause_preempt_timer(waiting); });
    vcpu_thread_ = pthread_self();
    running_ = true;
    struct Running {
        std::atomic<bool>& r;
        ~Running() { r = false; }
    } running_guard{running_};
    start_preempt_timer();
    struct PreemptTimer {
        Impl& vm;
        ~PreemptTimer() { vm.stop_preempt_timer(); }
    } preempt_guard{*this};
    hc.set_want_ready((!cfg_.snapshot_out.empty() || cfg_.snapshot_out_fd >= 0) && !restored_);
    if (restored_) resume_ready_call(hc);
    for (;;) {
        if (stop_) {
            hc.drain_console();
            return finish(Outcome::kStopped, 0, "stopped by the host");
        }
        const int rc = ioctl(shell_.vcpu.fd(), KVM_RUN, 0);
        ++stats_.exits;
        auto end = rc < 0 ? handle_interrupted_run(hc, errno) : handle_exit(hc);
        if (end) return std::move(*end);
    }
}

// A restored instance resumes inside the call it was snapshotted in: give
// that call its result, with whatever input is already available.
void Vm::Impl::resume_ready_call(HypercallContext& hc) {
    hc.read_stdin_now();
    if (ready_call_ == EMBER_HC_WAIT) {
        if (auto w = mem_.read_obj<ember_hc_wait>(ready_arg_)) {
            auto ring = mem_.read_obj<ember_ring>(EMBER_GPA_STDIN);
            w->ready = ring && (ring->head != ring->tail || (ring->flags & EMBER_RING_EOF))
                           ? EMBER_WAIT_STDIN
                           : 0;
            mem_.write_obj(ready_arg_, *w);
        }
    }
    mem_.write_obj<int64_t>(EMBER_GPA_BOOT_INFO + offsetof(ember_boot_info, hc_status), EMBER_OK);
}

// KVM_RUN returned an error: a signal (the watchdog timers, stop()) or a
// failure of KVM itself.
std::optional<RunReport> Vm::Impl::handle_interrupted_run(HypercallContext& hc, int err) {
    if (err != EINTR && err != EAGAIN)
        return finish(Outcome::kVmError, 0, std::string("KVM_RUN failed: ") + std::strerror(err));
    shell_.vcpu.run()->immediate_exit = 0;
    if (stop_) return std::nullopt;  // the loop ends the run
    if (wall_deadline_ && mono_ns() >= wall_deadline_) {
        hc.drain_console();
        return finish(Outcome::kTimeout, 0, "wall-clock limit reached; " + describe_registers());
    }
    // The vCPU thread's time and the I/O thread's for this VM (its doorbell).
    if (cfg_.cpu_limit_ns &&
        thread_cpu_ns() - cpu_start_ns_ + run_io_cpu_ns() >= cfg_.cpu_limit_ns) {
        hc.drain_console();
        return finish(Outcome::kCpuLimit, 0, "CPU-time limit reached; " + describe_registers());
    }
    if (preempt_kick_.exchange(false) && !try_preempt())
        return finish(Outcome::kVmError, 0, "preemption: KVM_GET/SET_REGS failed");
    return std::nullopt;
}

std::optional<RunReport> Vm::Impl::handle_exit(HypercallContext& hc) {
    const kvm_run* run = shell_.vcpu.run();
    switch (run->exit_reason) {
        case KVM_EXIT_IO:
            return handle_port_io(hc);
        case KVM_EXIT_MMIO: {
            hc.drain_console();
            char b[160];
            std::snprintf(b, sizeof b, "access to unbacked guest physical address %#llx; ",
                          static_cast<unsigned long long>(run->mmio.phys_addr));
            return finish(Outcome::kVmError, 0, b + describe_registers());
        }
        case KVM_EXIT_SHUTDOWN:
            hc.drain_console();
            return finish(Outcome::kVmError, 0,
                          "guest triple fault (shutdown); " + describe_registers());
        case KVM_EXIT_HLT:
            hc.drain_console();
            return finish(Outcome::kVmError, 0, "guest halted; " + describe_registers());
        case KVM_EXIT_INTERNAL_ERROR:
            hc.drain_console();
            return finish(Outcome::kVmError, 0,
                          "KVM internal error (suberror " + std::to_string(run->internal.suberror) +
                              "; an int N, vmcall or unsupported instruction?); " +
                              describe_internal_data(*run) + describe_registers());
        case KVM_EXIT_FAIL_ENTRY:
            return finish(Outcome::kVmError, 0,
                          "KVM entry failed (hardware reason " +
                              std::to_string(run->fail_entry.hardware_entry_failure_reason) + ")");
        case KVM_EXIT_INTR:
            return std::nullopt;
        default:
            hc.drain_console();
            return finish(Outcome::kVmError, 0,
                          "unexpected KVM exit reason " + std::to_string(run->exit_reason) + "; " +
                              describe_registers());
    }
}

// Port I/O: a hypercall, a console doorbell that reached userspace, or a
// guest bug.
std::optional<RunReport> Vm::Impl::handle_port_io(HypercallContext& hc) {
    const kvm_run* run = shell_.vcpu.run();
    const auto& io = run->io;
    if (io.direction == KVM_EXIT_IO_OUT && io.port >= EMBER_HC_PORT_BASE &&
        io.port < EMBER_HC_PORT_BASE + 0x100 && io.size == 4 && io.count == 1) {
        uint32_t arg;
        std::memcpy(&arg, reinterpret_cast<const uint8_t*>(run) + io.data_offset, 4);
        return handle_hypercall(hc, io.port - EMBER_HC_PORT_BASE, arg);
    }
    if (io.port == EMBER_DOORBELL_PORT && io.direction == KVM_EXIT_IO_OUT) {
        hc.drain_console();
        return std::nullopt;
    }
    hc.drain_console();
    char b[160];
    std::snprintf(b, sizeof b, "unexpected port I/O: %s port %#x size %u; ",
                  io.direction == KVM_EXIT_IO_OUT ? "out" : "in", io.port, io.size);
    return finish(Outcome::kVmError, 0, b + describe_registers());
}

std::optional<RunReport> Vm::Impl::handle_hypercall(HypercallContext& hc, uint32_t nr,
                                                    uint32_t arg) {
    HypercallAction out = hc.dispatch(nr, arg);
    if (out.ready_point && suspend_.load(std::memory_order_acquire)) {
        const int64_t t0 = mono_ns();
        if (auto st = write_suspended(nr, arg); !st)
            return finish(Outcome::kStopped, 0, "could not be suspended: " + st.message());
        stats_.snapshot_us = static_cast<double>(mono_ns() - t0) / 1e3;
        return finish(Outcome::kSnapshotted, 0, "suspended");
    }
    if (out.ready_point) {
        hc.set_want_ready(false);
        const int64_t t0 = mono_ns();
        if (auto st = take_snapshot(nr, arg, hc.stdin_eof()); !st)
            return finish(Outcome::kVmError, 0, "snapshot failed: " + st.message());
        stats_.snapshot_us = static_cast<double>(mono_ns() - t0) / 1e3;
        if (!cfg_.continue_after_snapshot) return finish(Outcome::kSnapshotted, 0, "");
        out = hc.complete_ready(nr, arg);
    }
    if (out.done) return finish(out.outcome, out.exit_status, std::move(out.message));
    return std::nullopt;
}

}  // namespace ember
