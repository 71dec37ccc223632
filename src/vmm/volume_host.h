// volume_host.h - the VMM side of volumes (EMBER_HC_VOLUME): file
// operations of a hostile guest on host directories.
//
// Every operation names its file by a path relative to the volume's root,
// which the guest kernel normalised (ember_abi.h, "volumes"). The host
// checks the path's form again, then resolves it with openat2 beneath the
// root's descriptor with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
// RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV and O_NOFOLLOW: no "..", no
// symlink (the guest follows its symlinks itself, as guest paths), no other
// mount, whatever the guest or a concurrent writer put in the directory.
// No host descriptor outlives a call, so a snapshot or a reset VM holds no
// host state of a volume; the root descriptors belong to the VmConfig's
// owner.
//
// Quota: a volume with quota_bytes counts each file as its size rounded up
// to 4 KiB (at least 4 KiB) and each directory and symlink as 4 KiB, and
// refuses growth beyond the quota with ENOSPC (a write is cut short at the
// quota first, as Linux does on a full disk). The count starts from a walk
// of the directory at the first operation that may grow it, so the host's
// usage stays within the quota plus the file system's own metadata.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vmm/guest_memory.h"

struct ember_hc_volume;

namespace ember {

struct VolumeMount {
    int dir_fd = -1;           // the host directory (O_PATH or O_RDONLY|O_DIRECTORY); not owned
    std::string guest_path;    // absolute mount point in the guest, e.g. "/data"
    bool readonly = false;     // decided here: the guest's flag only informs it
    uint64_t quota_bytes = 0;  // 0: no quota
};

// Checks a --volume / ServiceSpec mount point: absolute, normalised, short
// enough for the boot-info page, not "/" nor under the kernel's own trees
// (/proc, /sys, /dev, /tmp).
bool valid_volume_mount_point(const std::string& path);

class VolumeHost {
  public:
    explicit VolumeHost(const std::vector<VolumeMount>& mounts);
    // Serves one call: `a` is the guest's struct, already copied out of
    // guest memory; its result and st are filled in. Returns an EMBER_*
    // status for hc_status (bad struct fields), EMBER_OK otherwise.
    int64_t handle(GuestMemory& mem, ember_hc_volume* a);

    // Bytes the volume counts as used (walks it if not yet done); for tests.
    uint64_t usage(uint32_t volume);

  private:
    struct State {
        VolumeMount mount;
        std::optional<uint64_t> used;  // counted bytes, once walked
    };
    int64_t op(GuestMemory& mem, State& v, ember_hc_volume* a, const std::string& path,
               const std::string& path2);
    // Whether `growth` more bytes fit; the count is walked first if needed.
    bool fits(State& v, uint64_t growth);
    void charge(State& v, int64_t delta);
    std::vector<State> vols_;
};

// The bytes a file of `size` counts for (see the quota above).
uint64_t volume_charge(uint64_t size);

}  // namespace ember
