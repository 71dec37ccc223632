// kvm.h - thin RAII wrappers over /dev/kvm: the system handle (opened once
// per process), a VM with its memory slots, and a vCPU with its kvm_run.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "vmm/x86.h"

namespace ember {

// <linux/kvm.h> declares its flexible arrays with a macro that, compiled as
// C++, adds a byte-sized member: kvm_cpuid2 and kvm_msrs then have another
// size and layout than the kernel's, and the ioctl numbers (which encode the
// size) are wrong. These are the C layouts and numbers.
constexpr uint32_t kMaxCpuidEntries = 100;  // PVM hosts reject larger counts
struct KvmCpuid {
    uint32_t nent;
    uint32_t padding;
    kvm_cpuid_entry2 entries[kMaxCpuidEntries];
};
template <size_t N>
struct KvmMsrs {
    uint32_t nmsrs;
    uint32_t pad;
    kvm_msr_entry entries[N];
};
struct KvmFlexHeader {
    uint32_t n, pad;
};
constexpr unsigned long kIoctlGetSupportedCpuid = _IOWR(KVMIO, 0x05, KvmFlexHeader);
constexpr unsigned long kIoctlSetCpuid2 = _IOW(KVMIO, 0x90, KvmFlexHeader);
constexpr unsigned long kIoctlGetMsrs = _IOWR(KVMIO, 0x88, KvmFlexHeader);
constexpr unsigned long kIoctlSetMsrs = _IOW(KVMIO, 0x89, KvmFlexHeader);
struct KvmMsrListHeader {  // struct kvm_msr_list: {nmsrs, indices[]}
    uint32_t n;
};
constexpr unsigned long kIoctlGetMsrIndexList = _IOWR(KVMIO, 0x02, KvmMsrListHeader);
constexpr size_t kMaxSetMsrs = 256;  // per KVM_GET_MSRS/KVM_SET_MSRS call
struct KvmXsave {
    uint32_t region[1024];
};
constexpr unsigned long kIoctlGetXsave = _IOR(KVMIO, 0xa4, KvmXsave);
constexpr unsigned long kIoctlSetXsave = _IOW(KVMIO, 0xa5, KvmXsave);

enum class HostKind { kUnknown, kHardware, kPvm };
const char* host_kind_name(HostKind k);

// PVM paravirtual MSRs (see shared/platform/README.md).
constexpr uint32_t kMsrPvmCtl = 0x4b564d10;        // bit 0: run guest CPL 0 natively
constexpr uint32_t kMsrPvmSignature = 0x4b564d11;  // reads 0x4d5650 ("PVM")
constexpr uint64_t kPvmSignature = 0x4d5650;

class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd();
    Fd(Fd&& o) noexcept : fd_(o.release()) {}
    Fd& operator=(Fd&& o) noexcept;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    int release() {
        int f = fd_;
        fd_ = -1;
        return f;
    }
    bool valid() const { return fd_ >= 0; }

  private:
    int fd_ = -1;
};

// Process-wide facts about /dev/kvm, computed once.
class KvmSystem {
  public:
    // Opens /dev/kvm on first use; later calls return the same object.
    static Result<KvmSystem*> get();
    int fd() const { return fd_.get(); }
    int api_version() const { return api_version_; }
    size_t vcpu_mmap_size() const { return vcpu_mmap_size_; }
    const KvmCpuid* supported_cpuid() const { return &cpuid_; }
    uint64_t xcr0_mask() const { return xcr0_mask_; }
    // Known after the first vCPU exists (PVM is detected through an MSR).
    HostKind host_kind() const { return host_kind_; }
    void set_host_kind(HostKind k) { host_kind_ = k; }
    uint32_t tsc_khz() const { return tsc_khz_; }
    void set_tsc_khz(uint32_t k) { tsc_khz_ = k; }
    // KVM_GET_MSR_INDEX_LIST: the MSRs this KVM keeps per vCPU.
    const std::vector<uint32_t>& msr_index_list() const { return msr_index_list_; }

  private:
    Fd fd_;
    int api_version_ = 0;
    size_t vcpu_mmap_size_ = 0;
    KvmCpuid cpuid_{};
    uint64_t xcr0_mask_ = x86::kXcr0X87 | x86::kXcr0Sse;
    HostKind host_kind_ = HostKind::kUnknown;
    uint32_t tsc_khz_ = 0;
    std::vector<uint32_t> msr_index_list_;
};

class Vcpu {
  public:
    Vcpu() = default;
    ~Vcpu();
    Vcpu(Vcpu&&) noexcept;
    Vcpu& operator=(Vcpu&&) noexcept;
    Vcpu(const Vcpu&) = delete;

    static Result<Vcpu> create(KvmSystem& sys, int vm_fd);
    // A vCPU created elsewhere (VmPool's creator thread): takes fd, maps
    // its kvm_run.
    static Result<Vcpu> adopt(KvmSystem& sys, int fd);
    int fd() const { return fd_.get(); }
    kvm_run* run() const { return run_; }

    // Sets up to kMaxSetMsrs MSRs in one call; the error names the first
    // one KVM rejected.
    Status set_msrs(const std::vector<std::pair<uint32_t, uint64_t>>& msrs);
    bool get_msr(uint32_t index, uint64_t* value);
    // Reads up to kMaxSetMsrs MSRs; false if any is unreadable.
    bool get_msrs(std::vector<std::pair<uint32_t, uint64_t>>* msrs);

  private:
    Fd fd_;
    kvm_run* run_ = nullptr;
    size_t run_size_ = 0;
};

}  // namespace ember
