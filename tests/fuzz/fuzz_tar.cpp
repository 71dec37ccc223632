// libFuzzer entry point for tar layers (src/vmm/image.cpp: libarchive's
// reader under Ember's whiteout, hard-link and path rules). Whatever layer
// apply_tar_layer accepts must leave a Writer whose archive Reader reads to
// the end.
#include <stddef.h>
#include <stdint.h>

#include <span>

#include "common/cpio.h"
#include "vmm/cpio_writer.h"
#include "vmm/image.h"

using namespace ember;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    cpio::Writer w;
    if (!w.add_file("lower/file", std::span<const uint8_t>(data, size < 16 ? size : 16)))
        __builtin_trap();
    ImageLimits limits;
    limits.max_bytes = 1 << 20;
    limits.max_entries = 1000;
    LayerBudget budget;
    (void)looks_like_tar(std::span<const uint8_t>(data, size));
    if (!apply_tar_layer(w, std::span<const uint8_t>(data, size), limits, &budget)) return 0;
    const std::vector<uint8_t> archive = w.finish();
    cpio::Reader r(archive.data(), archive.size());
    cpio::Entry e;
    cpio::Error err;
    while ((err = r.next(&e)) == cpio::Error::kOk) {
    }
    if (err != cpio::Error::kEnd) __builtin_trap();
    return 0;
}
