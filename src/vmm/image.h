// image.h - root filesystems from tar archives and container images.
//
// A tar archive (plain or compressed, as `docker export` or `tar` write it)
// is applied as one layer. A container image is read from a file, never a
// registry, in any of three forms:
//   - an OCI image layout directory (oci-layout, index.json, blobs/sha256/),
//   - the same as a tar archive,
//   - a `docker save` archive (manifest.json listing the config and layers).
// Its layers are applied in order with OCI whiteouts (".wh.NAME" removes
// NAME from the layers below, ".wh..wh..opq" empties its directory), and its
// configuration (Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts) is
// returned. Images are untrusted: every blob's sha256 digest is checked,
// sizes and entry counts are bounded, and a malformed image is an error
// naming the defect.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "vmm/cpio_writer.h"

namespace ember {

struct ImageConfig {
    std::vector<std::string> entrypoint, cmd, env;
    std::string working_dir, user;
    std::vector<uint16_t> exposed_ports;  // TCP ports, in order
};

// What `docker run IMAGE ARGS` runs: Entrypoint, then ARGS or else Cmd.
std::vector<std::string> image_argv(const ImageConfig& c, const std::vector<std::string>& args);
// The image's Env with `over` ("K=V") added, replacing the same keys.
std::vector<std::string> image_env(const ImageConfig& c, const std::vector<std::string>& over);

struct ImageLimits {
    uint64_t max_bytes = 4ull << 30;       // all file contents, uncompressed
    uint64_t max_entries = 1u << 20;       // archive entries over all layers
    uint64_t max_blob_bytes = 4ull << 30;  // one compressed blob or the image file
};

// Applies the tar archive `tar` (any compression libarchive reads) as one
// layer over w. total counts file bytes and entries against limits.
struct LayerBudget {
    uint64_t bytes = 0, entries = 0;
};
Status apply_tar_layer(cpio::Writer& w, std::span<const uint8_t> tar, const ImageLimits& limits,
                       LayerBudget* budget);

// True when data starts like a tar archive or a compressed stream (gzip,
// zstd, xz, bzip2) rather than a cpio archive.
bool looks_like_tar(std::span<const uint8_t> data);

// Reads the image at path (a directory or a file, see above) and applies its
// layers over w.
Result<ImageConfig> load_image(const std::string& path, cpio::Writer& w,
                               const ImageLimits& limits = {});
// The same for an image in one archive held in memory (an OCI layout or
// `docker save` tar), e.g. one uploaded to emberd.
Result<ImageConfig> load_image_archive(std::span<const uint8_t> archive, cpio::Writer& w,
                                       const ImageLimits& limits = {});
// The image at path as one archive for load_image_archive(): the file
// itself, or a directory (OCI layout) put into an uncompressed tar. The
// image is checked (loaded once) before it is returned.
Result<std::vector<uint8_t>> read_image_archive(const std::string& path,
                                                const ImageLimits& limits = {});

}  // namespace ember
