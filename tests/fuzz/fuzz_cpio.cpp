// libFuzzer entry point for the cpio reader (src/common/cpio.h) and the
// archive re-writer (src/vmm/cpio_writer.cpp). Built only with clang and
// -DEMBER_FUZZ=ON; see tests/CMakeLists.txt. Every archive that add_archive
// accepts must come out of Writer as an archive that Reader reads to the end
// with only normalised names.
#include <stddef.h>
#include <stdint.h>

#include <span>
#include <string_view>
#include <vector>

#include "common/cpio.h"
#include "vmm/cpio_writer.h"

using namespace ember::cpio;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Reader reader(data, size);
    Entry e;
    char name[kMaxName];
    while (reader.next(&e) == Error::kOk) {
        const uint64_t data_off = static_cast<uint64_t>(e.data - data);
        if (e.name[e.name_len] != '\0' || data_off > size || e.size > size - data_off)
            __builtin_trap();
        (void)normalize_name(e.name, e.name_len, name, sizeof name);
    }

    Writer w;
    if (!add_archive(w, std::span<const uint8_t>(data, size)).empty()) return 0;
    const std::vector<uint8_t> out = w.finish();
    Reader again(out.data(), out.size());
    Error err;
    while ((err = again.next(&e)) == Error::kOk) {
        if (!normalize_name(e.name, e.name_len, name, sizeof name) ||
            std::string_view(name) != std::string_view(e.name, e.name_len))
            __builtin_trap();
    }
    if (err != Error::kEnd) __builtin_trap();
    return 0;
}
