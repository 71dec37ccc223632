// snapshot_seal.h - snapshots authenticated by emberd: a seal file next to
// each snapshot, an HMAC-SHA256 under a key only emberd holds. The snapshot
// header's CRC32C finds accidents; anyone can recompute it. The seal finds
// any change made outside emberd: a byte edited, a page written into a
// hole, a truncation, or one service's snapshot (and seal) copied over
// another's.
//
//   <data dir>/snapshot.key          32 random bytes, hex, mode 0600 (created
//                                    at first start, like the API token)
//   <snapshot>.seal                  hex HMAC-SHA256, see compute_seal()
//
// The seal is checked when a snapshot is opened (emberd's start); a process
// that can change the file while emberd has it open is out of its reach:
// the snapshot directory is emberd's alone (mode 0700).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "platform/guest.h"

namespace ember::platform {

using SealKey = std::array<uint8_t, 32>;

std::string seal_key_path(const std::string& data_dir);   // <data_dir>/snapshot.key
std::string seal_path(const std::string& snapshot_path);  // <snapshot_path>.seal

// The key at path, or a new random one written there (mode 0600). A key
// file readable by group or others, or not 64 hex digits, is an error.
Result<SealKey> load_or_create_seal_key(const std::string& path);

// HMAC-SHA256 under key of: a domain tag, the snapshot's file name (so that
// a seal is valid only under its own name), the file size, and the index and
// bytes of every page that is not all zeros. Holes and zero pages count
// alike, so a sparse copy of the file keeps its seal. Reads only the file's
// data extents (SEEK_DATA): a sparse snapshot costs its present pages.
Result<std::array<uint8_t, 32>> compute_seal(const SealKey& key, const std::string& snapshot_path);
// Writes seal_path(snapshot_path) (atomically: temporary file, rename).
Status write_seal(const SealKey& key, const std::string& snapshot_path);
// Ok when the seal file exists and matches the snapshot; else a corruption
// Status saying which.
Status verify_seal(const SealKey& key, const std::string& snapshot_path);

// A GuestFactory that seals what inner prepares and opens only snapshots
// whose seal matches. restore() passes through; the instances it returns
// seal what they suspend (Guest::suspend), and resume() takes only
// suspended snapshots whose seal matches.
class SealedGuestFactory : public GuestFactory {
  public:
    SealedGuestFactory(GuestFactory& inner, const SealKey& key) : inner_(inner), key_(key) {}

    Result<std::shared_ptr<const Prepared>> prepare(const ServiceSpec& spec,
                                                    const std::string& snapshot_path,
                                                    const ConsoleFn& console) override;
    Result<std::shared_ptr<const Prepared>> open(const ServiceSpec& spec,
                                                 const std::string& snapshot_path) override;
    Result<std::unique_ptr<Guest>> restore(const std::shared_ptr<const Prepared>& p,
                                           const ConsoleFn& console) override;
    Result<std::unique_ptr<Guest>> resume(const std::shared_ptr<const Prepared>& p,
                                          const std::string& path,
                                          const ConsoleFn& console) override;

  private:
    GuestFactory& inner_;
    const SealKey key_;
};

}  // namespace ember::platform
