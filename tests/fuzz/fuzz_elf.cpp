// libFuzzer entry point for the ELF parser (src/common/elf.h). Built only with
// clang and -DEMBER_FUZZ=ON; see tests/CMakeLists.txt. Besides crashes and
// sanitizer reports, it traps when an accepted image breaks a guarantee that
// elf.h documents, because the loaders rely on those without rechecking.
#include <stddef.h>
#include <stdint.h>

#include "common/elf.h"

using namespace ember::elf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Image img;
    if (parse(data, size, &img) != Error::kOk) return 0;
    if (img.nload == 0 || img.nload > kMaxLoad) __builtin_trap();
    bool entry_ok = false;
    for (uint32_t i = 0; i < img.nload; ++i) {
        const Segment& s = img.load[i];
        if (s.memsz == 0 || s.filesz > s.memsz) __builtin_trap();
        if (s.offset > size || s.filesz > size - s.offset) __builtin_trap();
        if (s.vaddr > kUserTop || s.memsz > kUserTop - s.vaddr) __builtin_trap();
        if ((s.offset - s.vaddr) % kPageSize != 0) __builtin_trap();
        if (i > 0 && img.load[i - 1].vaddr + img.load[i - 1].memsz > s.vaddr) __builtin_trap();
        if (s.vaddr < img.lo || s.vaddr + s.memsz > img.hi) __builtin_trap();
        if ((s.flags & kFlagX) && img.entry >= s.vaddr && img.entry - s.vaddr < s.memsz)
            entry_ok = true;
    }
    if (!entry_ok || img.lo % kPageSize != 0 || img.hi % kPageSize != 0) __builtin_trap();
    return 0;
}
