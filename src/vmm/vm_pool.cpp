#include "vmm/vm_pool.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "vmm/sandbox.h"

namespace ember {

namespace {

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL  // linux/pidfd.h, 6.9
#endif

// KVM gives every VM a debugfs directory named "<creating thread id>-<VM fd
// number>", with a file per VM and vCPU statistic: ~60 KiB of kernel memory
// per VM on this project's hosts (debugfs inodes and dentries), kept while
// the VM lives and read by nobody (the same statistics are in
// KVM_GET_STATS_FD). When a directory of that name exists already, KVM
// makes none. So VMs are made on one thread with a file table of its own
// (unshare(CLONE_FILES)), where the VM fd always gets the same number; a
// marker VM made first holds that directory. The requesting thread then
// copies the new VM's and vCPU's fds into the process's table with
// pidfd_getfd (a thread of its own process: no other pidfd is held).
class Creator {
  public:
    // On the thread that will later be sandboxed with the rest; an error
    // leaves VMs to be made where they are needed, as without it.
    Status start() {
        std::thread([this] { loop(); }).detach();
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return tid_ != 0; });
        if (tid_ < 0) return Status::unavailable("VM creator: " + error_);
        pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, tid_, PIDFD_THREAD));
        if (pidfd_ < 0) return Status::from_errno("VM creator: pidfd_open");
        return Status::ok();
    }
    bool on() const { return pidfd_ >= 0; }
    // A VM and its vCPU (CPUID set): their fds in this process's table.
    Result<std::pair<int, int>> create() {
        std::lock_guard call(call_mu_);
        std::unique_lock lock(mu_);
        // The creator has closed its copies of the last one.
        cv_.wait(lock, [this] { return state_ == State::kIdle; });
        state_ = State::kAsked;
        cv_.notify_all();
        cv_.wait(lock, [this] { return state_ == State::kMade; });
        Result<std::pair<int, int>> out = Status::internal("VM creator");
        if (!error_.empty()) {
            out = Status::unavailable(error_);
        } else {
            const int vm = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd_, vm_, 0));
            const int vcpu =
                vm < 0 ? -1 : static_cast<int>(syscall(SYS_pidfd_getfd, pidfd_, vcpu_, 0));
            if (vm >= 0 && vcpu >= 0)
                out = std::pair<int, int>{vm, vcpu};
            else
                out = Status::from_errno("pidfd_getfd");
            if (vm >= 0 && vcpu < 0) ::close(vm);
        }
        state_ = State::kTaken;
        cv_.notify_all();
        return out;
    }

  private:
    enum class State { kIdle, kAsked, kMade, kTaken };
    void loop() {
        auto fail = [this](const std::string& why) {
            std::lock_guard lock(mu_);
            error_ = why;
            tid_ = -1;
            cv_.notify_all();
        };
        auto sys = KvmSystem::get();
        if (!sys) return fail(sys.message());
        if (unshare(CLONE_FILES) != 0) return fail(std::string("unshare: ") + strerror(errno));
        const int marker = ioctl((*sys)->fd(), KVM_CREATE_VM, 0);
        if (marker < 0) return fail(std::string("KVM_CREATE_VM: ") + strerror(errno));
        // Kept for the life of the process at another number; the number it
        // was made at is the one every later VM gets.
        if (fcntl(marker, F_DUPFD_CLOEXEC, marker + 1) < 0)
            return fail(std::string("fcntl: ") + strerror(errno));
        ::close(marker);
        std::unique_lock lock(mu_);
        tid_ = static_cast<pid_t>(syscall(SYS_gettid));
        cv_.notify_all();
        for (;;) {
            cv_.wait(lock, [this] { return state_ == State::kAsked; });
            lock.unlock();
            (void)sandbox_thread(ThreadKind::kVm);  // once the process is sandboxed
            std::string err;
            const int vm = ioctl((*sys)->fd(), KVM_CREATE_VM, 0);
            int vcpu = -1;
            if (vm < 0) {
                err = std::string("KVM_CREATE_VM: ") + strerror(errno);
            } else if ((vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0) {
                err = std::string("KVM_CREATE_VCPU: ") + strerror(errno);
            } else if (ioctl(vcpu, kIoctlSetCpuid2, (*sys)->supported_cpuid()) < 0) {
                err = std::string("KVM_SET_CPUID2: ") + strerror(errno);
            }
            lock.lock();
            vm_ = vm;
            vcpu_ = vcpu;
            error_ = err;
            state_ = State::kMade;
            cv_.notify_all();
            cv_.wait(lock, [this] { return state_ == State::kTaken; });
            if (vcpu >= 0) ::close(vcpu);
            if (vm >= 0) ::close(vm);
            error_.clear();
            state_ = State::kIdle;
            cv_.notify_all();
        }
    }

    std::mutex call_mu_;  // one creation at a time
    std::mutex mu_;
    std::condition_variable cv_;
    State state_ = State::kIdle;
    pid_t tid_ = 0;  // the creator thread's; -1: it failed (error_)
    int pidfd_ = -1;
    int vm_ = -1, vcpu_ = -1;  // in the creator's table
    std::string error_;
};

Creator& creator() {
    static Creator* c = new Creator();  // never destroyed: its thread lives on
    return *c;
}

}  // namespace

Status VmPool::start_creator() { return creator().start(); }

VmPool& VmPool::instance() {
    static VmPool* pool = new VmPool();  // never destroyed: threads may use it at exit
    return *pool;
}

Result<VmShell> VmPool::create_shell() {
    auto sys = KvmSystem::get();
    if (!sys) return sys.status();
    if (creator().on()) {
        auto fds = creator().create();
        if (!fds) return fds.status();
        VmShell s;
        s.vm = Fd(fds->first);
        auto vcpu = Vcpu::adopt(**sys, fds->second);
        if (!vcpu) return vcpu.status();
        s.vcpu = std::move(*vcpu);
        return s;
    }
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
