// snapshot.h - ready-to-serve snapshots of an Ember microVM.
//
// File format (little-endian, encoded field by field, version kFormatVersion):
//   page 0      header: magic "EMBRSNAP", format version, ABI version,
//               architecture, the CPU features the snapshot relies on
//               (XCR0, CPUID 1.ECX/EDX, 7.EBX/ECX/EDX), TSC kHz, guest memory
//               size, offsets and sizes of the sections, CRC32C of the state
//               section and of the memory, CRC32C of the header itself.
//   state       vCPU state (registers, segment and descriptor-table
//               registers, control registers, XSAVE area, XCR0, debug
//               registers, the guest-writable MSRs of guest_msrs.h), VMM
//               state, and a bitmap of the memory pages present.
//   memory      at a page-aligned offset: an image of guest RAM in which
//               absent (never touched or all-zero) pages are file holes.
// The state section ends with the root filesystem the snapshot refers to
// (RootfsRef): a VM whose archive was mapped from a named file (the host
// cache's) has its pages left out (holes) but those the guest wrote; the
// snapshot records the file's path and identity, and restore maps the file
// again at its place. A missing or changed file is an error on open.
// Restore maps the memory section MAP_PRIVATE: every instance of a snapshot
// shares its unmodified pages and pays only for the pages it writes.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "vmm/guest_memory.h"
#include "vmm/guest_msrs.h"
#include "vmm/kvm.h"

namespace ember::snapshot {

constexpr char kMagic[8] = {'E', 'M', 'B', 'R', 'S', 'N', 'A', 'P'};
// 2: debug registers; MSRs limited to the allowlist of guest_msrs.h.
// 3: the root filesystem reference (RootfsRef) after the page bitmap.
constexpr uint32_t kFormatVersion = 3;
constexpr uint32_t kMaxRootfsPath = 4096;
constexpr uint32_t kArchX86_64 = 1;
constexpr uint64_t kHeaderSize = 4096;
constexpr uint64_t kMaxStateSize = 16ull << 20;

// The CPU features a snapshot relies on; a host must have all of them.
struct CpuFeatures {
    uint64_t xcr0 = 0;
    uint32_t cpuid1_ecx = 0, cpuid1_edx = 0;
    uint32_t cpuid7_ebx = 0, cpuid7_ecx = 0, cpuid7_edx = 0;
    static CpuFeatures of_this_host();
    // Empty when `host` has every feature of *this; else names what is missing.
    std::string missing_on(const CpuFeatures& host) const;
};

struct VcpuState {
    kvm_regs regs{};
    kvm_sregs sregs{};
    KvmXsave xsave{};
    uint64_t xcr0 = 0;
    kvm_debugregs debugregs{};  // DR0-DR3, DR6, DR7 (flags unused)
    // The guest-writable MSRs this host keeps (guest_msrs.h), without the
    // TSC; each index once.
    std::vector<std::pair<uint32_t, uint64_t>> msrs;
    uint64_t tsc = 0;  // guest TSC when saved
};

// What the VMM keeps about an instance besides guest memory.
struct VmmState {
    uint32_t host_kind = 0;
    uint32_t stdin_eof = 0;
    int64_t guest_mono_ns = 0;               // guest monotonic clock when saved
    uint32_t ready_call = 0;                 // the hypercall the guest was in (WAIT or READY)
    uint64_t ready_arg = 0;                  // its argument GPA
    std::map<uint32_t, uint16_t> listeners;  // guest listener id -> guest port
};

// The root filesystem archive a snapshot maps instead of holding it: its
// place in guest memory and its file, by path and identity (device, inode,
// size, modification time: the cache never rewrites an archive in place).
// size 0: none (the archive's pages, if any, are in the snapshot).
struct RootfsRef {
    uint64_t gpa = 0, size = 0;
    std::string path;
    uint64_t dev = 0, ino = 0, mtime_ns = 0;
};
// The reference to the archive open as fd (named path) placed at gpa.
Result<RootfsRef> rootfs_ref_of(int fd, const std::string& path, uint64_t gpa);

struct Header {
    uint32_t format_version = kFormatVersion;
    uint32_t abi_version = 0;
    uint32_t arch = kArchX86_64;
    CpuFeatures features;
    uint64_t tsc_khz = 0;
    uint64_t mem_size = 0;
    uint64_t state_offset = 0, state_size = 0;
    uint64_t mem_offset = 0, mem_pages = 0;
    uint32_t state_crc = 0, mem_crc = 0;
};

// Writes a snapshot of `mem` and the given state to `path` (atomically:
// a temporary file renamed into place).
// With rootfs.size, the archive's unwritten pages are left out.
Status write(const std::string& path, const GuestMemory& mem, const VcpuState& vcpu,
             const VmmState& vmm, uint64_t tsc_khz, const RootfsRef& rootfs = {});
// The same into an open file (read-write; its old contents are discarded),
// for a process that may not create files: the caller renames it into place.
Status write_fd(int fd, const GuestMemory& mem, const VcpuState& vcpu, const VmmState& vmm,
                uint64_t tsc_khz, const RootfsRef& rootfs = {});

// The instance part of a state section (vCPU and VMM state), encoded field
// by field; shared by snapshots and suspended snapshots (suspended.h).
// Appends to *out.
Status encode_instance_state(const VcpuState& vcpu, const VmmState& vmm, std::vector<uint8_t>* out);
// Decodes it from the start of [p, p + n), checking every field (MSR
// allowlist, resume point, counts); *used gets the bytes it took. Errors are
// corruption statuses naming the defect.
Status decode_instance_state(const uint8_t* p, size_t n, size_t* used, VcpuState* vcpu,
                             VmmState* vmm);

// The guest pages an instance touched (page indices), learnt from the first
// instance restored from a snapshot. Later restores populate them on the
// host before the guest runs, so the guest's first touches are cheap.
// That instance may be hostile, so the set is bounded: only pages present in
// the snapshot, at most kMaxWorkingSetPages of them (written ones first).
// Populating a page costs a later restore 2.5-4 us of CPU on this project's
// hosts, where a page the guest touches unpopulated costs it a 30-80 us
// fault (docs/benchmarks.md): a cap well above real working sets (a kvstore
// request: 340-430 pages) costs a service that needs them nothing, and
// 4096 pages (16 MiB) bound what a hostile first instance adds to every
// later restore to 10-16 ms of CPU, where without it a guest that dirtied all
// its memory added 10-16 ms per 16 MiB of guest (tests/vm/working_set_test.cpp).
constexpr uint64_t kMaxWorkingSetPages = 4096;
struct WorkingSet {
    std::vector<uint64_t> read;     // mapped from the snapshot, not written
    std::vector<uint64_t> written;  // copied on write
};

// An opened, validated snapshot. Thread-safe to restore from concurrently.
class Snapshot {
  public:
    ~Snapshot();
    // Reads and checks the header (magic, version, architecture, CPU
    // features, checksums, section bounds) with size caps. Every defect is an
    // error naming it.
    static Result<std::shared_ptr<const Snapshot>> open(const std::string& path);
    // The same for an open file; takes fd (closed by the Snapshot, also on
    // error). name is for messages.
    static Result<std::shared_ptr<const Snapshot>> open_fd(int fd, const std::string& name);

