#include "vmm/snapshot.h"

#include <cpuid.h>
#include <fcntl.h>
#include <nmmintrin.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <set>

#include "abi/ember_abi.h"
#include "common/fd_io.h"
#include "common/units.h"

namespace ember::snapshot {
namespace {

constexpr uint64_t kPage = EMBER_PAGE_SIZE;

// ---- field-by-field encoding -----------------------------------------------
class Writer {
  public:
    void u8(uint8_t v) { buf_.push_back(v); }
    void u16(uint16_t v) { bytes(&v, 2); }
    void u32(uint32_t v) { bytes(&v, 4); }
    void u64(uint64_t v) { bytes(&v, 8); }
    void bytes(const void* p, size_t n) {
        const auto* b = static_cast<const uint8_t*>(p);
        buf_.insert(buf_.end(), b, b + n);
    }
    std::vector<uint8_t>& buf() { return buf_; }

  private:
    std::vector<uint8_t> buf_;
};

// Reads with bounds: after any short read, ok() is false and values are 0.
class Reader {
  public:
    Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
    bool ok() const { return ok_; }
    size_t left() const { return n_ - off_; }
    void bytes(void* out, size_t n) {
        if (!ok_ || n > n_ - off_) {
            ok_ = false;
            std::memset(out, 0, n);
            return;
        }
        std::memcpy(out, p_ + off_, n);
        off_ += n;
    }
    uint8_t u8() {
        uint8_t v;
        bytes(&v, 1);
        return v;
    }
    uint16_t u16() {
        uint16_t v;
        bytes(&v, 2);
        return v;
    }
    uint32_t u32() {
        uint32_t v;
        bytes(&v, 4);
        return v;
    }
    uint64_t u64() {
        uint64_t v;
        bytes(&v, 8);
        return v;
    }

