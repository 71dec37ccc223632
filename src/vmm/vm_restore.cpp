// vm_restore.cpp - a VM from a snapshot: writing the snapshot at READY,
// restoring it into a new VM, resetting a used VM to it, and what a restored
// instance teaches its snapshot (the working set, patched syscall sites).
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <x86intrin.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "abi/ember_abi.h"
#include "common/clock.h"
#include "common/units.h"
#include "vmm/guest_msrs.h"
#include "vmm/hypercalls.h"
#include "vmm/snapshot.h"
#include "vmm/vm_impl.h"
#include "vmm/x86.h"

namespace ember {

using namespace x86;

namespace {

constexpr int kMadvPopulateRead = 22;  // Linux 5.14
constexpr int kMadvPopulateWrite = 23;

// Populates runs of pages of `mem` with madvise(advice).
void populate(const GuestMemory& mem, const std::vector<uint64_t>& pages, int advice) {
    for (size_t i = 0; i < pages.size();) {
        size_t j = i + 1;
        while (j < pages.size() && pages[j] == pages[j - 1] + 1) ++j;
        const uint64_t first = pages[i], n = j - i;
        if ((first + n) * EMBER_PAGE_SIZE <= mem.size())
            madvise(mem.host_base() + first * EMBER_PAGE_SIZE, n * EMBER_PAGE_SIZE, advice);
        i = j;
    }
}

}  // namespace

Status Vm::Impl::setup_restore(std::shared_ptr<const snapshot::Snapshot> snap_ptr) {
    t_start_ = mono_ns();
    snap_ = std::move(snap_ptr);
    const snapshot::Snapshot& snap = *snap_;
    if (auto s = open_kvm(); !s) return s;
    restored_ = true;
    if (auto s = take_shell(); !s) return s;
    auto mem = snap.map_memory();
    if (!mem) return mem.status();
    mem_ = std::move(*mem);
    rootfs_ref_ = snap.rootfs();
    if (auto ws = snap.working_set()) {
        populate(mem_, ws->written, kMadvPopulateWrite);
        populate(mem_, ws->read, kMadvPopulateRead);
    }
    if (auto s = attach_memory(); !s) return s;
    setup_doorbell();
    if (auto s = learn_host(); !s) return s;
    return load_snapshot_state();
}

// The snapshot's vCPU and VMM state, a new clock base and fresh entropy:
// after it, the VM is ready to run() as a new instance.
Status Vm::Impl::load_snapshot_state() {
    if (auto s = start_net(); !s) return s;
    net_->set_guest_listeners(snap_->vmm().listeners);
    stats_ = VmStats{};
    stop_ = false;
    suspend_ = false;
    suspend_fd_ = -1;
    // A resumed instance (resume_from) changed where the guest resumes.
    ready_call_ = snap_->vmm().ready_call;
    ready_arg_ = snap_->vmm().ready_arg;
    if (auto s = load_vcpu_state(snap_->vcpu(), snap_->vmm().guest_mono_ns); !s) return s;
    if (auto s = refresh_boot_info(); !s) return s;
    t_ready_ = mono_ns();
    return Status::ok();
}

// Every vCPU register a guest can write, from `v`; then a new clock base
// (the TSC) and, on PVM, native mode.
Status Vm::Impl::load_vcpu_state(const snapshot::VcpuState& v, int64_t guest_mono_ns) {
    // This PVM host treats a CR3 with bit 12 clear, set by the VMM, as a
    // guest in supervisor mode and emulates it until the first SSE
    // instruction ends the VM. Our kernel keeps its top-level tables at
    // odd pages (mm_space.cpp, pml4_alloc); refuse other state clearly.
    if (kind_ == HostKind::kPvm && !(v.sregs.cr3 & EMBER_PAGE_SIZE))
        return Status::unsupported(
            "the snapshot's page-table root (CR3 " + format_hex(v.sregs.cr3) +
            ") is at an even page, which this PVM host cannot resume natively; "
            "make the snapshot again with this version");
    if (auto s = write_vcpu_state(v); !s) return s;
    tsc_base_ = __rdtsc();
    const int64_t now = mono_ns();
    host_mono_at_tsc_base_ = now;
    // Monotonic time continues from at least where the snapshot left it.
    mono_base_ = std::max(now, guest_mono_ns);
    std::vector<std::pair<uint32_t, uint64_t>> msrs = {{kMsrTsc, tsc_base_}};
    // A guest at CPL 0 can clear native mode; it is not in the snapshot.
    if (kind_ == HostKind::kPvm) msrs.push_back({kMsrPvmCtl, 1});
    return shell_.vcpu.set_msrs(msrs);
}

// Sets the vCPU to `v` (but its TSC). The event state (pending or injected
// exceptions, interrupts, NMIs, the interrupt shadow) is not in `v`: a
// snapshot is only taken with none (check_events_clean), so it is cleared.
Status Vm::Impl::write_vcpu_state(const snapshot::VcpuState& v) {
    const int fd = shell_.vcpu.fd();
    if (ioctl(fd, KVM_SET_SREGS, &v.sregs) < 0) return Status::from_errno("KVM_SET_SREGS");
    kvm_xcrs xcrs{};
    xcrs.nr_xcrs = 1;
    xcrs.xcrs[0].xcr = 0;
    xcrs.xcrs[0].value = v.xcr0;
    if (ioctl(fd, KVM_SET_XCRS, &xcrs) < 0) return Status::from_errno("KVM_SET_XCRS");
    if (ioctl(fd, kIoctlSetXsave, &v.xsave) < 0) return Status::from_errno("KVM_SET_XSAVE");
    if (ioctl(fd, KVM_SET_REGS, &v.regs) < 0) return Status::from_errno("KVM_SET_REGS");
    kvm_debugregs dr = v.debugregs;
    dr.flags = 0;
    if (ioctl(fd, KVM_SET_DEBUGREGS, &dr) < 0) return Status::from_errno("KVM_SET_DEBUGREGS");
    kvm_vcpu_events ev{};
    ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
    if (ioctl(fd, KVM_SET_VCPU_EVENTS, &ev) < 0) return Status::from_errno("KVM_SET_VCPU_EVENTS");
    return shell_.vcpu.set_msrs(v.msrs);
}

// Every register write_vcpu_state() sets, and the TSC. `msr_indices`: the
// MSRs to read (each must be readable).
Status Vm::Impl::read_vcpu_state(const std::vector<uint32_t>& msr_indices, snapshot::VcpuState* v) {
    const int fd = shell_.vcpu.fd();
    if (ioctl(fd, KVM_GET_REGS, &v->regs) < 0) return Status::from_errno("KVM_GET_REGS");
    if (ioctl(fd, KVM_GET_SREGS, &v->sregs) < 0) return Status::from_errno("KVM_GET_SREGS");
    if (ioctl(fd, kIoctlGetXsave, &v->xsave) < 0) return Status::from_errno("KVM_GET_XSAVE");
    kvm_xcrs xcrs{};
    if (ioctl(fd, KVM_GET_XCRS, &xcrs) < 0) return Status::from_errno("KVM_GET_XCRS");
    for (uint32_t i = 0; i < xcrs.nr_xcrs && i < KVM_MAX_XCRS; ++i)
        if (xcrs.xcrs[i].xcr == 0) v->xcr0 = xcrs.xcrs[i].value;
    if (ioctl(fd, KVM_GET_DEBUGREGS, &v->debugregs) < 0)
        return Status::from_errno("KVM_GET_DEBUGREGS");
    v->debugregs.flags = 0;
    v->msrs.clear();
    for (uint32_t idx : msr_indices) v->msrs.push_back({idx, 0});
    if (!shell_.vcpu.get_msrs(&v->msrs)) return Status::internal("KVM_GET_MSRS failed");
    if (!shell_.vcpu.get_msr(kMsrTsc, &v->tsc))
        return Status::internal("cannot read the guest TSC");
    return Status::ok();
}

// The allowlisted MSRs this vCPU keeps (guest_msrs.h) that KVM reads and
// lets the VMM write back unchanged: those a restore can set again.
std::vector<uint32_t> Vm::Impl::restorable_guest_msrs() {
    std::vector<uint32_t> out;
    for (uint32_t idx : guest_msrs_to_save(sys_->msr_index_list())) {
        uint64_t value = 0;
        if (shell_.vcpu.get_msr(idx, &value) && shell_.vcpu.set_msrs({{idx, value}}))
            out.push_back(idx);
    }
    return out;
}

// A snapshot carries no event state: refuse one with an exception,
// interrupt or NMI pending or being delivered, or in an interrupt shadow.
Status Vm::Impl::check_events_clean() {
    kvm_vcpu_events ev{};
    if (ioctl(shell_.vcpu.fd(), KVM_GET_VCPU_EVENTS, &ev) < 0)
        return Status::from_errno("KVM_GET_VCPU_EVENTS");
    if (ev.exception.injected || ev.exception.pending || ev.interrupt.injected ||
        ev.interrupt.shadow || ev.nmi.injected || ev.nmi.pending || ev.smi.smm || ev.smi.pending)
        return Status::internal("the vCPU has an exception, interrupt or NMI in flight");
    return Status::ok();
}

// Clock base, fresh entropy: the boot-info page is rewritten (this is the
// instance's private copy of the page).
Status Vm::Impl::refresh_boot_info() {
    auto b = mem_.read_obj<ember_boot_info>(EMBER_GPA_BOOT_INFO);
    if (!b || b->magic != EMBER_BOOT_MAGIC)
        return Status::corruption("snapshot has no valid boot info");
    b->tsc_khz = tsc_khz_;
    b->tsc_base = tsc_base_;
    b->mono_base_ns = mono_base_;
    b->wall_base_ns = wall_ns();
    if (getrandom_bytes(b->random_seed, sizeof b->random_seed) != sizeof b->random_seed)
        return Status::from_errno("getrandom");
    b->seed_generation += 1;
    b->hc_status = EMBER_OK;
    b->flags = io_id_ >= 0 ? (b->flags | EMBER_FLAG_DOORBELL)
                           : (b->flags & ~uint64_t{EMBER_FLAG_DOORBELL});
    b->tsc_app_start = 0;
    mem_.write_obj(EMBER_GPA_BOOT_INFO, *b);
    return Status::ok();
}

Status Vm::Impl::reset(VmConfig cfg) {
    if (!restored_ || !cfg_.reusable)
        return Status::invalid_argument("only a reusable restored VM can be reset");
    if (running_) return Status::invalid_argument("cannot reset a running VM");
    t_start_ = mono_ns();
    {
        // The I/O thread may still serve a doorbell of the last instance:
        // from here on it drains the snapshot's console ring to the new
        // instance's console, and it never sees a half-restored ring.
        std::lock_guard lock(console_mu_);
        cfg_ = std::move(cfg);
        cfg_.reusable = true;
        if (auto s = restore_page_range(EMBER_GPA_CONSOLE, EMBER_PAGE_SIZE); !s) return s;
    }
    // KVM completes an I/O exit on the next KVM_RUN (advancing RIP, or
    // writing RAX for an IN): do it now, before the snapshot's registers
    // are loaded, not in the next instance.
    if (auto s = complete_pending_io(); !s) return s;
    if (auto s = put_back_written_pages(); !s) return s;
    net_.reset();
    return load_snapshot_state();
}

// Pages written since the VM was restored (by the guest or the VMM) go back
// to the snapshot's contents; so do, to be safe, the pages the VMM itself
// writes (boot info, hypercall page, rings). Everything else is unchanged
// and stays mapped, so the next instance starts without page faults.
Status Vm::Impl::put_back_written_pages() {
    // Every page copied on write since the mapping was made, by the guest or
    // by us. (KVM's dirty log would tell the same for the guest's writes,
    // but write-protecting pages makes each first write in an instance a
    // fault: several times slower here than reading pagemap once.)
    std::vector<GuestMemory::PageState> states;
    if (auto st = mem_.page_states(&states); !st) return st;
    for (uint64_t page = 0; page < states.size(); ++page)
        if (states[page] == GuestMemory::PageState::kCopied)
            if (auto st = restore_page_range(page * EMBER_PAGE_SIZE, EMBER_PAGE_SIZE); !st)
                return st;
    struct Range {
        uint64_t gpa, len;
    };
    for (Range r :
         {Range{EMBER_GPA_BOOT_INFO, 2 * EMBER_PAGE_SIZE},  // + the hypercall page
          Range{EMBER_GPA_CONSOLE, EMBER_PAGE_SIZE}, Range{EMBER_GPA_STDIN, EMBER_STDIN_SIZE},
          Range{EMBER_GPA_NET_RX, EMBER_NET_RX_SIZE}, Range{EMBER_GPA_NET_TX, EMBER_PAGE_SIZE}})
        if (auto st = restore_page_range(r.gpa, r.len); !st) return st;
    return Status::ok();
}

// Copies the snapshot's contents over [gpa, gpa + len) page by page,
// skipping pages that already match: writing an unchanged page would copy
// it on write for nothing.
Status Vm::Impl::restore_page_range(uint64_t gpa, uint64_t len) {
    const uint8_t* pristine = snap_->pristine();
    if (!pristine) return Status::io_error("cannot map the snapshot memory");
    for (uint64_t off = 0; off < len; off += EMBER_PAGE_SIZE) {
        uint8_t* dst = mem_.host_base() + gpa + off;
        const uint8_t* src = pristine + gpa + off;
        if (std::memcmp(dst, src, EMBER_PAGE_SIZE) != 0) std::memcpy(dst, src, EMBER_PAGE_SIZE);
    }
    return Status::ok();
}

Status Vm::Impl::take_snapshot(uint32_t call, uint64_t arg, bool stdin_eof) {
    if (auto s = complete_pending_io(); !s) return s;
    if (auto s = check_events_clean(); !s) return s;
    snapshot::VcpuState v;
    if (auto s = read_vcpu_state(restorable_guest_msrs(), &v); !s) return s;
    if (net_->open_streams() > 0)
        return Status::unsupported(
            "the guest has open connections; only an idle instance can be snapshotted");
    snapshot::VmmState vmm;
    vmm.listeners = net_->guest_listeners();
    vmm.host_kind = kind_ == HostKind::kPvm ? EMBER_HOST_PVM : EMBER_HOST_HARDWARE;
    vmm.stdin_eof = stdin_eof;
    vmm.guest_mono_ns = mono_ns();
    vmm.ready_call = call;
    vmm.ready_arg = arg;
    std::lock_guard lock(console_mu_);  // the doorbell handler writes the ring's tail
    if (cfg_.snapshot_out_fd >= 0)
        return snapshot::write_fd(cfg_.snapshot_out_fd, mem_, v, vmm, tsc_khz_, rootfs_ref_);
    return snapshot::write(cfg_.snapshot_out, mem_, v, vmm, tsc_khz_, rootfs_ref_);
}

// The vCPU stopped inside an I/O exit that KVM completes on the next
// KVM_RUN; complete it (immediate_exit) so the saved RIP is past the
// instruction. A string instruction may need several rounds; a bounded
// number, as a guest chooses its count.
Status Vm::Impl::complete_pending_io() {
    kvm_run* run = shell_.vcpu.run();
    for (int round = 0; round < 4; ++round) {
        run->immediate_exit = 1;
        const int rc = ioctl(shell_.vcpu.fd(), KVM_RUN, 0);
        const int err = errno;
        run->immediate_exit = 0;
        if (rc < 0 && err == EINTR) return Status::ok();
        if (rc < 0) break;
    }
    return Status::internal("could not complete the pending I/O");
}

void Vm::Impl::learn_working_set() {
    std::vector<GuestMemory::PageState> states;
    if (!mem_.page_states(&states)) return;
    snapshot::WorkingSet ws;
    for (uint64_t i = 0; i < states.size(); ++i) {
        if (states[i] == GuestMemory::PageState::kFile) ws.read.push_back(i);
        if (states[i] == GuestMemory::PageState::kCopied) ws.written.push_back(i);
    }
    snap_->record_working_set(std::move(ws));
}

Result<snapshot::VcpuState> Vm::vcpu_state() {
    if (impl_->running_) return Status::conflict("the VM is running");
    std::vector<uint32_t> msrs;
    if (impl_->snap_)
        for (const auto& m : impl_->snap_->vcpu().msrs) msrs.push_back(m.first);
    else
        msrs = impl_->restorable_guest_msrs();
    snapshot::VcpuState v;
    if (auto s = impl_->read_vcpu_state(msrs, &v); !s) return s;
    return v;
}

Status Vm::set_vcpu_state(const snapshot::VcpuState& state) {
    if (impl_->running_) return Status::conflict("the VM is running");
    return impl_->write_vcpu_state(state);
}

}  // namespace ember
