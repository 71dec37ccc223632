// suspended.h - suspended snapshots: one idle instance of a snapshot (its
// "base"), saved as it was (memory, vCPU, listeners) so that it can resume
// later with its memory intact. Only what differs from the base is kept.
//
// File format (little-endian, encoded field by field, version
// kSuspendedVersion):
//   page 0   header: magic "EMBRSUSP", format version, guest ABI version,
//            the base's identity (BaseId), the offsets and sizes of the
//            sections, CRC32C of each section, CRC32C of the header.
//   state    vCPU and VMM state (snapshot.h encode_instance_state)
//   list     the guest page numbers saved: u64 each, strictly increasing
//   data     at a page-aligned offset: those pages, in the list's order
// The file is written by the VM worker from memory the guest controls and
// kept by emberd (sealed like snapshots, snapshot_seal.h): Suspended::open_fd
// reads it as hostile input, with size caps, and refuses any defect with a
// message naming it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "vmm/snapshot.h"

namespace ember::snapshot {

constexpr char kSuspendedMagic[8] = {'E', 'M', 'B', 'R', 'S', 'U', 'S', 'P'};
constexpr uint32_t kSuspendedVersion = 1;

// Names a base snapshot: a suspended snapshot applies only to the snapshot
// it was made from (its checksums and sizes, which any change alters).
struct BaseId {
    uint64_t mem_size = 0, mem_pages = 0;
    uint32_t state_crc = 0, mem_crc = 0;
    static BaseId of(const Header& h) { return {h.mem_size, h.mem_pages, h.state_crc, h.mem_crc}; }
    bool operator==(const BaseId&) const = default;
};

// Writes a suspended snapshot into fd (read-write; its old contents are
// discarded; synced): `pages` (sorted, each < mem_size / page) of the guest
// memory at `mem`, and the instance state. Bytes written: *bytes.
Status write_suspended(int fd, const BaseId& base, const uint8_t* mem, uint64_t mem_size,
                       const std::vector<uint64_t>& pages, const VcpuState& vcpu,
                       const VmmState& vmm, uint64_t* bytes = nullptr);

class Suspended {
  public:
    ~Suspended();
    Suspended(const Suspended&) = delete;
    Suspended& operator=(const Suspended&) = delete;
    // Reads and checks everything (magic, version, ABI, base identity, section
    // bounds against the file size, checksums, the page list, the state).
    // Takes fd (closed here, also on error); name is for messages.
    static Result<std::unique_ptr<const Suspended>> open_fd(int fd, const std::string& name,
                                                            const BaseId& base);

    const VcpuState& vcpu() const { return vcpu_; }
    const VmmState& vmm() const { return vmm_; }
    const std::vector<uint64_t>& pages() const { return pages_; }
    // The saved contents of pages()[i] (one page).
    const uint8_t* page_data(size_t i) const { return data_ + i * kPageBytes; }

  private:
    static constexpr uint64_t kPageBytes = 4096;
    Suspended() = default;
    VcpuState vcpu_;
    VmmState vmm_;
    std::vector<uint64_t> pages_;
    const uint8_t* data_ = nullptr;  // mapped read-only
    size_t map_len_ = 0;
};

}  // namespace ember::snapshot
