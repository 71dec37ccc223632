// udp_host.cpp - UDP sockets whose datagrams go outside the instance: each
// datagram is one EMBER_NET_DGRAM record in the net rings, and the VMM sends
// it from a host UDP socket of its own (src/vmm/stream_host_dgram.cpp).
//
// A guest UDP socket gets a datagram socket id at its first datagram to a
// destination outside the instance (loopback ones stay inside, usock.cpp);
// the host creates its socket then, and closes it at EMBER_NET_DGRAM_CLOSE.
// Nothing is credited: replies that find the receive queue full are
// dropped, as UDP does. Whether the egress policy allows a destination is
// the host's decision; a refusal comes back as EMBER_NET_DGRAM_ERROR and is
// reported by the socket's next call (SO_ERROR), as an ICMP error would be.
#include "net/socket.h"
#include "net/usock.h"

namespace k::net {

namespace {

uint32_t g_host_socks;  // sockets with a host id (the host's cap is the same)
uint32_t g_next_host_id = 1;
// One record's payload, assembled here: the kernel does not switch threads
// inside usock_send_host, so one buffer serves every caller.
uint8_t g_dgram[EMBER_NET_DATA_MAX];

uint32_t alloc_host_id() {
    for (uint32_t tries = 0; tries < 2 * EMBER_NET_MAX_DGRAM + 2; tries++) {
        const uint32_t id = g_next_host_id++;
        if (g_next_host_id >= EMBER_NET_HOST_ID) g_next_host_id = 1;
        if (!usock_find_host_id(id)) return id;
    }
    return 0;
}

}  // namespace

int64_t usock_send_host(USock* s, USend* m) {
    if (m->total > EMBER_NET_DGRAM_MAX) return -EMSGSIZE;
    if (!s->host_id) {
        if (g_host_socks >= EMBER_NET_MAX_DGRAM) return -ENOBUFS;
        s->host_id = alloc_host_id();
        if (!s->host_id) return -ENOBUFS;
        g_host_socks++;
    }
    memcpy(g_dgram, &m->in, sizeof m->in);
    uint64_t at = 0;
    for (uint32_t i = 0; i < m->niov && at < m->total; i++) {
        const uint64_t k = m->iov[i].len < m->total - at ? m->iov[i].len : m->total - at;
        memcpy(g_dgram + sizeof m->in + at, m->iov[i].base, k);
        at += k;
    }
    const auto len = static_cast<uint32_t>(sizeof m->in + m->total);
    if (!tx_put(EMBER_NET_DGRAM, s->host_id, 0, g_dgram, len)) return -ENOBUFS;
    s->gen++;
    return static_cast<int64_t>(m->total);
}

void usock_host_rx(const ember_net_rec& r, const uint8_t* payload) {
    USock* s = usock_find_host_id(r.stream);
    if (!s || r.len < sizeof(ember_net_addr)) return;  // closed since, or malformed
    ember_net_addr from;
    memcpy(&from, payload, sizeof from);
    if (r.type == EMBER_NET_DGRAM_ERROR) {
        if (r.arg == 0 || r.arg > 4095) return;
        // A loopback destination is refused as an unbound port is: only a
        // socket connected there hears of it, as with ICMP on Linux. Other
        // refusals (egress denied) are reported to every socket.
        if (loopback(from) && (s->state != UState::kConnected || s->remote.port != from.port))
            return;
        s->so_error = static_cast<int32_t>(r.arg);
        s->gen++;
        return;
    }
    // recvfrom formats the source for the socket (v4-mapped for IPv6 ones).
    usock_deliver(s, from, payload + sizeof from,
                  static_cast<uint32_t>(r.len - sizeof(ember_net_addr)));
}

void usock_host_release(USock* s) {
    tx_put(EMBER_NET_DGRAM_CLOSE, s->host_id, 0, nullptr, 0);
    s->host_id = 0;
    if (g_host_socks) g_host_socks--;
}

int64_t usock_wait_for(const USock* s, uint64_t deadline) {
    return s->host_id ? sock_wait(deadline) : usock_wait(deadline);
}

}  // namespace k::net
