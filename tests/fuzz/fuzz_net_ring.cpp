// libFuzzer entry point for the host side of the net rings (StreamHost,
// src/vmm/stream_host.cpp): a hostile guest writes records, raw bytes and
// counters into its tx ring and consumes (or corrupts) the rx ring, while
// host peers of adopted streams send and close. The input is a script of
// NetOp operations (fuzz_input.h), driven through StreamHost's public calls
// only, as the VMM makes them.
//
// Guest memory here is exactly the two rings, at their guest addresses;
// everything below them is poisoned, so ASan reports any access by the VMM
// outside the rings. Besides that, it fails when the rx ring the VMM fills
// is not well-formed for the guest (while the guest has not corrupted it),
// or when the instance holds more than EMBER_NET_MAX_STREAMS streams.
#include <sanitizer/asan_interface.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "abi/ember_abi.h"
#include "common/ring.h"
#include "fuzz_input.h"
#include "vmm/stream_host.h"

using namespace ember;
using namespace ember::fuzz;

namespace {

constexpr uint64_t kMemSize = EMBER_GPA_NET_TX + EMBER_NET_TX_SIZE;
constexpr uint64_t kRxCap = ring::kNetRxCap;
constexpr uint64_t kTxCap = ring::kNetTxCap;
constexpr size_t kMaxPeers = 8;
constexpr int kMaxOps = 2048;

uint8_t* guest_ram() {
    static uint8_t* const ram = [] {
        auto* p = new uint8_t[kMemSize];
        ASAN_POISON_MEMORY_REGION(p, EMBER_GPA_NET_RX);
        return p;
    }();
    return ram;
}

struct Guest {
    uint8_t* ram;
    ember_ring* rx() { return reinterpret_cast<ember_ring*>(ram + EMBER_GPA_NET_RX); }
    ember_ring* tx() { return reinterpret_cast<ember_ring*>(ram + EMBER_GPA_NET_TX); }
    uint8_t* rx_data() { return ram + EMBER_GPA_NET_RX + EMBER_RING_DATA; }
    uint8_t* tx_data() { return ram + EMBER_GPA_NET_TX + EMBER_RING_DATA; }
    bool rx_corrupted = false;  // the guest wrote the rx counters itself

    // A record as the guest kernel writes it: a PAD first when it does not
    // fit before the end. False when the ring has no room.
    bool send(uint16_t type, uint32_t stream, uint32_t arg, const uint8_t* p, uint32_t len) {
        const uint64_t head = tx()->head, tail = tx()->tail;
        // The guest kernel keeps records 16-byte aligned; after kNetTxCounters
        // the ring may not be, and the VMM sees whatever is there.
        if (head - tail > kTxCap || head % 16) return false;
        ring::NetSlot slot;
        if (!ring::place_net_record(head, kTxCap - (head - tail), kTxCap,
                                    ring::net_record_size(len), &slot))
            return false;
        if (slot.skip) {
            const ember_net_rec pad = ring::net_pad_record(slot.skip);
            std::memcpy(tx_data() + head % kTxCap, &pad, sizeof pad);
        }
        const ember_net_rec r{type, 0, stream, len, arg};
        std::memcpy(tx_data() + slot.off, &r, sizeof r);
        if (len) std::memcpy(tx_data() + slot.off + sizeof r, p, len);
        tx()->head = head + slot.skip + ring::net_record_size(len);
        return true;
    }

