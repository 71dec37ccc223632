#include "vmm/suspended.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "abi/ember_abi.h"
#include "common/fd_io.h"

namespace ember::snapshot {
namespace {

constexpr uint64_t kPage = EMBER_PAGE_SIZE;

void put32(std::vector<uint8_t>* b, uint32_t v) {
    for (int i = 0; i < 4; ++i) b->push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put64(std::vector<uint8_t>* b, uint64_t v) {
    for (int i = 0; i < 8; ++i) b->push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint32_t get32(const uint8_t* p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t{p[i]} << (8 * i);
    return v;
}
uint64_t get64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{p[i]} << (8 * i);
    return v;
}

// The header's fields after the magic, in file order.
struct SuspHeader {
    uint32_t version = kSuspendedVersion, abi_version = EMBER_ABI_VERSION;
    BaseId base;
    uint64_t state_offset = 0, state_size = 0;
    uint64_t list_offset = 0, npages = 0;
    uint64_t data_offset = 0;
    uint32_t state_crc = 0, list_crc = 0, data_crc = 0;
};
constexpr size_t kHeaderFields = 8 + 4 * 2 + 8 * 2 + 4 * 2 + 8 * 5 + 4 * 3;  // bytes, + header CRC

std::vector<uint8_t> encode(const SuspHeader& h) {
    std::vector<uint8_t> b(kSuspendedMagic, kSuspendedMagic + sizeof kSuspendedMagic);
    put32(&b, h.version);
    put32(&b, h.abi_version);
    put64(&b, h.base.mem_size);
    put64(&b, h.base.mem_pages);
    put32(&b, h.base.state_crc);
    put32(&b, h.base.mem_crc);
    for (uint64_t v : {h.state_offset, h.state_size, h.list_offset, h.npages, h.data_offset})
        put64(&b, v);
    for (uint32_t v : {h.state_crc, h.list_crc, h.data_crc}) put32(&b, v);
    put32(&b, crc32c(0, b.data(), b.size()));
    return b;
}

SuspHeader decode(const uint8_t* p) {
    SuspHeader h;
    p += sizeof kSuspendedMagic;
    h.version = get32(p);
    h.abi_version = get32(p + 4);
    h.base.mem_size = get64(p + 8);
    h.base.mem_pages = get64(p + 16);
    h.base.state_crc = get32(p + 24);
    h.base.mem_crc = get32(p + 28);
    p += 32;
    for (uint64_t* f :
         {&h.state_offset, &h.state_size, &h.list_offset, &h.npages, &h.data_offset}) {
        *f = get64(p);
        p += 8;
    }
    h.state_crc = get32(p);
    h.list_crc = get32(p + 4);
    h.data_crc = get32(p + 8);
    return h;
}

// Fuzzing builds take any checksum (as snapshot.cpp).
bool checksum_ok(uint32_t stored, uint32_t computed) {
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    (void)stored;
    (void)computed;
    return true;
#else
    return stored == computed;
#endif
}

}  // namespace

Status write_suspended(int fd, const BaseId& base, const uint8_t* mem, uint64_t mem_size,
                       const std::vector<uint64_t>& pages, const VcpuState& vcpu,
                       const VmmState& vmm, uint64_t* bytes) {
    for (size_t i = 0; i < pages.size(); ++i)
        if (pages[i] >= mem_size / kPage || (i > 0 && pages[i] <= pages[i - 1]))
            return Status::internal("suspend: bad page list");
    SuspHeader h;
    h.base = base;
    std::vector<uint8_t> state;
    if (auto st = encode_instance_state(vcpu, vmm, &state); !st) return st;
    std::vector<uint8_t> list;
    list.reserve(pages.size() * 8);
    for (uint64_t p : pages) put64(&list, p);
    h.state_offset = kHeaderSize;
    h.state_size = state.size();
    h.list_offset = h.state_offset + h.state_size;
    h.npages = pages.size();
    h.data_offset = (h.list_offset + list.size() + kPage - 1) & ~(kPage - 1);
    h.state_crc = crc32c(0, state.data(), state.size());
    h.list_crc = crc32c(0, list.data(), list.size());
    uint32_t crc = 0;
    for (uint64_t p : pages) crc = crc32c(crc, mem + p * kPage, kPage);
    h.data_crc = crc;
    std::vector<uint8_t> hb = encode(h);
    hb.resize(kHeaderSize, 0);
    bool ok = ftruncate(fd, 0) == 0 && pwrite_all(fd, hb.data(), hb.size(), 0) &&
              pwrite_all(fd, state.data(), state.size(), h.state_offset) &&
              pwrite_all(fd, list.data(), list.size(), h.list_offset) &&
              ftruncate(fd, static_cast<off_t>(h.data_offset)) == 0;
    // Runs of consecutive pages go out in one write.
    for (size_t i = 0; ok && i < pages.size();) {
        size_t j = i + 1;
        while (j < pages.size() && pages[j] == pages[j - 1] + 1) ++j;
        ok = pwrite_all(fd, mem + pages[i] * kPage, (j - i) * kPage, h.data_offset + i * kPage);
        i = j;
    }
    ok = ok && fdatasync(fd) == 0;
    if (!ok) return Status::from_errno("write suspended snapshot");
    if (bytes) *bytes = h.data_offset + pages.size() * kPage;
    return Status::ok();
}

Suspended::~Suspended() {
    if (data_) munmap(const_cast<uint8_t*>(data_), map_len_);
}

Result<std::unique_ptr<const Suspended>> Suspended::open_fd(int fd, const std::string& name,
                                                            const BaseId& base) {
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    const std::string what = "suspended snapshot " + name + ": ";
    struct stat st;
    if (fstat(fd, &st) != 0) return Status::from_errno(what + "fstat");
    const uint64_t file_size = static_cast<uint64_t>(st.st_size);
    if (file_size < kHeaderSize)
        return Status::corruption(what + "truncated: " + std::to_string(file_size) +
                                  " bytes, shorter than its header");
    std::vector<uint8_t> hb(kHeaderSize);
    if (!pread_all(fd, hb.data(), hb.size(), 0)) return Status::from_errno(what + "read header");
    if (std::memcmp(hb.data(), kSuspendedMagic, sizeof kSuspendedMagic) != 0)
        return Status::corruption(what + "not a suspended snapshot (bad magic)");
    if (!checksum_ok(get32(hb.data() + kHeaderFields), crc32c(0, hb.data(), kHeaderFields)))
        return Status::corruption(what + "header checksum mismatch (corrupt header)");
    const SuspHeader h = decode(hb.data());
    if (h.version != kSuspendedVersion)
        return Status::unsupported(what + "unsupported format version " +
                                   std::to_string(h.version));
    if (h.abi_version != EMBER_ABI_VERSION)
        return Status::unsupported(what + "made with guest ABI version " +
                                   std::to_string(h.abi_version));
    if (!(h.base == base))
        return Status::invalid_argument(what + "made from another snapshot than the service's");
    const uint64_t max_pages = base.mem_size / kPage;
    // Each bound is checked before it is used in the next sum: no overflow.
    if (h.state_offset != kHeaderSize || h.state_size > kMaxStateSize ||
        h.list_offset != h.state_offset + h.state_size || h.npages > max_pages ||
        h.data_offset % kPage || h.data_offset < h.list_offset + h.npages * 8 ||
        h.data_offset > h.list_offset + h.npages * 8 + kPage)
        return Status::corruption(what + "section bounds out of range (corrupt header)");
    if (file_size != h.data_offset + h.npages * kPage)
        return Status::corruption(what + "file is " + std::to_string(file_size) +
                                  " bytes, its header says " +
                                  std::to_string(h.data_offset + h.npages * kPage));

    std::vector<uint8_t> state(h.state_size), list(h.npages * 8);
    if (!pread_all(fd, state.data(), state.size(), h.state_offset) ||
        !pread_all(fd, list.data(), list.size(), h.list_offset))
        return Status::from_errno(what + "read");
    if (!checksum_ok(h.state_crc, crc32c(0, state.data(), state.size())))
        return Status::corruption(what + "state checksum mismatch (corrupt vCPU state)");
    if (!checksum_ok(h.list_crc, crc32c(0, list.data(), list.size())))
        return Status::corruption(what + "page list checksum mismatch (corrupt page list)");
    std::unique_ptr<Suspended> s(new Suspended());
    size_t used = 0;
    if (auto r = decode_instance_state(state.data(), state.size(), &used, &s->vcpu_, &s->vmm_); !r)
        return Status(r.code(), what + r.message());
    if (used != state.size())
        return Status::corruption(what + "trailing bytes in the state section (corrupt state)");
    // An instance is only suspended waiting for connections.
    if (s->vmm_.ready_call != EMBER_HC_WAIT)
        return Status::corruption(what + "resume point is not a wait (corrupt state)");
    s->pages_.resize(h.npages);
    for (uint64_t i = 0; i < h.npages; ++i) {
        const uint64_t p = get64(list.data() + i * 8);
        if (p >= max_pages || (i > 0 && p <= s->pages_[i - 1]))
            return Status::corruption(what + "page list not increasing or out of guest memory");
        s->pages_[i] = p;
    }
    if (h.npages > 0) {
        s->map_len_ = h.npages * kPage;
        void* m = mmap(nullptr, s->map_len_, PROT_READ, MAP_PRIVATE, fd,
                       static_cast<off_t>(h.data_offset));
        if (m == MAP_FAILED) return Status::from_errno(what + "map pages");
        s->data_ = static_cast<const uint8_t*>(m);
        if (!checksum_ok(h.data_crc, crc32c(0, s->data_, s->map_len_)))
            return Status::corruption(what + "page checksum mismatch (corrupt guest memory)");
    }
    return std::unique_ptr<const Suspended>(std::move(s));
}

}  // namespace ember::snapshot
