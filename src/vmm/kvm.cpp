#include "vmm/kvm.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <utility>

namespace ember {

const char* host_kind_name(HostKind k) {
    switch (k) {
        case HostKind::kHardware:
            return "hardware";
        case HostKind::kPvm:
            return "pvm";
        default:
            return "unknown";
    }
}

Fd::~Fd() {
    if (fd_ >= 0) ::close(fd_);
}

Fd& Fd::operator=(Fd&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.release();
    }
    return *this;
}

Result<KvmSystem*> KvmSystem::get() {
    static KvmSystem* instance = nullptr;
    static Status failure;
    static std::once_flag once;
    std::call_once(once, [] {
        auto* s = new KvmSystem();
        int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            failure = Status::from_errno("cannot open /dev/kvm");
            delete s;
            return;
        }
        s->fd_ = Fd(fd);
        s->api_version_ = ioctl(fd, KVM_GET_API_VERSION, 0);
        if (s->api_version_ != KVM_API_VERSION) {
            failure = Status::unavailable("unsupported KVM API version " +
                                          std::to_string(s->api_version_));
            delete s;
            return;
        }
        const int mmap_size = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
        if (mmap_size <= 0) {
            failure = Status::from_errno("KVM_GET_VCPU_MMAP_SIZE");
            delete s;
            return;
        }
        s->vcpu_mmap_size_ = static_cast<size_t>(mmap_size);
        s->cpuid_.nent = kMaxCpuidEntries;
        if (ioctl(fd, kIoctlGetSupportedCpuid, &s->cpuid_) < 0) {
            failure = Status::from_errno("KVM_GET_SUPPORTED_CPUID");
            delete s;
            return;
        }
        // XCR0: x87, SSE, AVX, and the AVX-512 state components when the
        // host supports them (CPUID.(EAX=0xd,ECX=0).EAX).
        for (uint32_t i = 0; i < s->cpuid_.nent && i < kMaxCpuidEntries; ++i) {
            const auto& e = s->cpuid_.entries[i];
            if (e.function == x86::kCpuidLeafXsave && e.index == 0)
                s->xcr0_mask_ = e.eax & (x86::kXcr0X87 | x86::kXcr0Sse | x86::kXcr0Avx |
                                         x86::kXcr0Opmask | x86::kXcr0ZmmHi256 | x86::kXcr0Hi16Zmm);
        }
        // The MSR list: asked with room for none, KVM says how many (E2BIG).
        KvmMsrListHeader probe{};
        if (ioctl(fd, kIoctlGetMsrIndexList, &probe) < 0 && errno != E2BIG) {
            failure = Status::from_errno("KVM_GET_MSR_INDEX_LIST");
            delete s;
            return;
        }
        std::vector<uint32_t> list(1 + probe.n);  // the header, then the indices
        list[0] = probe.n;
        if (ioctl(fd, kIoctlGetMsrIndexList, list.data()) < 0) {
            failure = Status::from_errno("KVM_GET_MSR_INDEX_LIST");
            delete s;
            return;
        }
        s->msr_index_list_.assign(list.begin() + 1, list.begin() + 1 + std::min(list[0], probe.n));
        instance = s;
    });
    if (!instance) return failure;
    return instance;
}

Vcpu::~Vcpu() {
    if (run_) munmap(run_, run_size_);
}

Vcpu::Vcpu(Vcpu&& o) noexcept
    : fd_(std::move(o.fd_)), run_(std::exchange(o.run_, nullptr)), run_size_(o.run_size_) {}

Vcpu& Vcpu::operator=(Vcpu&& o) noexcept {
    if (this != &o) {
        if (run_) munmap(run_, run_size_);
        fd_ = std::move(o.fd_);
        run_ = std::exchange(o.run_, nullptr);
        run_size_ = o.run_size_;
    }
    return *this;
}

Result<Vcpu> Vcpu::create(KvmSystem& sys, int vm_fd) {
    int fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
    if (fd < 0) return Status::from_errno("KVM_CREATE_VCPU");
    return adopt(sys, fd);
}

Result<Vcpu> Vcpu::adopt(KvmSystem& sys, int fd) {
    Vcpu v;
    v.fd_ = Fd(fd);
    void* p = mmap(nullptr, sys.vcpu_mmap_size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return Status::from_errno("mmap kvm_run");
    v.run_ = static_cast<kvm_run*>(p);
    v.run_size_ = sys.vcpu_mmap_size();
    return v;
}

Status Vcpu::set_msrs(const std::vector<std::pair<uint32_t, uint64_t>>& msrs) {
    auto owner = std::make_unique<KvmMsrs<kMaxSetMsrs>>();
    KvmMsrs<kMaxSetMsrs>& m = *owner;
    EMBER_CHECK(msrs.size() <= kMaxSetMsrs);
    m.nmsrs = static_cast<uint32_t>(msrs.size());
    for (size_t i = 0; i < msrs.size(); ++i) {
        m.entries[i].index = msrs[i].first;
        m.entries[i].data = msrs[i].second;
    }
    const int n = ioctl(fd_.get(), kIoctlSetMsrs, &m);
    if (n < 0) return Status::from_errno("KVM_SET_MSRS");
    if (static_cast<size_t>(n) != msrs.size()) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "%#x", msrs[static_cast<size_t>(n)].first);
        return Status::internal(std::string("KVM_SET_MSRS rejected MSR ") + hex);
    }
    return Status::ok();
}

bool Vcpu::get_msrs(std::vector<std::pair<uint32_t, uint64_t>>* msrs) {
    auto owner = std::make_unique<KvmMsrs<kMaxSetMsrs>>();
    KvmMsrs<kMaxSetMsrs>& m = *owner;
    EMBER_CHECK(msrs->size() <= kMaxSetMsrs);
    m.nmsrs = static_cast<uint32_t>(msrs->size());
    for (size_t i = 0; i < msrs->size(); ++i) m.entries[i].index = (*msrs)[i].first;
    if (ioctl(fd_.get(), kIoctlGetMsrs, &m) != static_cast<int>(msrs->size())) return false;
    for (size_t i = 0; i < msrs->size(); ++i) (*msrs)[i].second = m.entries[i].data;
    return true;
}

bool Vcpu::get_msr(uint32_t index, uint64_t* value) {
    KvmMsrs<1> m{};
    m.nmsrs = 1;
    m.entries[0].index = index;
    if (ioctl(fd_.get(), kIoctlGetMsrs, &m) != 1) return false;
    *value = m.entries[0].data;
    return true;
}

}  // namespace ember