    // Takes every record the VMM queued, checking that each is one the
    // guest kernel can parse.
    void consume() {
        const uint64_t head = rx()->head, tail = rx()->tail;
        if (!rx_corrupted) {
            FUZZ_CHECK(head - tail <= kRxCap);
            for (uint64_t pos = tail; pos != head;) {
                const uint64_t off = pos % kRxCap;
                FUZZ_CHECK(kRxCap - off >= ring::kNetHdr && head - pos >= ring::kNetHdr);
                ember_net_rec r;
                std::memcpy(&r, rx_data() + off, sizeof r);
                const uint64_t size = ring::net_record_size(r.len);
                FUZZ_CHECK(size <= kRxCap - off && size <= head - pos);
                if (r.type == EMBER_NET_PAD) {
                    FUZZ_CHECK(size == kRxCap - off);  // a PAD fills the rest
                } else {
                    FUZZ_CHECK(r.len <= EMBER_NET_DATA_MAX);
                    FUZZ_CHECK(r.type == EMBER_NET_DATA || r.type == EMBER_NET_WINDOW ||
                               r.type == EMBER_NET_SHUTDOWN || r.type == EMBER_NET_CLOSE ||
                               r.type == EMBER_NET_ACCEPT || r.type == EMBER_NET_CONNECTED ||
                               r.type == EMBER_NET_DGRAM || r.type == EMBER_NET_DGRAM_ERROR);
                    // A datagram record starts with its address.
                    if (r.type == EMBER_NET_DGRAM || r.type == EMBER_NET_DGRAM_ERROR)
                        FUZZ_CHECK(r.len >= sizeof(ember_net_addr));
                }
                pos += size;
            }
        }
        rx()->tail = head;
    }
};

void drain_peers(const std::vector<int>& peers) {
    char buf[16384];
    for (int fd : peers)
        if (fd >= 0)
            while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
            }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Guest g{guest_ram()};
    std::memset(g.ram + EMBER_GPA_NET_RX, 0, EMBER_NET_RX_SIZE + EMBER_NET_TX_SIZE);
    std::vector<int> peers;
    {
        GuestMemory mem = GuestMemory::wrap(g.ram, kMemSize);
        StreamHost net(mem, NetConfig{}, [](const std::string&) {});
        Input in(data, size);
        for (int ops = 0; !in.empty() && ops < kMaxOps; ++ops) {
            switch (in.u8() % kNetOpCount) {
                case kNetTxBytes: {
                    size_t n;
                    const uint8_t* p = in.bytes(in.u16() % (kTxCap + 1), &n);
                    ring::put_wrapped(g.tx_data(), kTxCap, g.tx()->head, p, n);
                    g.tx()->head += n;
                    net.drain_tx();
                    break;
                }
                case kNetTxRecord: {
                    const uint16_t type = in.u16();
                    const uint32_t stream = in.u32(), arg = in.u32();
                    size_t n;
                    const uint8_t* p = in.bytes(in.u16() % (EMBER_NET_DATA_MAX + 1), &n);
                    const auto len = static_cast<uint32_t>(n);
                    if (!g.send(type, stream, arg, p, len)) {
                        net.drain_tx();
                        (void)g.send(type, stream, arg, p, len);
                    }
                    break;
                }
                case kNetDrain:
                    net.drain_tx();
                    break;
                case kNetTxCounters:
                    g.tx()->head = in.u64();
                    g.tx()->tail = in.u64();
                    net.drain_tx();
                    break;
                case kNetAdopt: {
                    const uint16_t port = in.u16();
                    int sv[2];
                    if (peers.size() >= kMaxPeers ||
                        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
                        break;
                    peers.push_back(sv[0]);
                    (void)net.adopt(sv[1], port);
                    break;
                }
                case kNetPeerSend: {
                    const uint8_t who = in.u8();
                    size_t n;
                    const uint8_t* p = in.bytes(in.u16(), &n);
                    if (!peers.empty() && peers[who % peers.size()] >= 0)
                        (void)send(peers[who % peers.size()], p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
                    break;
                }
                case kNetPeerClose: {
                    const uint8_t who = in.u8();
                    if (peers.empty()) break;
                    int& fd = peers[who % peers.size()];
                    if (fd >= 0) close(fd);
                    fd = -1;
                    break;
                }
                case kNetHostEvents:
                    drain_peers(peers);
                    net.deliver_host_events();
                    break;
                case kNetRxConsume:
                    g.consume();
                    break;
                case kNetRxTail:
                    g.rx()->tail = in.u64();
                    g.rx_corrupted = true;
                    break;
            }
            FUZZ_CHECK(net.open_streams() <= EMBER_NET_MAX_STREAMS);
        }
        net.drain_tx();
        net.deliver_host_events();
        g.consume();
    }
    for (int fd : peers)
        if (fd >= 0) close(fd);
    return 0;
}
