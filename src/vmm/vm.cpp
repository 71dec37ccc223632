// vm.cpp - the public Vm, and the steps that booting and restoring a VM
// share (phases in vm_boot.cpp, vm_restore.cpp and vm_run.cpp).
#include "vmm/vm.h"

#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

#include "abi/ember_abi.h"
#include "common/clock.h"
#include "vmm/hypercalls.h"
#include "vmm/io_thread.h"
#include "vmm/kvm.h"
#include "vmm/vm_impl.h"
#include "vmm/vm_pool.h"
#include "vmm/vmm.h"

namespace ember {

const char* outcome_name(Outcome o) {
    switch (o) {
        case Outcome::kExited:
            return "exited";
        case Outcome::kCrashed:
            return "crashed";
        case Outcome::kKernelPanic:
            return "kernel panic";
        case Outcome::kTimeout:
            return "timeout";
        case Outcome::kCpuLimit:
            return "cpu limit";
        case Outcome::kDeadlock:
            return "deadlock";
        case Outcome::kVmError:
            return "vm error";
        case Outcome::kSnapshotted:
            return "snapshotted";
        case Outcome::kStopped:
            return "stopped";
    }
    return "?";
}

void install_watchdog_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction sa {};
        sa.sa_handler = [](int) {};
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
        sigaction(kWatchdogSignal, &sa, nullptr);
    });
}

uint64_t thread_cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

namespace {

// The host kind (PVM or hardware) and TSC rate are learnt from the first
// vCPU of the process.
void detect_host(KvmSystem& sys, Vcpu& vcpu) {
    static std::once_flag once;
    std::call_once(once, [&] {
        uint64_t sig = 0;
        sys.set_host_kind(vcpu.get_msr(kMsrPvmSignature, &sig) && sig == kPvmSignature
                              ? HostKind::kPvm
                              : HostKind::kHardware);
        const int khz = ioctl(vcpu.fd(), KVM_GET_TSC_KHZ, 0);
        sys.set_tsc_khz(khz > 0 ? static_cast<uint32_t>(khz) : 0);
    });
}

}  // namespace

// ember-vm's sinks: stdout and stderr, which a reader may stop reading; the
// run's limits and stop() still end a VM whose console is stuck.
VmConfig Vm::Impl::with_defaults(VmConfig config) {
    if (!config.console)
        config.console = [this](int fd, const char* data, size_t len) {
            write_console_fd(fd, data, len, stop_, wall_deadline_);
        };
    if (!config.log)
        config.log = [this](const std::string& line) {
            const std::string s = "ember-vm: guest: " + line + "\n";
            write_console_fd(2, s.data(), s.size(), stop_, wall_deadline_);
        };
    return config;
}

Vm::Impl::~Impl() {
    if (io_id_ >= 0) IoThread::instance().remove(io_id_);  // before the memory goes
    net_.reset();  // closes the host sockets before the memory goes
    // Closing a VM costs about as much as creating one: do it off this path.
    if (shell_.vm.valid()) VmPool::instance().retire(std::move(shell_), std::move(mem_));
}

// Slot 0 is RAM (with the unused gap below the root filesystem, if any);
// slot 1 the root filesystem's archive, when a booting VM has one. A restored
// VM's memory is one mapping of its snapshot: one slot.
Status Vm::Impl::attach_memory(uint32_t flags) {
    const uint64_t split =
        !restored_ && rootfs_size_ && rootfs_gpa_ < mem_.size() ? rootfs_gpa_ : mem_.size();
    const std::pair<uint64_t, uint64_t> slots[2] = {{0, split}, {split, mem_.size()}};
    for (uint32_t i = 0; i < 2; ++i) {
        if (slots[i].second == slots[i].first) continue;
        kvm_userspace_memory_region region{};
        region.slot = i;
        region.flags = flags;
        region.guest_phys_addr = slots[i].first;
        region.memory_size = slots[i].second - slots[i].first;
        region.userspace_addr = reinterpret_cast<uint64_t>(mem_.host_base() + slots[i].first);
        if (ioctl(shell_.vm.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0)
            return Status::from_errno("KVM_SET_USER_MEMORY_REGION");
    }
    return Status::ok();
}

void Vm::Impl::setup_doorbell() {
    const int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) return;
    kvm_ioeventfd io{};
    io.addr = EMBER_DOORBELL_PORT;
    io.len = 1;
    io.fd = efd;
    io.flags = KVM_IOEVENTFD_FLAG_PIO;
    if (ioctl(shell_.vm.get(), KVM_IOEVENTFD, &io) < 0) {
        ::close(efd);
        return;  // no doorbell: the guest flushes its console at exits only
    }
    doorbell_ = Fd(efd);
    io_id_ = IoThread::instance().add(
        efd,
        [this] {
            std::lock_guard lock(console_mu_);
            drain_console_ring(mem_, cfg_);
            kick_if_over_cpu_limit();
        },
        &io_cpu_ns_);
}

