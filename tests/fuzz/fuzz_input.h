// fuzz_input.h - the input formats of the fuzz targets that run a script
// of operations rather than parse one buffer (fuzz_net_ring,
// fuzz_hypercall, fuzz_gateway), shared with the seed writer
// (make_seeds.cpp). Integers are little-endian; reading past the end gives
// zeros, so every input is a valid script.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

// A property of the code under test that the input broke: reported like a
// crash, with the condition that failed.
#define FUZZ_CHECK(cond)                                                                        \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            std::fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            std::abort();                                                                       \
        }                                                                                       \
    } while (0)

namespace ember::fuzz {

class Input {
  public:
    Input(const uint8_t* p, size_t n) : p_(p), n_(n) {}
    bool empty() const { return off_ >= n_; }
    size_t left() const { return n_ - off_; }
    template <typename T>
    T get() {
        T v{};
        const size_t k = sizeof(T) < left() ? sizeof(T) : left();
        std::memcpy(&v, p_ + off_, k);
        off_ += k;
        return v;
    }
    uint8_t u8() { return get<uint8_t>(); }
    uint16_t u16() { return get<uint16_t>(); }
    uint32_t u32() { return get<uint32_t>(); }
    uint64_t u64() { return get<uint64_t>(); }
    // Up to n bytes (fewer at the end of the input).
    const uint8_t* bytes(size_t n, size_t* got) {
        *got = n < left() ? n : left();
        const uint8_t* at = p_ + off_;
        off_ += *got;
        return at;
    }
    // The rest of the input.
    std::string rest() {
        std::string s(reinterpret_cast<const char*>(p_ + off_), left());
        off_ = n_;
        return s;
    }

  private:
    const uint8_t* p_;
    size_t n_, off_ = 0;
};

// The seed writer's side.
class Script {
  public:
    template <typename T>
    Script& put(T v) {
        out_.append(reinterpret_cast<const char*>(&v), sizeof v);
        return *this;
    }
    Script& u8(uint8_t v) { return put(v); }
    Script& u16(uint16_t v) { return put(v); }
    Script& u32(uint32_t v) { return put(v); }
    Script& u64(uint64_t v) { return put(v); }
    Script& bytes(const void* p, size_t n) {
        out_.append(static_cast<const char*>(p), n);
        return *this;
    }
    Script& str(const std::string& s) { return bytes(s.data(), s.size()); }
    const std::string& data() const { return out_; }

  private:
    std::string out_;
};

// fuzz_net_ring: the operations of a guest and of the host peers of its
// streams. The operation byte is taken modulo kNetOpCount.
enum NetOp : uint8_t {
    kNetTxBytes,     // u16 n, n bytes: raw bytes appended to the tx ring, then drained
    kNetTxRecord,    // u16 type, u32 stream, u32 arg, u16 len, len bytes: one well-formed record
    kNetDrain,       // the VMM drains the tx ring
    kNetTxCounters,  // u64 head, u64 tail: the guest overwrites the tx ring's counters
    kNetAdopt,       // u16 guest port: the gateway hands over a new connection
    kNetPeerSend,    // u8 peer, u16 n, n bytes: a host peer sends
    kNetPeerClose,   // u8 peer: a host peer closes its end
    kNetHostEvents,  // the VMM moves host events into the rx ring
    kNetRxConsume,   // the guest takes every record in the rx ring
    kNetRxTail,      // u64 tail: the guest overwrites the rx ring's tail
    kNetOpCount
};

// fuzz_hypercall: a guest writing its memory and making hypercalls.
enum HcOp : uint8_t {
    kHcWrite,      // u32 gpa, u16 n, n bytes: the guest writes its memory
    kHcCall,       // u8 nr, u64 arg: a hypercall
    kHcWantReady,  // u8 flag: the VMM wants (or not) a snapshot at READY
    kHcStdin,      // the VMM moves stdin into the ring
    kHcConsole,    // the doorbell: the VMM drains the console ring
    kHcOpCount
};

// fuzz_gateway: u16 n, the client's request (n bytes), then the instance's
// response (the rest of the input).

}  // namespace ember::fuzz
