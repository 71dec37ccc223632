// vm_preempt.cpp - time slices for the guest's threads without guest
// interrupts (see "preemption" in ember_abi.h).
//
// While a VM runs, a timerfd on the process's I/O thread ticks every time
// slice. A tick only looks at guest memory: when the guest kernel says
// another thread is runnable (boot_info.preempt_want), it kicks the vCPU out
// of KVM_RUN; otherwise it costs the guest nothing (a single busy thread
// takes no exit). The vCPU thread then re-enters the guest at the kernel's
// preemption entry with the interrupted registers in guest memory, but only
// when the vCPU was in application code: the kernel is not preemptible, and
// a kick that lands in it is dropped (the next tick tries again).
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <array>

#include "abi/ember_abi.h"
#include "vmm/io_thread.h"
#include "vmm/vm_impl.h"

namespace ember {

namespace {

volatile ember_boot_info* live_boot_info(GuestMemory& mem) {
    return reinterpret_cast<volatile ember_boot_info*>(mem.host_base() + EMBER_GPA_BOOT_INFO);
}

itimerspec slice_timer(uint64_t slice_ns) {
    itimerspec its{};
    its.it_value.tv_sec = static_cast<time_t>(slice_ns / 1000000000ull);
    its.it_value.tv_nsec = static_cast<long>(slice_ns % 1000000000ull);
    its.it_interval = its.it_value;
    return its;
}

}  // namespace

void Vm::Impl::start_preempt_timer() {
    if (!cfg_.time_slice_ns || preempt_io_id_ >= 0) return;
    const int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0) return;  // no time slices: threads still switch when they block
    preempt_timer_ = Fd(fd);
    const itimerspec its = slice_timer(cfg_.time_slice_ns);
    if (timerfd_settime(fd, 0, &its, nullptr) != 0) {
        preempt_timer_ = Fd();
        return;
    }
    preempt_io_id_ = IoThread::instance().add(
        fd, [this] { preempt_tick(); }, &io_cpu_ns_);
}

void Vm::Impl::pause_preempt_timer(bool paused) {
    if (preempt_io_id_ < 0) return;
    // A paused timer is disarmed (it_value 0); resuming starts a new slice.
    const itimerspec its = paused ? itimerspec{} : slice_timer(cfg_.time_slice_ns);
    timerfd_settime(preempt_timer_.get(), 0, &its, nullptr);
}

void Vm::Impl::stop_preempt_timer() {
    if (preempt_io_id_ >= 0) IoThread::instance().remove(preempt_io_id_);
    preempt_io_id_ = -1;
    preempt_timer_ = Fd();
    preempt_kick_ = false;
}

// The I/O thread, every time slice.
void Vm::Impl::preempt_tick() {
    if (!running_) return;
    volatile ember_boot_info* b = live_boot_info(mem_);
    if (!b->preempt_entry || !b->preempt_want) return;
    preempt_kick_ = true;
    shell_.vcpu.run()->immediate_exit = 1;
    pthread_kill(vcpu_thread_, kWatchdogSignal);
}

// The vCPU thread, after a kick: re-enter at the kernel's preemption entry
// if the vCPU was running application code and another thread still wants
// to run. Returns false when KVM failed.
bool Vm::Impl::try_preempt() {
    const auto b = mem_.read_obj<ember_boot_info>(EMBER_GPA_BOOT_INFO);
    if (!b || !b->preempt_want) return true;
    const uint64_t entry = b->preempt_entry;
    if (entry < EMBER_GPA_KERNEL || entry >= EMBER_GPA_KERNEL_END)
        return true;  // not a kernel address
    kvm_regs r{};
    if (ioctl(shell_.vcpu.fd(), KVM_GET_REGS, &r) < 0) return false;
    // Below EMBER_GPA_APP_MIN is the kernel (its CPL-0 stub too) and the
    // syscall trampolines: the kernel is running or about to.
    if (r.rip < EMBER_GPA_APP_MIN) return true;
    // Application code always runs with IF = 1 and IOPL = 3 (enter_user),
    // which a PVM host does not report in KVM_GET_REGS; resuming with IF = 0
    // would leave the thread running far slower.
    const uint64_t app_flags = r.rflags | 0x3200;
    const std::array<uint64_t, 18> saved = {r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp,
                                            r.rsi, r.rdi, r.r8,  r.r9,  r.r10, r.r11,
                                            r.r12, r.r13, r.r14, r.r15, r.rip, app_flags};
    if (!mem_.write_obj(EMBER_GPA_BOOT_INFO + offsetof(ember_boot_info, preempt_regs), saved))
        return false;
    r.rip = entry;
    r.rflags = 0x3002;  // IOPL 3, as the syscall stub leaves it
    if (ioctl(shell_.vcpu.fd(), KVM_SET_REGS, &r) < 0) return false;
    ++stats_.preemptions;
    return true;
}

}  // namespace ember
