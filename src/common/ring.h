// ring.h - the arithmetic of the rings in guest memory (console, stdin, net
// rx/tx) and the encoding of their records, written once for both ends: the
// VMM (src/vmm/hypercalls.cpp, stream_host.cpp) and the guest kernel
// (src/kernel/io.cpp, net/ring.cpp). The layouts themselves are defined in
// src/abi/ember_abi.h.
//
// Freestanding: <stdint.h>/<stddef.h> and the ABI header only, no libc, no
// allocation. Everything here is pure arithmetic on values a caller has
// already copied out of the ring; callers still validate what they read.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "abi/ember_abi.h"

namespace ember::ring {

// Bytes in the data area of a ring region of `region_size` bytes.
constexpr uint64_t capacity(uint64_t region_size) { return region_size - EMBER_RING_DATA; }

constexpr uint64_t kConsoleCap = capacity(EMBER_CONSOLE_SIZE);
constexpr uint64_t kStdinCap = capacity(EMBER_STDIN_SIZE);
constexpr uint64_t kNetRxCap = capacity(EMBER_NET_RX_SIZE);
constexpr uint64_t kNetTxCap = capacity(EMBER_NET_TX_SIZE);

// Copies n bytes into / out of a byte ring's data area at free-running
// position pos, wrapping at cap. n must not exceed cap.
inline void put_wrapped(uint8_t* data, uint64_t cap, uint64_t pos, const void* src, size_t n) {
    const auto* s = static_cast<const uint8_t*>(src);
    const uint64_t off = pos % cap;
    const uint64_t first = n < cap - off ? n : cap - off;
    __builtin_memcpy(data + off, s, first);
    if (first < n) __builtin_memcpy(data, s + first, n - first);
}
inline void get_wrapped(const uint8_t* data, uint64_t cap, uint64_t pos, void* dst, size_t n) {
    auto* d = static_cast<uint8_t*>(dst);
    const uint64_t off = pos % cap;
    const uint64_t first = n < cap - off ? n : cap - off;
    __builtin_memcpy(d, data + off, first);
    if (first < n) __builtin_memcpy(d + first, data, n - first);
}

// ---- console records ----------------------------------------------------------
// A 4-byte header (uint16 len little-endian, uint8 fd, uint8 0), then len
// bytes; records wrap around the end of the data area like plain bytes.
constexpr uint64_t kConsoleHdr = 4;

struct ConsoleHeader {
    uint32_t len;
    uint32_t fd;
};
inline void encode_console_header(uint8_t out[kConsoleHdr], uint32_t len, uint32_t fd) {
    out[0] = static_cast<uint8_t>(len);
    out[1] = static_cast<uint8_t>(len >> 8);
    out[2] = static_cast<uint8_t>(fd);
    out[3] = 0;
}
inline ConsoleHeader decode_console_header(const uint8_t in[kConsoleHdr]) {
    return {static_cast<uint32_t>(in[0] | (uint32_t{in[1]} << 8)), in[2]};
}

// ---- net records ----------------------------------------------------------------
// A struct ember_net_rec, the payload, padding to 16 bytes. A record never
// wraps: the producer fills the rest of the data area with a PAD record.
constexpr uint64_t kNetHdr = sizeof(ember_net_rec);
constexpr uint64_t align16(uint64_t v) { return (v + 15) & ~uint64_t{15}; }
// Bytes a record with `len` payload bytes takes in the ring.
constexpr uint64_t net_record_size(uint64_t len) { return kNetHdr + align16(len); }

// Where a producer puts a record of `need` bytes (net_record_size) given
// its head counter and the free bytes: at `off`, after a PAD record of
// `skip` bytes at head % cap when the rest of the data area is too short
// (skip 0: none). The new head is head + skip + need.
struct NetSlot {
    uint64_t off;
    uint64_t skip;
};
// False when the record does not fit now. cap is a multiple of 16.
inline bool place_net_record(uint64_t head, uint64_t free_bytes, uint64_t cap, uint64_t need,
                             NetSlot* slot) {
    const uint64_t off = head % cap;
    const uint64_t contiguous = cap - off;  // a multiple of 16, at least 16
    const uint64_t skip = contiguous < need ? contiguous : 0;
    if (free_bytes < skip + need) return false;
    slot->off = skip ? 0 : off;
    slot->skip = skip;
    return true;
}
// The PAD record that skips `skip` bytes (header included).
inline ember_net_rec net_pad_record(uint64_t skip) {
    return ember_net_rec{EMBER_NET_PAD, 0, 0, static_cast<uint32_t>(skip - kNetHdr), 0};
}

}  // namespace ember::ring
