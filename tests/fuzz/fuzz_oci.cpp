// libFuzzer entry point for container images (src/vmm/image.cpp's
// load_image: a docker-save or OCI-layout archive, its index, manifests and
// config as JSON, then its layers). The input is the image file, read
// through /proc/self/fd of a memfd. Built with FUZZING_BUILD_MODE_UNSAFE_
// FOR_PRODUCTION, which makes a blob's sha256 digest always match, so that
// the fuzzer gets past it to the manifests and layers. Whatever image is
// accepted must leave a Writer whose archive reads to its end, and a config
// whose ports are real port numbers.
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "common/cpio.h"
#include "vmm/cpio_writer.h"
#include "vmm/image.h"

using namespace ember;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const int fd = memfd_create("fuzz_oci", MFD_CLOEXEC);
    if (fd < 0) __builtin_trap();
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size))
        __builtin_trap();
    ImageLimits limits;
    limits.max_bytes = 1 << 20;
    limits.max_entries = 1000;
    limits.max_blob_bytes = 1 << 20;
    cpio::Writer w;
    auto config = load_image("/proc/self/fd/" + std::to_string(fd), w, limits);
    if (!config) return 0;
    for (uint16_t port : config->exposed_ports)
        if (port == 0) __builtin_trap();
    const std::vector<uint8_t> archive = w.finish();
    cpio::Reader r(archive.data(), archive.size());
    cpio::Entry e;
    cpio::Error err;
    while ((err = r.next(&e)) == cpio::Error::kOk) {
    }
    if (err != cpio::Error::kEnd) __builtin_trap();
    return 0;
}
