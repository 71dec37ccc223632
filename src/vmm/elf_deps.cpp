// elf_deps.cpp - see elf_deps.h. The dynamic section is found through
// PT_DYNAMIC and its string table through DT_STRTAB, an address that is
// translated to a file offset through the PT_LOAD segments.
#include "vmm/elf_deps.h"

#include <cstring>

#include "common/elf.h"

namespace ember {

namespace {

constexpr uint32_t kPtLoad = 1, kPtDynamic = 2;
constexpr uint64_t kDtNull = 0, kDtNeeded = 1, kDtStrtab = 5, kDtStrsz = 10, kDtRpath = 15,
                   kDtRunpath = 29;
constexpr size_t kMaxEntries = 4096;  // dynamic entries read at most

struct Phdr {
    uint32_t type;
    uint64_t offset, vaddr, filesz;
};

uint64_t rd(const uint8_t* p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;) v = (v << 8) | p[i];
    return v;
}

bool in_file(std::span<const uint8_t> f, uint64_t off, uint64_t len) {
    return off <= f.size() && len <= f.size() - off;
}

Result<std::vector<Phdr>> phdrs(std::span<const uint8_t> f) {
    if (f.size() < 64 ||
        std::memcmp(f.data(),
                    "\x7f"
                    "ELF",
                    4) != 0 ||
        f[4] != 2 || f[5] != 1)
        return Status::corruption("not a 64-bit little-endian ELF file");
    const uint64_t phoff = rd(f.data() + 32, 8), phentsize = rd(f.data() + 54, 2),
                   phnum = rd(f.data() + 56, 2);
    if (phentsize != 56 || !in_file(f, phoff, phnum * 56))
        return Status::corruption("program header table outside the file");
    std::vector<Phdr> out;
    for (uint64_t i = 0; i < phnum; ++i) {
        const uint8_t* p = f.data() + phoff + i * 56;
        out.push_back(
            {static_cast<uint32_t>(rd(p, 4)), rd(p + 8, 8), rd(p + 16, 8), rd(p + 32, 8)});
    }
    return out;
}

// The file offset of address v, inside a PT_LOAD's file bytes.
bool to_offset(const std::vector<Phdr>& ph, uint64_t v, uint64_t* off) {
    for (const Phdr& p : ph)
        if (p.type == kPtLoad && v >= p.vaddr && v - p.vaddr < p.filesz) {
            *off = p.offset + (v - p.vaddr);
            return true;
        }
    return false;
}

}  // namespace

Result<std::string> elf_interpreter(std::span<const uint8_t> file) {
    elf::Image img;
    const elf::Error e = elf::parse(file.data(), file.size(), &img, /*allow_interp=*/true);
    if (e != elf::Error::kOk) return Status::corruption(elf::error_string(e));
    return std::string(reinterpret_cast<const char*>(file.data()) + img.interp_off, img.interp_len);
}

Result<ElfDynamic> elf_dynamic(std::span<const uint8_t> f) {
    auto ph = phdrs(f);
    if (!ph) return ph.status();
    ElfDynamic out;
    const Phdr* dyn = nullptr;
    for (const Phdr& p : *ph)
        if (p.type == kPtDynamic) dyn = &p;
    if (!dyn) return out;
    if (!in_file(f, dyn->offset, dyn->filesz))
        return Status::corruption("dynamic section outside the file");
    const size_t n = std::min<uint64_t>(dyn->filesz / 16, kMaxEntries);
    uint64_t strtab = 0, strsz = 0;
    std::vector<uint64_t> needed;
    uint64_t runpath = UINT64_MAX, rpath = UINT64_MAX;
    for (size_t i = 0; i < n; ++i) {
        const uint8_t* e = f.data() + dyn->offset + i * 16;
        const uint64_t tag = rd(e, 8), val = rd(e + 8, 8);
        if (tag == kDtNull) break;
        if (tag == kDtNeeded) needed.push_back(val);
        if (tag == kDtStrtab) strtab = val;
        if (tag == kDtStrsz) strsz = val;
        if (tag == kDtRunpath) runpath = val;
        if (tag == kDtRpath) rpath = val;
    }
    if (needed.empty() && runpath == UINT64_MAX && rpath == UINT64_MAX) return out;
    uint64_t str_off;
    if (!to_offset(*ph, strtab, &str_off) || !in_file(f, str_off, strsz))
        return Status::corruption("string table outside the file");
    auto str = [&](uint64_t i) -> Result<std::string> {
        if (i >= strsz) return Status::corruption("string outside the string table");
        const char* s = reinterpret_cast<const char*>(f.data() + str_off + i);
        const size_t len = strnlen(s, strsz - i);
        if (len == strsz - i) return Status::corruption("unterminated string");
        return std::string(s, len);
    };
    for (uint64_t i : needed) {
        auto s = str(i);
        if (!s) return s.status();
        if (s->empty() || s->find('/') != std::string::npos)
            return Status::corruption("unusable DT_NEEDED name '" + *s + "'");
        out.needed.push_back(*s);
    }
    const uint64_t path = runpath != UINT64_MAX ? runpath : rpath;
    if (path != UINT64_MAX) {
        auto s = str(path);
        if (!s) return s.status();
        size_t i = 0;
        while (i <= s->size()) {
            const size_t j = std::min(s->find(':', i), s->size());
            if (j > i) out.runpath.push_back(s->substr(i, j - i));
            i = j + 1;
        }
    }
    return out;
}

const std::vector<std::string>& default_library_dirs() {
    static const std::vector<std::string> dirs = {"/lib/x86_64-linux-gnu",
                                                  "/usr/lib/x86_64-linux-gnu",
                                                  "/lib64",
                                                  "/usr/lib64",
                                                  "/lib",
                                                  "/usr/lib"};
    return dirs;
}

}  // namespace ember
