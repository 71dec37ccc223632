// elf_deps.cpp - see elf_deps.h. The dynamic section is found through
// PT_DYNAMIC and its string table through DT_STRTAB, an address that is
// translated to a file offset through the PT_LOAD segments.
#include "vmm/elf_deps.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <set>

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

namespace {

// Shared libraries a program may bring in at most, and their total size: a
// bound on what one command line can make the host read.
constexpr size_t kMaxLibraries = 256;
constexpr uint64_t kMaxLibraryBytes = 1ull << 30;

bool read_host_file(const std::string& path, std::vector<uint8_t>* out) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return false;
    out->assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    return !f.bad();
}

}  // namespace

Result<std::vector<HostDependency>> host_dependencies(std::span<const uint8_t> program) {
    auto interp = elf_interpreter(program);
    if (!interp) return Status(interp.code(), "the program: " + interp.message());
    std::vector<HostDependency> out;
    if (interp->empty()) return out;
    HostDependency in{*interp, {}};
    if (!read_host_file(*interp, &in.data))
        return Status::not_found("the program's interpreter " + *interp + " is not on this host");
    out.push_back(std::move(in));
    std::set<std::string> seen;
    uint64_t total = 0;
    // out[0] is the interpreter: the queue is the program, then out[1..].
    for (size_t q = 0; q < out.size(); ++q) {
        auto dyn = elf_dynamic(q == 0 ? program : std::span<const uint8_t>(out[q].data));
        if (!dyn) return Status(dyn.code(), "reading shared library names: " + dyn.message());
        for (const std::string& name : dyn->needed) {
            if (!seen.insert(name).second) continue;
            if (seen.size() > kMaxLibraries)
                return Status::resource_exhausted("the program needs more than " +
                                                  std::to_string(kMaxLibraries) + " libraries");
            std::vector<std::string> dirs;
            for (const auto& d : dyn->runpath)
                if (!d.empty() && d[0] == '/') dirs.push_back(d);
            dirs.insert(dirs.end(), default_library_dirs().begin(), default_library_dirs().end());
            HostDependency lib;
            for (const auto& d : dirs)
                if (read_host_file(d + "/" + name, &lib.data)) {
                    lib.path = d + "/" + name;
                    break;
                }
            if (lib.path.empty())
                return Status::not_found("shared library " + name + " not found on this host");
            total += lib.data.size();
            if (total > kMaxLibraryBytes)
                return Status::resource_exhausted("the program's libraries exceed 1 GiB");
            out.push_back(std::move(lib));
        }
    }
    return out;
}

}  // namespace ember
