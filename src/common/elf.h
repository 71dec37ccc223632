// elf.h - a validating parser for static x86-64 ELF executables.
//
// Shared by the VMM (which loads the application and the guest kernel) and the
// guest kernel, so it is freestanding: <stdint.h>/<stddef.h> only, no
// allocation, no exceptions. The input is untrusted. Fields are read byte by
// byte (little-endian, never through a cast unaligned pointer) and every sum
// is overflow-checked before it is compared, so a malformed file yields an
// Error and never a read outside [data, data + size).
//
// What a successful parse guarantees to the loader:
//   - 1..kMaxLoad PT_LOAD segments with memsz > 0, sorted by vaddr, pairwise
//     disjoint as byte ranges, each with filesz <= memsz, its file bytes
//     inside the file, offset == vaddr (mod 4 KiB), vaddr + memsz <= kUserTop;
//   - the entry point inside an executable PT_LOAD;
//   - a PT_TLS initialisation image (if any) inside one PT_LOAD;
//   - no PT_INTERP, unless the caller allows one: then its path lies inside
//     the file, starts with '/', ends with its only NUL and is < 4 KiB.
// For a static-PIE (ET_DYN) every address is unbiased: the loader adds its
// load bias and must check that the biased range still fits.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "abi/ember_abi.h"

namespace ember::elf {

enum class Error : uint32_t {
    kOk,
    kTooSmall,
    kBadMagic,
    kNot64Bit,
    kNotLittleEndian,
    kBadVersion,
    kNotX86_64,
    kBadType,
    kBadHeaderSize,
    kBadPhdrTable,
    kTooManySegments,
    kBadSegment,
    kSegmentsOverlap,
    kDynamic,
    kNoLoadableSegment,
    kBadEntry,
    kTooLarge,
    kBadInterp,
};

inline const char* error_string(Error e) {
    switch (e) {
        case Error::kOk:
            return "ok";
        case Error::kTooSmall:
            return "file too small for an ELF header";
        case Error::kBadMagic:
            return "not an ELF file (bad magic)";
        case Error::kNot64Bit:
            return "not a 64-bit ELF file";
        case Error::kNotLittleEndian:
            return "not a little-endian ELF file";
        case Error::kBadVersion:
            return "unknown ELF version";
        case Error::kNotX86_64:
            return "not an x86-64 executable";
        case Error::kBadType:
            return "not an executable (ELF type is neither EXEC nor DYN)";
        case Error::kBadHeaderSize:
            return "bad ELF header size";
        case Error::kBadPhdrTable:
            return "program header table outside the file or malformed";
        case Error::kTooManySegments:
            return "too many PT_LOAD segments";
        case Error::kBadSegment:
            return "malformed segment (sizes, file range, address or alignment)";
        case Error::kSegmentsOverlap:
            return "PT_LOAD segments overlap";
        case Error::kDynamic:
            return "dynamically linked executable (has PT_INTERP) and no interpreter to load it "
                   "with";
        case Error::kNoLoadableSegment:
            return "no loadable segment";
        case Error::kBadEntry:
            return "entry point outside every executable segment";
        case Error::kTooLarge:
            return "segment extends beyond the user address space";
        case Error::kBadInterp:
            return "malformed PT_INTERP (the interpreter path)";
    }
    return "unknown ELF error";
}

constexpr uint32_t kMaxLoad = 16;
constexpr uint64_t kPageSize = EMBER_PAGE_SIZE;
// End of the lower canonical half with 4-level paging: the highest user
// address + 1 on x86-64. No segment may reach beyond it.
constexpr uint64_t kUserTop = 1ull << 47;

constexpr uint16_t kTypeExec = 2;
constexpr uint16_t kTypeDyn = 3;
constexpr uint32_t kFlagX = 1;
constexpr uint32_t kFlagW = 2;
constexpr uint32_t kFlagR = 4;

struct Segment {
    uint64_t vaddr, memsz, offset, filesz;
    uint32_t flags;  // kFlagR / kFlagW / kFlagX
};

struct Image {
    uint16_t type;  // kTypeExec, or kTypeDyn for a static-PIE
    bool pie;
    uint64_t entry;
    uint64_t phoff;
    uint16_t phnum, phentsize;
    // Where the program header table is in memory (AT_PHDR before biasing):
    // PT_PHDR's vaddr, else the address the file range [phoff, phoff +
    // phnum * phentsize) gets inside the PT_LOAD that holds it, else 0.
    uint64_t phdr_vaddr;
    Segment load[kMaxLoad];
    uint32_t nload;
    uint64_t lo, hi;  // page-aligned span of all PT_LOAD segments
    uint64_t tls_vaddr, tls_memsz, tls_filesz, tls_align;
    bool exec_stack;  // PT_GNU_STACK has PF_X
    // PT_INTERP (only when parse() allows it): the interpreter's path is the
    // interp_len bytes at file offset interp_off; interp_len == 0: static.
    uint64_t interp_off, interp_len;
};

namespace detail {

constexpr uint64_t kEhdrSize = 64;
constexpr uint64_t kPhdrSize = 56;
constexpr uint16_t kMachineX86_64 = 62;
constexpr uint16_t kPnXnum = 0xffff;  // "count is in section 0": not supported
constexpr uint32_t kPtLoad = 1;
constexpr uint32_t kPtInterp = 3;
constexpr uint32_t kPtPhdr = 6;
constexpr uint32_t kPtTls = 7;
constexpr uint32_t kPtGnuStack = 0x6474e551;

inline uint64_t rd(const uint8_t* p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;) v = (v << 8) | p[i];
    return v;
}
inline uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(rd(p, 2)); }
inline uint32_t rd32(const uint8_t* p) { return static_cast<uint32_t>(rd(p, 4)); }
inline uint64_t rd64(const uint8_t* p) { return rd(p, 8); }

