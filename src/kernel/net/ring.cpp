// ring.cpp - the guest's ends of the net rings: producer of the tx ring,
// consumer of the rx ring (record layout in src/abi/ember_abi.h).
//
// Records are a 16-byte header, the payload, and padding to 16 bytes; a
// record never wraps: the producer fills the rest of the data area with a
// PAD record and starts again at offset 0. The VMM touches the rings only
// while the vCPU is stopped in an exit, so plain loads and stores suffice;
// compiler barriers keep the record bytes before the counter that publishes
// them, should the VMM ever read the rings while the guest runs.
#include "common/ring.h"

#include "net/net.h"

namespace k::net {

namespace {

using ember::ring::align16;
constexpr uint64_t kHdr = ember::ring::kNetHdr;

struct Ring {
    ember_ring* ring;
    uint8_t* data;
    uint64_t cap;  // bytes in the data area, a multiple of 16
};
Ring g_rx, g_tx;
uint64_t g_rx_size;  // size of the record returned by rx_peek (0: none)
bool g_warned_drop, g_warned_corrupt;

Ring make_ring(void* region, uint64_t size) {
    Ring r;
    r.ring = static_cast<ember_ring*>(region);
    r.data = static_cast<uint8_t*>(region) + EMBER_RING_DATA;
    r.cap = (size - EMBER_RING_DATA) & ~uint64_t{15};
    return r;
}

void rx_corrupt(const char* what) {
    if (!g_warned_corrupt) {
        g_warned_corrupt = true;
        klog("net: rx ring %s; pending records dropped", what);
    }
    g_rx.ring->tail = g_rx.ring->head;
    g_rx_size = 0;
}

}  // namespace

void rings_init(void* rx_region, uint64_t rx_size, void* tx_region, uint64_t tx_size) {
    g_rx = make_ring(rx_region, rx_size);
    g_tx = make_ring(tx_region, tx_size);
    g_rx_size = 0;
}

uint64_t tx_free() {
    const uint64_t used = g_tx.ring->head - g_tx.ring->tail;
    return used > g_tx.cap ? 0 : g_tx.cap - used;
}

bool tx_put(uint16_t type, uint32_t stream, uint32_t arg, const void* payload, uint32_t len) {
    KCHECK(len <= EMBER_NET_DATA_MAX);
    const uint64_t need = ember::ring::net_record_size(len);
    for (int attempt = 0; attempt < 2; ++attempt) {
        ember_ring* r = g_tx.ring;
        const uint64_t head = r->head;
        ember::ring::NetSlot slot;
        if (ember::ring::place_net_record(head, tx_free(), g_tx.cap, need, &slot)) {
            if (slot.skip) {
                const ember_net_rec pad = ember::ring::net_pad_record(slot.skip);
                memcpy(g_tx.data + head % g_tx.cap, &pad, kHdr);
            }
            const uint64_t off = slot.off;
            const ember_net_rec rec{type, 0, stream, len, arg};
            memcpy(g_tx.data + off, &rec, kHdr);
            if (len) memcpy(g_tx.data + off + kHdr, payload, len);
            if (align16(len) != len) memset(g_tx.data + off + kHdr + len, 0, align16(len) - len);
            asm volatile("" ::: "memory");
            r->head = head + slot.skip + need;
            return true;
        }
        hypercall(EMBER_HC_CONSOLE, 0);  // the VMM drains the tx ring
    }
    if (!g_warned_drop) {
        g_warned_drop = true;
        klog("net: the host does not drain the tx ring; records dropped");
    }
    return false;
}

bool rx_pending() { return g_rx.ring->head != g_rx.ring->tail; }

bool rx_peek(ember_net_rec* rec, const uint8_t** payload) {
    for (;;) {
        ember_ring* r = g_rx.ring;
        const uint64_t head = r->head, tail = r->tail;
        asm volatile("" ::: "memory");
        g_rx_size = 0;
        if (head == tail) return false;
        const uint64_t avail = head - tail;
        if (avail > g_rx.cap || avail % 16 || tail % 16) {
            rx_corrupt("counters are out of range");
            return false;
        }
        const uint64_t off = tail % g_rx.cap;
        memcpy(rec, g_rx.data + off, kHdr);  // copied, then validated
        const uint64_t size = ember::ring::net_record_size(rec->len);
        if (rec->len > g_rx.cap || size > g_rx.cap - off || size > avail) {
            rx_corrupt("holds a malformed record");
            return false;
        }
        if (rec->type == EMBER_NET_PAD) {
            r->tail = tail + size;
            continue;
        }
        if (rec->len > EMBER_NET_DATA_MAX) {  // no valid record is this large
            rx_corrupt("holds an oversized record");
            return false;
        }
        *payload = g_rx.data + off + kHdr;
        g_rx_size = size;
        return true;
    }
}

void rx_consume() {
    if (g_rx_size == 0) return;
    asm volatile("" ::: "memory");
    g_rx.ring->tail += g_rx_size;
    g_rx_size = 0;
}

}  // namespace k::net
