#include "vmm/vm_pool.h"

#include <sys/ioctl.h>

#include "vmm/sandbox.h"

namespace ember {

VmPool& VmPool::instance() {
    static VmPool* pool = new VmPool();  // never destroyed: threads may use it at exit
    return *pool;
}

Result<VmShell> VmPool::create_shell() {
    auto sys = KvmSystem::get();
    if (!sys) return sys.status();
    const int vm = ioctl((*sys)->fd(), KVM_CREATE_VM, 0);
    if (vm < 0) return Status::from_errno("KVM_CREATE_VM");
    VmShell s;
    s.vm = Fd(vm);
    auto vcpu = Vcpu::create(**sys, vm);
    if (!vcpu) return vcpu.status();
    s.vcpu = std::move(*vcpu);
    if (ioctl(s.vcpu.fd(), kIoctlSetCpuid2, (*sys)->supported_cpuid()) < 0)
        return Status::from_errno("KVM_SET_CPUID2");
    return s;
}

void VmPool::prefetch(size_t n) {
    {
        std::lock_guard lock(mu_);
        creating_ += n;
    }
    std::thread([this, n] {
        for (size_t i = 0; i < n; ++i) {
            (void)sandbox_thread(ThreadKind::kVm);  // once the process is sandboxed
            auto s = create_shell();
            std::lock_guard lock(mu_);
            --creating_;
            if (s) ready_.push_back(std::move(*s));
            cv_.notify_all();
        }
    }).detach();
}

Result<VmShell> VmPool::take() {
    {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return !ready_.empty() || creating_ == 0; });
        if (!ready_.empty()) {
            VmShell s = std::move(ready_.front());
            ready_.pop_front();
            cv_.notify_all();
            return s;
        }
    }
    return create_shell();
}

size_t VmPool::ready() const {
    std::lock_guard lock(mu_);
    return ready_.size();
}

Status VmPool::prefill(size_t n) {
    while (ready() < n) {
        auto s = create_shell();
        if (!s) return s.status();
        std::lock_guard lock(mu_);
        ready_.push_back(std::move(*s));
    }
    return Status::ok();
}

void VmPool::set_target(size_t n) {
    std::lock_guard lock(mu_);
    target_ = n;
    if (!refill_started_ && n > 0) {
        refill_started_ = true;
        std::thread([this] { refill_loop(); }).detach();
    }
    // The reaper too, now: VMs may later be let go by a thread whose
    // seccomp filter forbids starting threads (the worker's channel thread).
    start_reaper();
    cv_.notify_all();
}

void VmPool::refill_loop() {
    for (;;) {
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return ready_.size() < target_; });
        }
        (void)sandbox_thread(ThreadKind::kVm);  // once the process is sandboxed
        auto s = create_shell();
        if (!s) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            continue;
        }
        std::lock_guard lock(mu_);
        ready_.push_back(std::move(*s));
    }
}

void VmPool::retire(VmShell shell, GuestMemory mem) {
    std::lock_guard lock(mu_);
    dead_.emplace_back(std::move(shell), std::move(mem));
    start_reaper();
    reap_cv_.notify_one();
}

void VmPool::start_reaper() {
    if (reaper_started_) return;
    reaper_started_ = true;
    std::thread([this] { reap_loop(); }).detach();
}

void VmPool::reap_loop() {
    for (;;) {
        std::pair<VmShell, GuestMemory> item;
        {
            std::unique_lock lock(mu_);
            reap_cv_.wait(lock, [this] { return !dead_.empty(); });
            item = std::move(dead_.front());
            dead_.pop_front();
        }
        (void)sandbox_thread(ThreadKind::kVm);  // once the process is sandboxed
        // item's destructors close the vCPU and VM fds and unmap memory here.
    }
}

}  // namespace ember