struct Phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, filesz, memsz, align;
};

inline Phdr read_phdr(const uint8_t* p) {
    return Phdr{rd32(p),      rd32(p + 4),  rd64(p + 8), rd64(p + 16),
                rd64(p + 32), rd64(p + 40), rd64(p + 48)};
}

// Checks what PT_LOAD and PT_TLS have in common: the file bytes are inside
// the file, the memory range does not wrap, the alignment is 0 or a power of 2.
inline bool range_ok(const Phdr& ph, uint64_t file_size) {
    uint64_t file_end, mem_end;
    if (ph.filesz > ph.memsz) return false;
    if (__builtin_add_overflow(ph.offset, ph.filesz, &file_end) || file_end > file_size)
        return false;
    if (__builtin_add_overflow(ph.vaddr, ph.memsz, &mem_end)) return false;
    return (ph.align & (ph.align - 1)) == 0;
}

inline bool contains(const Segment& s, uint64_t addr, uint64_t len) {
    return addr >= s.vaddr && len <= s.memsz && addr - s.vaddr <= s.memsz - len;
}

}  // namespace detail

// Parses and validates the executable in [data, data + size). On kOk, *out
// describes it; on any other result *out holds partial data and must not be
// used. The caller keeps data alive only for the call: Image holds no pointers.
inline Error parse(const uint8_t* data, uint64_t size, Image* out, bool allow_interp = false) {
    using namespace detail;
    *out = Image{};
    if (size >= 4 && !(data[0] == 0x7f && data[1] == 'E' && data[2] == 'L' && data[3] == 'F'))
        return Error::kBadMagic;
    if (size < kEhdrSize) return Error::kTooSmall;
    if (data[4] != 2) return Error::kNot64Bit;
    if (data[5] != 1) return Error::kNotLittleEndian;
    if (data[6] != 1 || rd32(data + 20) != 1) return Error::kBadVersion;
    if (rd16(data + 18) != kMachineX86_64) return Error::kNotX86_64;
    out->type = rd16(data + 16);
    if (out->type != kTypeExec && out->type != kTypeDyn) return Error::kBadType;
    if (rd16(data + 52) != kEhdrSize) return Error::kBadHeaderSize;
    out->pie = out->type == kTypeDyn;
    out->entry = rd64(data + 24);
    out->phoff = rd64(data + 32);
    out->phentsize = rd16(data + 54);
    out->phnum = rd16(data + 56);

    // Linux also refuses any other entry size. The table size fits in 22 bits.
    if (out->phentsize != kPhdrSize || out->phnum == kPnXnum) return Error::kBadPhdrTable;
    const uint64_t table_size = uint64_t{out->phnum} * kPhdrSize;
    uint64_t table_end;
    if (__builtin_add_overflow(out->phoff, table_size, &table_end) || table_end > size)
        return Error::kBadPhdrTable;
    const uint8_t* table = data + out->phoff;

    // Report a dynamic executable as such whatever else is wrong with it:
    // that is by far the most common reason a real program is refused.
    for (uint32_t i = 0; i < out->phnum; ++i) {
        if (rd32(table + i * kPhdrSize) != kPtInterp) continue;
        if (!allow_interp) return Error::kDynamic;
        const Phdr ph = read_phdr(table + i * kPhdrSize);
        uint64_t end;
        if (out->interp_len != 0 || ph.filesz < 2 || ph.filesz > 4096 ||
            __builtin_add_overflow(ph.offset, ph.filesz, &end) || end > size ||
            data[ph.offset] != '/' || data[end - 1] != 0)
            return Error::kBadInterp;
        for (uint64_t j = ph.offset; j < end - 1; ++j)
            if (data[j] == 0) return Error::kBadInterp;
        out->interp_off = ph.offset;
        out->interp_len = ph.filesz - 1;
    }

    bool have_phdr = false, have_tls = false;
    for (uint32_t i = 0; i < out->phnum; ++i) {
        const Phdr ph = read_phdr(table + i * kPhdrSize);
        if (ph.type == kPtLoad) {
            if (ph.memsz == 0) continue;
            if (!range_ok(ph, size) || ((ph.offset ^ ph.vaddr) & (kPageSize - 1)) != 0)
                return Error::kBadSegment;
            if (ph.vaddr + ph.memsz > kUserTop) return Error::kTooLarge;
            if (out->nload == kMaxLoad) return Error::kTooManySegments;
            // Insertion sort by vaddr: at most kMaxLoad elements.
            uint32_t j = out->nload++;
            for (; j > 0 && out->load[j - 1].vaddr > ph.vaddr; --j) out->load[j] = out->load[j - 1];
            out->load[j] = Segment{ph.vaddr, ph.memsz, ph.offset, ph.filesz, ph.flags};
        } else if (ph.type == kPtTls) {
            if (have_tls || !range_ok(ph, size)) return Error::kBadSegment;
            have_tls = true;
            out->tls_vaddr = ph.vaddr;
            out->tls_memsz = ph.memsz;
            out->tls_filesz = ph.filesz;
            out->tls_align = ph.align;
        } else if (ph.type == kPtPhdr) {
            have_phdr = true;
            out->phdr_vaddr = ph.vaddr;
        } else if (ph.type == kPtGnuStack) {
            out->exec_stack = (ph.flags & kFlagX) != 0;
        }
    }
    if (out->nload == 0) return Error::kNoLoadableSegment;

    // Sorted by vaddr, so checking neighbours finds every overlap.
    for (uint32_t i = 1; i < out->nload; ++i) {
        const Segment& prev = out->load[i - 1];
        if (prev.vaddr + prev.memsz > out->load[i].vaddr) return Error::kSegmentsOverlap;
    }

    bool entry_ok = false, tls_ok = !have_tls || out->tls_filesz == 0;
    for (uint32_t i = 0; i < out->nload; ++i) {
        const Segment& s = out->load[i];
        if ((s.flags & kFlagX) && contains(s, out->entry, 1)) entry_ok = true;
        if (have_tls && contains(s, out->tls_vaddr, out->tls_filesz)) tls_ok = true;
        if (!have_phdr && out->phoff >= s.offset && table_end - s.offset <= s.filesz) {
            have_phdr = true;
            out->phdr_vaddr = s.vaddr + (out->phoff - s.offset);
        }
    }
    if (!entry_ok) return Error::kBadEntry;
    if (!tls_ok) return Error::kBadSegment;

    // Every end is <= kUserTop, so rounding up cannot overflow.
    const Segment& last = out->load[out->nload - 1];
    out->lo = out->load[0].vaddr & ~(kPageSize - 1);
    out->hi = (last.vaddr + last.memsz + kPageSize - 1) & ~(kPageSize - 1);
    return Error::kOk;
}

}  // namespace ember::elf
