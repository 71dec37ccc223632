// guest_msrs.h - the model-specific registers a guest can write and KVM
// keeps per vCPU, which a snapshot therefore saves and every restore and
// reset sets again.
//
// Any Ember application can reach guest CPL 0 (it can rewrite the kernel's
// syscall entry stub, every page being U=1), so whatever `wrmsr` can change
// must not survive from one instance to the next. The allowlist is written
// out (guest_msrs.cpp, each entry with the reason it is there); a snapshot
// holding any other index is refused as corrupt. Which of them a snapshot
// actually carries depends on the host: the allowlisted MSRs this KVM lists
// in KVM_GET_MSR_INDEX_LIST, plus the few architectural ones KVM keeps
// without listing them (FS/GS base, TSC_AUX, the MTRRs), minus any the host
// cannot read and write back (see Vm::Impl::read_vcpu_state).
//
// Not here, on purpose: the TSC (saved separately, set to the host's TSC
// on every restore), the PVM control MSR (set to "native" on every
// restore), read-only and host-only MSRs (feature and capability MSRs,
// microcode revision, SMI count) which a guest cannot change.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ember {

// True if `index` is on the allowlist (the only MSRs a snapshot may hold).
bool is_guest_msr(uint32_t index);

// The allowlisted MSRs to save on this host, in allowlist order:
// those in `kvm_index_list` (KVM_GET_MSR_INDEX_LIST) and those KVM keeps
// without listing.
std::vector<uint32_t> guest_msrs_to_save(const std::vector<uint32_t>& kvm_index_list);

// The size of the allowlist: an upper bound on the MSRs of a snapshot.
size_t guest_msr_count();

}  // namespace ember