// The I/O thread's time for this VM counts against its CPU limit: once the
// vCPU thread's and the I/O thread's time together reach it, the vCPU is
// kicked out of KVM_RUN and the run loop ends the run (vm_run.cpp).
void Vm::Impl::kick_if_over_cpu_limit() {
    if (!cfg_.cpu_limit_ns || !running_) return;  // running_ publishes the run's start
    clockid_t clock;
    timespec ts;
    if (pthread_getcpuclockid(vcpu_thread_, &clock) != 0 || clock_gettime(clock, &ts) != 0) return;
    const uint64_t vcpu =
        static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
    if (vcpu - cpu_start_ns_ + run_io_cpu_ns() < cfg_.cpu_limit_ns) return;
    shell_.vcpu.run()->immediate_exit = 1;
    pthread_kill(vcpu_thread_, kWatchdogSignal);
}

Status Vm::Impl::start_net() {
    net_ = std::make_unique<StreamHost>(mem_, cfg_.net, cfg_.log);
    return net_->start();
}

Status Vm::Impl::open_kvm() {
    auto sys = KvmSystem::get();
    if (!sys) return sys.status();
    sys_ = *sys;
    return Status::ok();
}

Status Vm::Impl::take_shell() {
    auto shell = VmPool::instance().take();
    if (!shell) return shell.status();
    shell_ = std::move(*shell);
    return Status::ok();
}

Status Vm::Impl::learn_host() {
    detect_host(*sys_, shell_.vcpu);
    kind_ = sys_->host_kind();
    tsc_khz_ = sys_->tsc_khz();
    if (tsc_khz_ == 0)
        return Status::internal("cannot determine the TSC frequency (KVM_GET_TSC_KHZ)");
    return Status::ok();
}

Vm::Vm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) { install_watchdog_handler(); }
Vm::~Vm() = default;

Result<std::unique_ptr<Vm>> Vm::boot(VmConfig config) {
    auto impl = std::make_unique<Impl>(VmConfig{});
    impl->cfg_ = impl->with_defaults(std::move(config));
    if (auto s = impl->setup_boot(); !s) return s;
    return std::unique_ptr<Vm>(new Vm(std::move(impl)));
}

Result<std::unique_ptr<Vm>> Vm::restore(std::shared_ptr<const snapshot::Snapshot> snap,
                                        VmConfig config) {
    auto impl = std::make_unique<Impl>(VmConfig{});
    impl->cfg_ = impl->with_defaults(std::move(config));
    if (auto s = impl->setup_restore(std::move(snap)); !s) return s;
    return std::unique_ptr<Vm>(new Vm(std::move(impl)));
}

RunReport Vm::run() { return impl_->run(); }

Status Vm::reset(VmConfig config) { return impl_->reset(impl_->with_defaults(std::move(config))); }

std::pair<const void*, size_t> Vm::guest_memory_range() const {
    return {impl_->mem_.host_base(), impl_->mem_.size()};
}

void Vm::post_connection(int fd, uint16_t guest_port) { impl_->net_->post(fd, guest_port); }

void Vm::stop() {
    impl_->stop_ = true;
    impl_->net_->wake();
    // Kick the vCPU out of KVM_RUN: immediate_exit covers the window before
    // it enters, the signal the time inside.
    impl_->shell_.vcpu.run()->immediate_exit = 1;
    if (impl_->running_) pthread_kill(impl_->vcpu_thread_, kWatchdogSignal);
}

void Vm::suspend(int fd) {
    impl_->suspend_fd_ = fd;
    impl_->suspend_ = true;
    // Wakes a waiting guest; a running one is kicked out of KVM_RUN so the
    // run loop sees the request at once.
    impl_->net_->wake();
    if (impl_->running_) pthread_kill(impl_->vcpu_thread_, kWatchdogSignal);
}

Status Vm::resume_from(const snapshot::Suspended& s) { return impl_->resume_from(s); }

Status Vm::adopt_connection(int fd, uint16_t guest_port) {
    return impl_->net_->adopt(fd, guest_port);
}

Result<RunReport> run_vm(VmConfig config) {
    auto vm = Vm::boot(std::move(config));
    if (!vm) return vm.status();
    return (*vm)->run();
}

Status check_kvm() {
    auto sys = KvmSystem::get();
    return sys ? Status::ok() : sys.status();
}

void prefetch_vms(size_t n) { VmPool::instance().prefetch(n); }
void keep_vms_ready(size_t n) { VmPool::instance().set_target(n); }
Status prefill_vms(size_t n) { return VmPool::instance().prefill(n); }
Status create_vms_without_debugfs() { return VmPool::start_creator(); }

Result<HostInfo> probe_host() {
    auto sys = KvmSystem::get();
    if (!sys) return sys.status();
    // Host kind and TSC rate are learnt from a vCPU.
    int vm = ioctl((*sys)->fd(), KVM_CREATE_VM, 0);
    if (vm < 0) return Status::from_errno("KVM_CREATE_VM");
    Fd vmfd(vm);
    auto vcpu = Vcpu::create(**sys, vm);
    if (!vcpu) return vcpu.status();
    uint64_t sig = 0;
    HostInfo info;
    info.kind = vcpu->get_msr(kMsrPvmSignature, &sig) && sig == kPvmSignature ? "pvm" : "hardware";
    info.api_version = (*sys)->api_version();
    const int khz = ioctl(vcpu->fd(), KVM_GET_TSC_KHZ, 0);
    info.tsc_khz = khz > 0 ? static_cast<uint32_t>(khz) : 0;
    info.xcr0 = (*sys)->xcr0_mask();
    return info;
}

}  // namespace ember
