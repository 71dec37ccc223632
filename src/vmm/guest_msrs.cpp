#include "vmm/guest_msrs.h"

#include <algorithm>
#include <iterator>

namespace ember {
namespace {

// When an allowlisted MSR is saved.
enum class Save : uint8_t {
    kIfListed,  // when KVM_GET_MSR_INDEX_LIST lists it (KVM keeps it only then)
    kAlways,    // architectural state KVM keeps without listing it
};

struct MsrRange {
    uint32_t first, last;  // inclusive
    Save save;
};

// Every MSR a guest at CPL 0 can write and KVM keeps, grouped by why it
// matters. Kept sorted by purpose, not by index.
constexpr MsrRange kAllowlist[] = {
    // syscall/sysret and sysenter entry points: a changed LSTAR would send
    // every later syscall into the previous instance's code.
    {0xc0000081, 0xc0000084, Save::kIfListed},  // STAR, LSTAR, CSTAR, SFMASK
    {0x174, 0x176, Save::kIfListed},            // SYSENTER_CS, _ESP, _EIP
    // Segment bases (FS/GS are in the segment registers too) and swapgs.
    {0xc0000100, 0xc0000101, Save::kAlways},    // FS_BASE, GS_BASE
    {0xc0000102, 0xc0000102, Save::kIfListed},  // KERNEL_GS_BASE
    {0xc0000103, 0xc0000103, Save::kAlways},    // TSC_AUX (rdtscp, rdpid)
    // Memory types.
    {0x277, 0x277, Save::kIfListed},  // PAT
    {0x2ff, 0x2ff, Save::kAlways},    // MTRR default type
    {0x200, 0x20f, Save::kAlways},    // variable-range MTRRs (8 pairs)
    {0x250, 0x250, Save::kAlways},    // fixed-range MTRRs
    {0x258, 0x259, Save::kAlways},
    {0x268, 0x26f, Save::kAlways},
    // Time: TSC_ADJUST moves the guest TSC; the deadline timer.
    {0x3b, 0x3b, Save::kIfListed},    // TSC_ADJUST
    {0x6e0, 0x6e0, Save::kIfListed},  // TSC_DEADLINE
    // Feature switches a guest can flip: feature control (lockable), misc
    // enables, CPUID faulting, speculation controls, power and machine check.
    {0x3a, 0x3a, Save::kIfListed},              // FEATURE_CONTROL
    {0x1a0, 0x1a0, Save::kIfListed},            // MISC_ENABLE
    {0x140, 0x140, Save::kIfListed},            // MISC_FEATURES_ENABLES
    {0x48, 0x48, Save::kIfListed},              // SPEC_CTRL
    {0xc001011f, 0xc001011f, Save::kIfListed},  // VIRT_SPEC_CTRL
    {0x1fc, 0x1fc, Save::kIfListed},            // POWER_CTL
    {0xe1, 0xe1, Save::kIfListed},              // UMWAIT_CONTROL
    {0x17a, 0x17b, Save::kIfListed},            // MCG_STATUS, MCG_CTL
    {0xc0010015, 0xc0010015, Save::kIfListed},  // AMD HWCR
    {0xc0010117, 0xc0010117, Save::kIfListed},  // AMD VM_HSAVE_PA (nested)
    // Debugging: DEBUGCTL, and the last-branch records, which hold the
    // addresses of one instance's branches.
    {0x1d9, 0x1d9, Save::kIfListed},  // DEBUGCTL
    {0x1db, 0x1de, Save::kIfListed},  // LASTBRANCH_FROM/TO, LASTINT_FROM/TO
    // Extended state and control-flow enforcement.
    {0xda0, 0xda0, Save::kIfListed},  // XSS
    {0x1c4, 0x1c5, Save::kIfListed},  // XFD, XFD_ERR
    {0xd90, 0xd90, Save::kIfListed},  // BNDCFGS
    {0x6a0, 0x6a0, Save::kIfListed},  // U_CET
    {0x6a2, 0x6a2, Save::kIfListed},  // S_CET
    {0x6a4, 0x6a8, Save::kIfListed},  // PL0-3_SSP, INT_SSP_TAB
    // KVM's paravirtual MSRs: kvmclock and steal time make KVM write into
    // guest memory at an address the guest chose, async page faults and
    // PV EOI likewise; an enabled one would keep writing into the next
    // instance's memory.
    {0x11, 0x12, Save::kIfListed},              // KVM_WALL_CLOCK, KVM_SYSTEM_TIME
    {0x4b564d00, 0x4b564d08, Save::kIfListed},  // the KVM_* "new" MSRs
    // PVM MSRs besides the control MSR (set on every restore): saved where
    // a PVM build lists them. The one measured lists none, and its
    // 0x4b564d11-13 are read-only.
    {0x4b564d11, 0x4b564d1f, Save::kIfListed},
    // Performance counters (listed when KVM's vPMU is on): counts and
    // event selections would carry one instance's activity to the next.
    {0xc1, 0xc8, Save::kIfListed},              // PERFCTR0-7
    {0x186, 0x18d, Save::kIfListed},            // EVNTSEL0-7
    {0x309, 0x30b, Save::kIfListed},            // FIXED_CTR0-2
    {0x38d, 0x38d, Save::kIfListed},            // FIXED_CTR_CTRL
    {0x38f, 0x390, Save::kIfListed},            // PERF_GLOBAL_CTRL, _OVF_CTRL
    {0xc0010000, 0xc0010007, Save::kIfListed},  // AMD K7 EVNTSEL/PERFCTR
    {0xc0010200, 0xc001020b, Save::kIfListed},  // AMD F15H CTL/CTR
    {0xc0000300, 0xc0000302, Save::kIfListed},  // AMD PERF_CNTR_GLOBAL_*
};

}  // namespace

bool is_guest_msr(uint32_t index) {
    return std::any_of(std::begin(kAllowlist), std::end(kAllowlist),
                       [index](const MsrRange& r) { return index >= r.first && index <= r.last; });
}

std::vector<uint32_t> guest_msrs_to_save(const std::vector<uint32_t>& kvm_index_list) {
    std::vector<uint32_t> out;
    for (const MsrRange& r : kAllowlist)
        for (uint32_t i = r.first; i <= r.last; ++i)
            if (r.save == Save::kAlways ||
                std::find(kvm_index_list.begin(), kvm_index_list.end(), i) != kvm_index_list.end())
                out.push_back(i);
    return out;
}

size_t guest_msr_count() {
    size_t n = 0;
    for (const MsrRange& r : kAllowlist) n += r.last - r.first + 1;
    return n;
}

}  // namespace ember