  private:
    const uint8_t* p_;
    size_t n_, off_ = 0;
    bool ok_ = true;
};

void put_segment(Writer& w, const kvm_segment& s) {
    w.u64(s.base);
    w.u32(s.limit);
    w.u16(s.selector);
    for (uint8_t b : {s.type, s.present, s.dpl, s.db, s.s, s.l, s.g, s.avl, s.unusable}) w.u8(b);
}
kvm_segment get_segment(Reader& r) {
    kvm_segment s{};
    s.base = r.u64();
    s.limit = r.u32();
    s.selector = r.u16();
    s.type = r.u8();
    s.present = r.u8();
    s.dpl = r.u8();
    s.db = r.u8();
    s.s = r.u8();
    s.l = r.u8();
    s.g = r.u8();
    s.avl = r.u8();
    s.unusable = r.u8();
    return s;
}

void put_regs(Writer& w, const kvm_regs& g) {
    for (uint64_t v : {g.rax, g.rbx, g.rcx, g.rdx, g.rsi, g.rdi, g.rsp, g.rbp, g.r8, g.r9, g.r10,
                       g.r11, g.r12, g.r13, g.r14, g.r15, g.rip, g.rflags})
        w.u64(static_cast<uint64_t>(v));
}
kvm_regs get_regs(Reader& r) {
    kvm_regs g{};
    for (auto* f : {&g.rax, &g.rbx, &g.rcx, &g.rdx, &g.rsi, &g.rdi, &g.rsp, &g.rbp, &g.r8, &g.r9,
                    &g.r10, &g.r11, &g.r12, &g.r13, &g.r14, &g.r15, &g.rip, &g.rflags})
        *f = r.u64();
    return g;
}

void put_sregs(Writer& w, const kvm_sregs& s) {
    for (const kvm_segment* seg : {&s.cs, &s.ds, &s.es, &s.fs, &s.gs, &s.ss, &s.tr, &s.ldt})
        put_segment(w, *seg);
    w.u64(s.gdt.base);
    w.u16(s.gdt.limit);
    w.u64(s.idt.base);
    w.u16(s.idt.limit);
    for (uint64_t v : {s.cr0, s.cr2, s.cr3, s.cr4, s.cr8, s.efer, s.apic_base}) w.u64(v);
}
kvm_sregs get_sregs(Reader& r) {
    kvm_sregs s{};
    for (kvm_segment* seg : {&s.cs, &s.ds, &s.es, &s.fs, &s.gs, &s.ss, &s.tr, &s.ldt})
        *seg = get_segment(r);
    s.gdt.base = r.u64();
    s.gdt.limit = r.u16();
    s.idt.base = r.u64();
    s.idt.limit = r.u16();
    for (auto* f : {&s.cr0, &s.cr2, &s.cr3, &s.cr4, &s.cr8, &s.efer, &s.apic_base}) *f = r.u64();
    return s;
}

void put_features(Writer& w, const CpuFeatures& f) {
    w.u64(f.xcr0);
    for (uint32_t v : {f.cpuid1_ecx, f.cpuid1_edx, f.cpuid7_ebx, f.cpuid7_ecx, f.cpuid7_edx})
        w.u32(v);
}
CpuFeatures get_features(Reader& r) {
    CpuFeatures f;
    f.xcr0 = r.u64();
    for (auto* p : {&f.cpuid1_ecx, &f.cpuid1_edx, &f.cpuid7_ebx, &f.cpuid7_ecx, &f.cpuid7_edx})
        *p = r.u32();
    return f;
}

void encode_header(Writer& w, const Header& h) {
    w.bytes(kMagic, sizeof kMagic);
    w.u32(h.format_version);
    w.u32(h.abi_version);
    w.u32(h.arch);
    put_features(w, h.features);
    for (uint64_t v :
         {h.tsc_khz, h.mem_size, h.state_offset, h.state_size, h.mem_offset, h.mem_pages})
        w.u64(v);
    w.u32(h.state_crc);
    w.u32(h.mem_crc);
}

// Fuzzing builds (tests/fuzz) take any checksum, so that the fuzzer reaches
// the parsing behind the checks instead of stopping at them.
bool checksum_ok(uint32_t stored, uint32_t computed) {
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    (void)stored;
    (void)computed;
    return true;
#else
    return stored == computed;
#endif
}

bool page_is_zero(const uint8_t* p) {
    const auto* q = reinterpret_cast<const uint64_t*>(p);
    for (size_t i = 0; i < kPage / 8; ++i)
        if (q[i]) return false;
    return true;
}

}  // namespace

Status encode_instance_state(const VcpuState& vcpu, const VmmState& vmm,
                             std::vector<uint8_t>* out) {
    if (vcpu.msrs.size() > guest_msr_count()) return Status::internal("too many MSRs to save");
    Writer st;
    put_regs(st, vcpu.regs);
    put_sregs(st, vcpu.sregs);
    st.bytes(&vcpu.xsave, sizeof vcpu.xsave);
    st.u64(vcpu.xcr0);
    for (uint64_t v : {vcpu.debugregs.db[0], vcpu.debugregs.db[1], vcpu.debugregs.db[2],
                       vcpu.debugregs.db[3], vcpu.debugregs.dr6, vcpu.debugregs.dr7})
        st.u64(v);
    st.u32(static_cast<uint32_t>(vcpu.msrs.size()));
    for (const auto& [idx, val] : vcpu.msrs) {
        st.u32(idx);
        st.u64(val);
    }
    st.u64(vcpu.tsc);
    st.u32(vmm.host_kind);
    st.u32(vmm.stdin_eof);
    st.u64(static_cast<uint64_t>(vmm.guest_mono_ns));
    st.u32(vmm.ready_call);
    st.u64(vmm.ready_arg);
    st.u32(static_cast<uint32_t>(vmm.listeners.size()));
    for (const auto& [id, port] : vmm.listeners) {
        st.u32(id);
        st.u16(port);
    }
    out->insert(out->end(), st.buf().begin(), st.buf().end());
    return Status::ok();
}

Status decode_instance_state(const uint8_t* p, size_t n, size_t* used, VcpuState* vcpu,
                             VmmState* vmm) {
    Reader s(p, n);
    VcpuState v;
    v.regs = get_regs(s);
    v.sregs = get_sregs(s);
    s.bytes(&v.xsave, sizeof v.xsave);
    v.xcr0 = s.u64();
    for (auto* f : {&v.debugregs.db[0], &v.debugregs.db[1], &v.debugregs.db[2], &v.debugregs.db[3],
                    &v.debugregs.dr6, &v.debugregs.dr7})
        *f = s.u64();
    // DR6 and DR7 are 32-bit registers; KVM refuses upper bits.
    if ((v.debugregs.dr6 | v.debugregs.dr7) >> 32)
        return Status::corruption("bad debug register value (corrupt state)");
    const uint32_t nmsrs = s.u32();
    if (nmsrs > guest_msr_count()) return Status::corruption("too many MSRs (corrupt state)");
    std::set<uint32_t> seen;
    for (uint32_t i = 0; i < nmsrs && s.ok(); ++i) {
        const uint32_t idx = s.u32();
        // Only MSRs a guest can write belong in a snapshot: anything else
        // (the PVM control MSR, the TSC, host-only MSRs) the VMM sets itself.
        if (!is_guest_msr(idx))
            return Status::corruption("MSR " + format_hex(idx) +
                                      " is not a guest-writable MSR (corrupt state)");
        if (!seen.insert(idx).second)
            return Status::corruption("MSR " + format_hex(idx) + " saved twice (corrupt state)");
        v.msrs.emplace_back(idx, s.u64());
    }
    v.tsc = s.u64();
    VmmState m;
    m.host_kind = s.u32();
    m.stdin_eof = s.u32();
    m.guest_mono_ns = static_cast<int64_t>(s.u64());
    m.ready_call = s.u32();
    m.ready_arg = s.u64();
    if (m.ready_call != EMBER_HC_WAIT && m.ready_call != EMBER_HC_READY)
        return Status::corruption("unknown resume point (corrupt state)");
    const uint32_t nlisteners = s.u32();
    if (nlisteners > EMBER_NET_MAX_STREAMS)
        return Status::corruption("too many listeners (corrupt state)");
    for (uint32_t i = 0; i < nlisteners && s.ok(); ++i) {
        const uint32_t id = s.u32();
        m.listeners[id] = s.u16();
    }
    if (!s.ok()) return Status::corruption("state section truncated (corrupt state)");
    *used = n - s.left();
    *vcpu = std::move(v);
    *vmm = std::move(m);
    return Status::ok();
}

__attribute__((target("sse4.2"))) uint32_t crc32c(uint32_t crc, const void* data, size_t len) {
    const auto* p = static_cast<const uint8_t*>(data);
    uint64_t c = ~crc;
    while (len >= 8) {
        uint64_t v;
        std::memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = static_cast<uint32_t>(c);
    while (len--) c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}

CpuFeatures CpuFeatures::of_this_host() {
    CpuFeatures f;
    unsigned a, b, c, d;
    __cpuid_count(1, 0, a, b, c, d);
    // Bits that vary with OS state or between vCPUs are masked out:
    // OSXSAVE (ECX 27) and the APIC ID/hypervisor bit don't matter to a guest.
    f.cpuid1_ecx = c & ~((1u << 27) | (1u << 31));
    f.cpuid1_edx = d;
    __cpuid_count(7, 0, a, b, c, d);
    f.cpuid7_ebx = b;
    f.cpuid7_ecx = c & ~(1u << 22);  // OSPKE follows CR4
    f.cpuid7_edx = d;
    uint32_t lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    f.xcr0 = (uint64_t{hi} << 32) | lo;
    return f;
}

std::string CpuFeatures::missing_on(const CpuFeatures& host) const {
    std::string out;
    auto check = [&](const char* what, uint64_t need, uint64_t have) {
        if (need & ~have)
            out +=
                std::string(out.empty() ? "" : ", ") + what + " bits " + format_hex(need & ~have);
    };
    check("XCR0", xcr0, host.xcr0);
    check("CPUID.1:ECX", cpuid1_ecx, host.cpuid1_ecx);
    check("CPUID.1:EDX", cpuid1_edx, host.cpuid1_edx);
    check("CPUID.7:EBX", cpuid7_ebx, host.cpuid7_ebx);
    check("CPUID.7:ECX", cpuid7_ecx, host.cpuid7_ecx);
    check("CPUID.7:EDX", cpuid7_edx, host.cpuid7_edx);
    return out;
}

Result<RootfsRef> rootfs_ref_of(int fd, const std::string& path, uint64_t gpa) {
    struct stat st;
    if (fstat(fd, &st) != 0) return Status::from_errno("fstat the root filesystem");
    if (path.empty() || path.size() > kMaxRootfsPath || path[0] != '/')
        return Status::invalid_argument("the root filesystem's path must be absolute");
    RootfsRef r;
    r.gpa = gpa;
    r.size = static_cast<uint64_t>(st.st_size);
    r.path = path;
    r.dev = st.st_dev;
    r.ino = st.st_ino;
    r.mtime_ns = static_cast<uint64_t>(st.st_mtim.tv_sec) * 1'000'000'000ull +
                 static_cast<uint64_t>(st.st_mtim.tv_nsec);
    return r;
}

Status write_fd(int fd, const GuestMemory& mem, const VcpuState& vcpu, const VmmState& vmm,
                uint64_t tsc_khz, const RootfsRef& rootfs) {
    const uint64_t npages = mem.size() / kPage;
    // Pages present: resident in the host (mincore) and not all zero.
    std::vector<unsigned char> resident(npages);
    if (mincore(mem.host_base(), mem.size(), resident.data()) != 0)
        return Status::from_errno("mincore guest memory");
    // Of a referenced root filesystem, only the pages the guest wrote.
    const uint64_t rlo = rootfs.gpa / kPage, rhi = (rootfs.gpa + rootfs.size + kPage - 1) / kPage;
    std::vector<GuestMemory::PageState> states;
    if (rootfs.size) {
        if (rhi > npages || rootfs.gpa % kPage)
            return Status::internal("root filesystem outside guest memory");
        if (auto st = mem.page_states(&states); !st) return st;
    }
    std::vector<uint64_t> bitmap((npages + 63) / 64, 0);
    uint64_t present = 0;
    uint32_t mem_crc = 0;
    for (uint64_t i = 0; i < npages; ++i) {
        const uint8_t* p = mem.host_base() + i * kPage;
        if (rootfs.size && i >= rlo && i < rhi && states[i] != GuestMemory::PageState::kCopied)
            continue;
        if (!(resident[i] & 1) || page_is_zero(p)) continue;
        bitmap[i / 64] |= 1ull << (i % 64);
        ++present;
        mem_crc = crc32c(mem_crc, p, kPage);
    }

    Writer st;
    if (auto s = encode_instance_state(vcpu, vmm, &st.buf()); !s) return s;
    st.u64(bitmap.size());
    for (uint64_t w : bitmap) st.u64(w);
    st.u64(rootfs.size);
    if (rootfs.size) {
        for (uint64_t v : {rootfs.gpa, rootfs.dev, rootfs.ino, rootfs.mtime_ns}) st.u64(v);
        st.u32(static_cast<uint32_t>(rootfs.path.size()));
        st.bytes(rootfs.path.data(), rootfs.path.size());
    }

    Header h;
    h.abi_version = EMBER_ABI_VERSION;
    h.features = CpuFeatures::of_this_host();
    h.tsc_khz = tsc_khz;
    h.mem_size = mem.size();
    h.state_offset = kHeaderSize;
    h.state_size = st.buf().size();
    h.mem_offset = (kHeaderSize + h.state_size + kPage - 1) & ~(kPage - 1);
    h.mem_pages = present;
    h.state_crc = crc32c(0, st.buf().data(), st.buf().size());
    h.mem_crc = mem_crc;
    Writer hw;
    encode_header(hw, h);
    const uint32_t header_crc = crc32c(0, hw.buf().data(), hw.buf().size());
    hw.u32(header_crc);
    hw.buf().resize(kHeaderSize, 0);

    // A file written before (a failed attempt) must not keep stale pages
    // in what become holes.
    bool ok = ftruncate(fd, 0) == 0 && pwrite_all(fd, hw.buf().data(), kHeaderSize, 0) &&
              pwrite_all(fd, st.buf().data(), st.buf().size(), kHeaderSize) &&
              ftruncate(fd, static_cast<off_t>(h.mem_offset + h.mem_size)) == 0;
    // Runs of present pages are written together; absent pages stay holes.
    for (uint64_t i = 0; ok && i < npages;) {
        if (!(bitmap[i / 64] >> (i % 64) & 1)) {
            ++i;
            continue;
        }
        uint64_t j = i;
        while (j < npages && (bitmap[j / 64] >> (j % 64) & 1)) ++j;
        ok = pwrite_all(fd, mem.host_base() + i * kPage, (j - i) * kPage, h.mem_offset + i * kPage);
        i = j;
    }
    ok = ok && fdatasync(fd) == 0;
    return ok ? Status::ok() : Status::from_errno("write snapshot");
}

Status write(const std::string& path, const GuestMemory& mem, const VcpuState& vcpu,
             const VmmState& vmm, uint64_t tsc_khz, const RootfsRef& rootfs) {
    const std::string tmp = path + ".tmp." + std::to_string(getpid());
    const int fd = ::open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) return Status::from_errno("create snapshot " + tmp);
    const Status st = write_fd(fd, mem, vcpu, vmm, tsc_khz, rootfs);
    ::close(fd);
    if (!st) {
        ::unlink(tmp.c_str());
        return Status(st.code(), st.message() + " " + path);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        return Status::from_errno("rename snapshot into " + path);
    }
    return Status::ok();
}

Snapshot::~Snapshot() {
    if (pristine_) munmap(const_cast<uint8_t*>(pristine_), header_.mem_size);
    if (fd_ >= 0) ::close(fd_);
    if (rootfs_fd_ >= 0) ::close(rootfs_fd_);
}

bool Snapshot::overlay_rootfs(uint8_t* base, bool shared) const {
    if (rootfs_fd_ < 0) return true;
    const int prot = shared ? PROT_READ : PROT_READ | PROT_WRITE;
    const int flags = MAP_FIXED | MAP_NORESERVE | (shared ? MAP_SHARED : MAP_PRIVATE);
    const uint64_t len = (rootfs_.size + kPage - 1) & ~(kPage - 1);
    if (mmap(base + rootfs_.gpa, len, prot, flags, rootfs_fd_, 0) == MAP_FAILED) return false;
    for (uint64_t p = rootfs_.gpa / kPage; p < (rootfs_.gpa + len) / kPage; ++p)
        if (page_present(p) &&
            mmap(base + p * kPage, kPage, prot, flags, fd_,
                 static_cast<off_t>(header_.mem_offset + p * kPage)) == MAP_FAILED)
            return false;
    return true;
}

const uint8_t* Snapshot::pristine() const {
    std::lock_guard lock(ws_mu_);
    if (!pristine_) {
        void* p = mmap(nullptr, header_.mem_size, PROT_READ, MAP_SHARED, fd_,
                       static_cast<off_t>(header_.mem_offset));
        if (p != MAP_FAILED && !overlay_rootfs(static_cast<uint8_t*>(p), true)) {
            munmap(p, header_.mem_size);
            p = MAP_FAILED;
        }
        if (p != MAP_FAILED) pristine_ = static_cast<const uint8_t*>(p);
    }
    return pristine_;
}

namespace {

// The root filesystem reference at the end of the state section; opens the
// archive and checks it is the one the snapshot was made with.
Status read_rootfs_ref(Reader& s, const std::string& what, uint64_t mem_size, RootfsRef* r,
                       int* fd) {
    r->size = s.u64();
    if (!s.ok()) return Status::corruption(what + "state section truncated (corrupt state)");
    if (r->size == 0) return Status::ok();
    r->gpa = s.u64();
    r->dev = s.u64();
    r->ino = s.u64();
    r->mtime_ns = s.u64();
    const uint32_t n = s.u32();
    if (!s.ok() || n == 0 || n > kMaxRootfsPath || r->gpa % kPage || r->gpa > mem_size ||
        r->size > mem_size - r->gpa)
        return Status::corruption(what + "bad root filesystem reference (corrupt state)");
    r->path.resize(n);
    s.bytes(r->path.data(), n);
    if (!s.ok() || r->path[0] != '/' || r->path.find('\0') != std::string::npos)
        return Status::corruption(what + "bad root filesystem path (corrupt state)");
    const int f = ::open(r->path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return Status::not_found(what + "its root filesystem " + r->path +
                                 " is missing (make the snapshot again)");
    auto now = rootfs_ref_of(f, r->path, r->gpa);
    if (!now || now->size != r->size || now->dev != r->dev || now->ino != r->ino ||
        now->mtime_ns != r->mtime_ns) {
        ::close(f);
        return Status::corruption(what + "its root filesystem " + r->path +
                                  " changed since the snapshot (make the snapshot again)");
    }
    *fd = f;
    return Status::ok();
}

}  // namespace

Result<std::shared_ptr<const Snapshot>> Snapshot::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::from_errno("snapshot " + path + ": cannot open");
    return open_fd(fd, path);
}

Result<std::shared_ptr<const Snapshot>> Snapshot::open_fd(int fd, const std::string& name) {
    auto snap = std::shared_ptr<Snapshot>(new Snapshot());
    const std::string what = "snapshot " + name + ": ";
    snap->fd_ = fd;
    struct stat st;
    if (fstat(snap->fd_, &st) != 0) return Status::from_errno(what + "fstat");
    const uint64_t file_size = static_cast<uint64_t>(st.st_size);
    if (file_size < kHeaderSize)
        return Status::corruption(what + "truncated: " + std::to_string(file_size) +
                                  " bytes, shorter than its header");
    std::vector<uint8_t> hb(kHeaderSize);
    if (!pread_all(snap->fd_, hb.data(), kHeaderSize, 0))
        return Status::from_errno(what + "read header");
    if (std::memcmp(hb.data(), kMagic, sizeof kMagic) != 0)
        return Status::corruption(what + "not an Ember snapshot (bad magic)");
    Reader r(hb.data() + sizeof kMagic, kHeaderSize - sizeof kMagic);
    Header& h = snap->header_;
    h.format_version = r.u32();
    if (h.format_version == 1)
        return Status::unsupported(what +
                                   "format version 1 is no longer read (it lacks the debug "
                                   "registers and most MSRs, so a restore would not be exact): "
                                   "make the snapshot again");
    if (h.format_version != kFormatVersion)
        return Status::unsupported(
            what + "unsupported format version " + std::to_string(h.format_version) +
            " (this build reads version " + std::to_string(kFormatVersion) + ")");
    h.abi_version = r.u32();
    h.arch = r.u32();
    h.features = get_features(r);
    for (auto* f :
         {&h.tsc_khz, &h.mem_size, &h.state_offset, &h.state_size, &h.mem_offset, &h.mem_pages})
        *f = r.u64();
    h.state_crc = r.u32();
    h.mem_crc = r.u32();
    const size_t crc_len = kHeaderSize - r.left();
    const uint32_t header_crc = r.u32();
    if (!r.ok() || !checksum_ok(header_crc, crc32c(0, hb.data(), crc_len)))
        return Status::corruption(what + "header checksum mismatch (corrupt header)");
    if (h.arch != kArchX86_64) return Status::unsupported(what + "made for another architecture");
    if (h.abi_version != EMBER_ABI_VERSION)
        return Status::unsupported(what + "made with guest ABI version " +
                                   std::to_string(h.abi_version) + ", this build uses " +
                                   std::to_string(EMBER_ABI_VERSION));
    if (std::string missing = h.features.missing_on(CpuFeatures::of_this_host()); !missing.empty())
        return Status::unsupported(what + "needs CPU features this host lacks: " + missing);
    if (!check_guest_memory_size(h.mem_size))
        return Status::corruption(what + "bad guest memory size " + std::to_string(h.mem_size));
    if (h.state_offset != kHeaderSize || h.state_size > kMaxStateSize || h.mem_offset % kPage ||
        h.mem_offset < h.state_offset + h.state_size || h.mem_pages > h.mem_size / kPage)
        return Status::corruption(what + "section bounds out of range (corrupt header)");
    if (file_size < h.mem_offset + h.mem_size)
        return Status::corruption(what + "truncated: " + std::to_string(file_size) +
                                  " bytes, needs " + std::to_string(h.mem_offset + h.mem_size));

    std::vector<uint8_t> sb(h.state_size);
    if (!pread_all(snap->fd_, sb.data(), sb.size(), h.state_offset))
        return Status::from_errno(what + "read state");
    if (!checksum_ok(h.state_crc, crc32c(0, sb.data(), sb.size())))
        return Status::corruption(what + "state checksum mismatch (corrupt vCPU state)");
    size_t used = 0;
    if (auto st2 = decode_instance_state(sb.data(), sb.size(), &used, &snap->vcpu_, &snap->vmm_);
        !st2)
        return Status(st2.code(), what + st2.message());
    Reader s(sb.data() + used, sb.size() - used);
    const uint64_t words = s.u64();
    if (!s.ok() || words != (h.mem_size / kPage + 63) / 64)
        return Status::corruption(what + "page bitmap size mismatch (corrupt state)");
    std::vector<uint64_t> bitmap(words);
    for (auto& w : bitmap) w = s.u64();
    if (!s.ok()) return Status::corruption(what + "state section truncated (corrupt state)");
    if (auto st2 = read_rootfs_ref(s, what, h.mem_size, &snap->rootfs_, &snap->rootfs_fd_); !st2)
        return st2;

    // Memory checksum over the present pages, once per open.
    auto mem = GuestMemory::map_file_private(snap->fd_, h.mem_offset, h.mem_size);
    if (!mem) return mem.status();
    uint32_t crc = 0;
    uint64_t present = 0;
    for (uint64_t i = 0; i < h.mem_size / kPage; ++i) {
        if (!(bitmap[i / 64] >> (i % 64) & 1)) continue;
        ++present;
        crc = crc32c(crc, mem->host_base() + i * kPage, kPage);
    }
    if (present != h.mem_pages || !checksum_ok(h.mem_crc, crc))
        return Status::corruption(what + "memory checksum mismatch (corrupt guest memory)");
    // RAM is what the boot-info page says (the root filesystem's slot above
    // it is not the guest's memory), bounded by the memory section.
    snap->ram_size_ = h.mem_size;
    if (auto b = mem->read_obj<ember_boot_info>(EMBER_GPA_BOOT_INFO);
        b && b->ram_size && b->ram_size <= h.mem_size)
        snap->ram_size_ = b->ram_size;
    snap->present_ = std::move(bitmap);
    return std::shared_ptr<const Snapshot>(std::move(snap));
}

void Snapshot::record_working_set(WorkingSet ws) const {
    // Written pages first: populating one saves a copy-on-write fault, a
    // read page only a mapping fault.
    uint64_t room = kMaxWorkingSetPages;
    auto bound = [&](std::vector<uint64_t>* pages) {
        size_t kept = 0;
        for (uint64_t p : *pages) {
            if (room == 0) break;
            if (!page_present(p)) continue;
            (*pages)[kept++] = p;
            --room;
        }
        pages->resize(kept);
    };
    bound(&ws.written);
    bound(&ws.read);
    std::lock_guard lock(ws_mu_);
    if (!working_set_) working_set_ = std::make_shared<const WorkingSet>(std::move(ws));
}

std::shared_ptr<const WorkingSet> Snapshot::working_set() const {
    std::lock_guard lock(ws_mu_);
    return working_set_;
}

Result<GuestMemory> Snapshot::map_memory() const {
    auto m = GuestMemory::map_file_private(fd_, header_.mem_offset, header_.mem_size);
    if (m && !overlay_rootfs(m->host_base(), false))
        return Status::from_errno("mmap the snapshot's root filesystem " + rootfs_.path);
    return m;
}

}  // namespace ember::snapshot