    const Header& header() const { return header_; }
    const VcpuState& vcpu() const { return vcpu_; }
    const VmmState& vmm() const { return vmm_; }
    // A private copy-on-write mapping of the guest memory section, with the
    // root filesystem it refers to mapped at its place.
    Result<GuestMemory> map_memory() const;
    const RootfsRef& rootfs() const { return rootfs_; }
    uint64_t pages_present() const { return header_.mem_pages; }
    // Bytes of guest RAM (the guest's --mem), without the root filesystem's
    // slot that the memory section also holds.
    uint64_t ram_size() const { return ram_size_; }

    // A read-only view of the snapshot's guest memory (mapped once; valid as
    // long as this object), or nullptr if it cannot be mapped.
    const uint8_t* pristine() const;

    // True when guest page `page` has contents in the snapshot (not a hole).
    bool page_present(uint64_t page) const {
        return page / 64 < present_.size() && (present_[page / 64] >> (page % 64) & 1);
    }

    // The first recorded working set is kept; later calls do nothing. It only
    // says which snapshot pages a new instance gets populated ahead: page
    // contents always come from the snapshot. Pages absent from the snapshot
    // are dropped and the rest capped at kMaxWorkingSetPages (WorkingSet).
    void record_working_set(WorkingSet ws) const;
    std::shared_ptr<const WorkingSet> working_set() const;

  private:
    Snapshot() = default;
    // Maps the referenced archive over [rootfs_.gpa, +size) of a mapping
    // of the memory section at base, then the snapshot's own pages of that
    // range (written by the guest) over it again.
    bool overlay_rootfs(uint8_t* base, bool shared) const;
    mutable std::mutex ws_mu_;
    mutable std::shared_ptr<const WorkingSet> working_set_;
    mutable const uint8_t* pristine_ = nullptr;
    int fd_ = -1;
    std::vector<uint64_t> present_;  // bitmap of the pages present
    uint64_t ram_size_ = 0;
    RootfsRef rootfs_;
    int rootfs_fd_ = -1;
    Header header_;
    VcpuState vcpu_;
    VmmState vmm_;
};

// CRC-32C (Castagnoli).
uint32_t crc32c(uint32_t crc, const void* data, size_t len);

}  // namespace ember::snapshot
