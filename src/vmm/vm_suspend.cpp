// vm_suspend.cpp - stateful scale to zero: saving an idle restored instance
// as the pages it changed against its snapshot (suspended.h), and resuming
// it on a VM restored from that snapshot.
#include <algorithm>
#include <cstring>
#include <vector>

#include "abi/ember_abi.h"
#include "common/clock.h"
#include "vmm/suspended.h"
#include "vmm/vm_impl.h"

namespace ember {

// At a ready point reached with a suspend requested: the guest waits in
// `call` (arg: its argument GPA) with nothing open or pending.
Status Vm::Impl::write_suspended(uint32_t call, uint64_t arg) {
    if (!restored_) return Status::invalid_argument("only a restored VM can be suspended");
    const int fd = suspend_fd_.load();
    if (fd < 0) return Status::internal("no file to suspend into");
    if (auto s = complete_pending_io(); !s) return s;
    if (auto s = check_events_clean(); !s) return s;
    // The snapshot's MSRs: the set a restore of it writes back.
    std::vector<uint32_t> msrs;
    for (const auto& m : snap_->vcpu().msrs) msrs.push_back(m.first);
    snapshot::VcpuState v;
    if (auto s = read_vcpu_state(msrs, &v); !s) return s;
    snapshot::VmmState vmm;
    vmm.listeners = net_->guest_listeners();
    vmm.host_kind = kind_ == HostKind::kPvm ? EMBER_HOST_PVM : EMBER_HOST_HARDWARE;
    vmm.stdin_eof = snap_->vmm().stdin_eof;
    vmm.guest_mono_ns = mono_ns();
    vmm.ready_call = call;
    vmm.ready_arg = arg;
    // The pages copied on write since the restore (what Vm::reset puts
    // back), less those that hold the snapshot's bytes again.
    std::vector<GuestMemory::PageState> states;
    if (auto s = mem_.page_states(&states); !s) return s;
    const uint8_t* pristine = snap_->pristine();
    if (!pristine) return Status::io_error("cannot map the snapshot memory");
    std::vector<uint64_t> pages;
    for (uint64_t p = 0; p < states.size(); ++p) {
        if (states[p] != GuestMemory::PageState::kCopied) continue;
        const uint64_t off = p * EMBER_PAGE_SIZE;
        if (std::memcmp(mem_.host_base() + off, pristine + off, EMBER_PAGE_SIZE) != 0)
            pages.push_back(p);
    }
    std::lock_guard lock(console_mu_);  // the doorbell handler writes the ring's tail
    uint64_t bytes = 0;
    if (auto s = snapshot::write_suspended(fd, snapshot::BaseId::of(snap_->header()),
                                           mem_.host_base(), mem_.size(), pages, v, vmm, &bytes);
        !s)
        return s;
    stats_.suspend_pages = pages.size();
    stats_.suspend_bytes = bytes;
    return Status::ok();
}

Status Vm::Impl::resume_from(const snapshot::Suspended& s) {
    if (!restored_ || running_) return Status::invalid_argument("resume needs a restored VM");
    // Suspended::open_fd checked the base; this VM must be of the same.
    if (!s.pages().empty() && s.pages().back() >= mem_.size() / EMBER_PAGE_SIZE)
        return Status::invalid_argument("suspended snapshot larger than guest memory");
    const std::vector<uint64_t>& pages = s.pages();
    for (size_t i = 0; i < pages.size(); ++i) {
        uint8_t* dst = mem_.host_base() + pages[i] * EMBER_PAGE_SIZE;
        // A page that matches already is not copied on write for nothing.
        if (std::memcmp(dst, s.page_data(i), EMBER_PAGE_SIZE) != 0)
            std::memcpy(dst, s.page_data(i), EMBER_PAGE_SIZE);
    }
    ready_call_ = s.vmm().ready_call;
    ready_arg_ = s.vmm().ready_arg;
    net_->set_guest_listeners(s.vmm().listeners);
    if (auto st = load_vcpu_state(s.vcpu(), s.vmm().guest_mono_ns); !st) return st;
    // The boot-info page came back with the instance's old clock base.
    return refresh_boot_info();
}

}  // namespace ember
