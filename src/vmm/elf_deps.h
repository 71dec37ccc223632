// elf_deps.h - what a dynamically linked program needs besides itself: its
// interpreter (PT_INTERP) and the shared libraries it names (DT_NEEDED, and
// their search path DT_RUNPATH / DT_RPATH), read from the ELF files on the
// host. The files are untrusted: every offset is bounds-checked and a
// malformed file is an error, never a read outside it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace ember {

// The interpreter path of an executable; "" for a static one.
Result<std::string> elf_interpreter(std::span<const uint8_t> file);

struct ElfDynamic {
    std::vector<std::string> needed;   // DT_NEEDED, in order
    std::vector<std::string> runpath;  // DT_RUNPATH, else DT_RPATH, split at ':'
};
// The dynamic section of an executable or shared library (empty for a
// static file).
Result<ElfDynamic> elf_dynamic(std::span<const uint8_t> file);

// Where the host's glibc finds libraries when there is no ld.so.cache entry:
// Debian's multiarch directories first.
const std::vector<std::string>& default_library_dirs();

// A file a dynamically linked program needs, read from this host: its path
// (the same in the guest) and its bytes.
struct HostDependency {
    std::string path;
    std::vector<uint8_t> data;
};
// The program's interpreter, then every shared library it needs
// (transitively, breadth-first over DT_NEEDED, each once), found where
// glibc's loader looks when there is no ld.so.cache: the object's
// DT_RUNPATH, then the default directories. Empty for a static program.
// Bounded: at most 256 libraries and 1 GiB. Errors name what is missing.
Result<std::vector<HostDependency>> host_dependencies(std::span<const uint8_t> program);

}  // namespace ember
