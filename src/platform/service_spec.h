// service_spec.h - what a service is: the program, its files and settings,
// and the scaling policy. Parsed from the API's JSON with every field checked
// (unknown fields are errors), stored in the state database as JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "common/result.h"

namespace ember::platform {

enum class Isolation {
    kInstance,  // instances serve many requests, up to `concurrency` at once
    kRequest,   // every request gets a fresh instance, discarded afterwards
};
const char* isolation_name(Isolation i);

// What the `image` blob is.
enum class ImageType {
    kProgram,    // an x86-64 Linux executable, placed at /bin/<program>
    kContainer,  // a container image archive (OCI layout or `docker save` tar):
                 // its layers are the root filesystem, its Entrypoint + Cmd the
                 // program (args replace Cmd), its Env under env, WorkingDir
};
const char* image_type_name(ImageType t);

// What happens to an instance idle for idle_timeout_ms.
enum class ScaleToZero {
    kDiscard,   // it is stopped; the next request starts from the snapshot
    kStateful,  // it is suspended as it is (memory, threads, listeners) and
                // the next request resumes it (docs/architecture.md)
};
const char* scale_to_zero_name(ScaleToZero m);

struct FileEntry {
    std::string path;   // normalised absolute guest path, e.g. "/etc/app.conf"
    std::string image;  // sha256 of the content in the image store
    uint32_t mode = 0644;
};

// A volume mounted in the service's instances (volume_spec.cpp).
struct VolumeEntry {
    std::string name;  // of a volume made with POST /v1/volumes
    std::string path;  // absolute guest mount point, e.g. "/data"
    bool readonly = false;
};

struct ServiceSpec {
    // Deploy fields: changing any of them prepares a new snapshot.
    std::string name;
    std::string image;  // sha256 of the program in the image store
    ImageType image_type = ImageType::kProgram;
    std::string program = "app";    // the program is /bin/<program> in the guest
    uint16_t port = 8080;           // the guest port the program listens on
    std::vector<std::string> args;  // argv[1..]
    std::vector<std::string> env;   // "K=V"
    std::vector<FileEntry> files;
    std::vector<std::string> egress;  // "HOST:PORT" the guest may connect() to
    uint32_t memory_mb = 64;
    // Writable volumes have one writer: the service runs one instance at a
    // time (max_instances 1). With isolation "request" every mount is read-only.
    std::vector<VolumeEntry> volumes;

    // Runtime fields: changed in place (PATCH), no new snapshot.
    uint32_t min_instances = 0;
    uint32_t max_instances = 16;
    uint32_t concurrency = 8;  // requests one instance serves at once
    uint64_t idle_timeout_ms = 1000;
    uint64_t timeout_ms = 30000;  // arrival to response headers, queueing included
    Isolation isolation = Isolation::kInstance;
    uint32_t queue_size = 64;  // requests waiting when every instance is busy
    uint64_t queue_timeout_ms = 10000;
    // Isolation "request" only: fresh instances restored ahead of need while
    // the service has traffic, so that a request finds its instance ready
    // (the restore is off its path). They serve nothing before their one
    // request and stop after idle_timeout like any idle instance.
    uint32_t spare_instances = 0;
    // Isolation "instance" only. With kStateful, min_instances counts
    // suspended instances too: `--min 1` keeps one, suspended when idle.
    ScaleToZero scale_to_zero = ScaleToZero::kDiscard;
};

// Limits on what a spec may hold.
constexpr size_t kMaxArgs = 256;
constexpr size_t kMaxEnv = 256;
constexpr size_t kMaxFiles = 256;
constexpr size_t kMaxStringLen = 4096;
constexpr uint32_t kMaxInstancesLimit = 1024;
constexpr uint32_t kMinMemoryMb = 8;
constexpr uint32_t kMaxMemoryMb = 8192;

// A DNS label: 1-63 of [a-z0-9-], not starting or ending with '-'.
Status validate_name(const std::string& name);
// True for 64 lower-case hex digits.
bool is_sha256_hex(const std::string& s);
// "/etc//x.conf" -> "/etc/x.conf". Rejects empty paths, NUL bytes, "." or
// ".." components, the root itself, and paths over 255 bytes.
Result<std::string> normalize_guest_path(const std::string& path);

// Parses a full spec (POST/PUT body). `name` comes from the URL when not in
// the body; when both are given they must agree. Every error names the field.
Result<ServiceSpec> spec_from_json(const nlohmann::json& j, const std::string& name);
// Applies a PATCH body: only runtime fields are allowed.
Status apply_patch(ServiceSpec* spec, const nlohmann::json& j);
// volume_spec.cpp: the "volumes" field ([{name, path, readonly}]).
Status read_volumes(const nlohmann::json& v, std::vector<VolumeEntry>* out);
nlohmann::json volumes_to_json(const std::vector<VolumeEntry>& v);
// True when the service writes one of its volumes (a mount not read-only,
// and isolation "instance").
bool writes_volumes(const ServiceSpec& s);
Status validate_volumes(const ServiceSpec& s);

// Checks the cross-field rules (min <= max, queue timeout <= timeout, ...).
Status validate_spec(const ServiceSpec& spec);
nlohmann::json spec_to_json(const ServiceSpec& spec);
// True when the two specs would boot to different snapshots.
bool needs_new_snapshot(const ServiceSpec& a, const ServiceSpec& b);

}  // namespace ember::platform
