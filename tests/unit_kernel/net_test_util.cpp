// net_test_util.cpp - the fake VMM and the net test fixture.
#include "net_test_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include <cstring>

namespace nettest {

namespace {
constexpr uint64_t kHdr = sizeof(ember_net_rec);
constexpr uint64_t align16(uint64_t v) { return (v + 15) & ~uint64_t{15}; }
FakeHost* g_host;
}  // namespace

FakeHost& host() {
    if (!g_host) g_host = new FakeHost();  // lives for the whole test binary
    return *g_host;
}

void FakeHost::reset() {
    memset(rx_, 0, sizeof rx_);
    memset(tx_, 0, sizeof tx_);
    sent_.clear();
    later_.clear();
    each_wait = nullptr;
    auto_credit = false;
    waits = kicks = 0;
    last_events = 0;
    last_deadline = 0;
    idle_waits_ = 0;
    malformed_tx = false;
}

bool FakeHost::push(uint16_t type, uint32_t stream, uint32_t arg, const std::string& data) {
    ember_ring* r = rx_ring();
    uint8_t* d = rx_ + EMBER_RING_DATA;
    uint64_t head = r->head;
    const uint64_t need = kHdr + align16(data.size());
    uint64_t free_bytes = kRxCap - (head - r->tail);
    uint64_t off = head % kRxCap;
    if (kRxCap - off < need) {
        const uint64_t skip = kRxCap - off;
        if (free_bytes < skip + need) return false;
        ember_net_rec pad{EMBER_NET_PAD, 0, 0, static_cast<uint32_t>(skip - kHdr), 0};
        memcpy(d + off, &pad, kHdr);
        head += skip;
        free_bytes -= skip;
        off = 0;
    }
    if (free_bytes < need) return false;
    ember_net_rec rec{type, 0, stream, static_cast<uint32_t>(data.size()), arg};
    memcpy(d + off, &rec, kHdr);
    memcpy(d + off + kHdr, data.data(), data.size());
    r->head = head + need;
    return true;
}

void FakeHost::drain() {
    ember_ring* r = tx_ring();
    const uint8_t* d = tx_ + EMBER_RING_DATA;
    uint64_t tail = r->tail;
    while (tail != r->head) {
        const uint64_t off = tail % kTxCap;
        ember_net_rec rec;
        if (r->head - tail > kTxCap || kTxCap - off < kHdr) {
            malformed_tx = true;
            break;
        }
        memcpy(&rec, d + off, kHdr);
        const uint64_t size = kHdr + align16(rec.len);
        if (rec.len > EMBER_NET_DATA_MAX || size > kTxCap - off || size > r->head - tail) {
            malformed_tx = true;
            break;
        }
        if (rec.type != EMBER_NET_PAD) {
            Rec x{rec.type, rec.stream, rec.arg,
                  std::string(reinterpret_cast<const char*>(d + off + kHdr), rec.len)};
            if (auto_credit && rec.type == EMBER_NET_DATA && rec.len)
                later_.push_back({EMBER_NET_WINDOW, rec.stream, rec.len, ""});
            sent_.push_back(std::move(x));
        }
        tail += size;
    }
    r->tail = r->head;
}

uint32_t FakeHost::on_wait(uint32_t events, uint64_t deadline) {
    drain();
    waits++;
    last_events = events;
    last_deadline = deadline;
    if (each_wait) each_wait();
    while (!later_.empty() && push(later_.front().type, later_.front().stream, later_.front().arg,
                                   later_.front().data))
        later_.pop_front();
    if ((events & EMBER_WAIT_NET) && rx_ring()->head != rx_ring()->tail) {
        idle_waits_ = 0;
        return EMBER_WAIT_NET;
    }
    if (events & EMBER_WAIT_STDIN && shim::stdin_readable()) return EMBER_WAIT_STDIN;
    if (deadline) {
        const int64_t now = shim::clock_ns();
        if (static_cast<int64_t>(deadline) > now)
            shim::advance_clock(static_cast<int64_t>(deadline) - now);
        return 0;
    }
    if (++idle_waits_ > 1000) {
        fprintf(stderr, "FakeHost: the guest waits forever (events %#x) with nothing to deliver\n",
                events);
        abort();
    }
    return 0;
}

std::vector<Rec> FakeHost::sent_of(int type) const {
    std::vector<Rec> out;
    for (const Rec& r : sent_)
        if (type < 0 || r.type == type) out.push_back(r);
    return out;
}

std::string FakeHost::data_of(uint32_t stream) const {
    std::string s;
    for (const Rec& r : sent_)
        if (r.type == EMBER_NET_DATA && r.stream == stream) s += r.data;
    return s;
}

uint64_t FakeHost::credit_returned(uint32_t stream) const {
    uint64_t n = 0;
    for (const Rec& r : sent_)
        if (r.type == EMBER_NET_WINDOW && r.stream == stream) n += r.arg;
    return n;
}

// ---- the fixture ----------------------------------------------------------------

void NetTest::SetUp() {
    FsTest::SetUp();
    host().reset();
    shim::net_boot(host().rx(), EMBER_NET_RX_SIZE, host().tx(), EMBER_NET_TX_SIZE);
}

int64_t NetTest::bind4(int64_t fd, uint16_t port, uint32_t addr) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(addr);
    return sys(SYS_bind, static_cast<uint64_t>(fd), fstest::P(&a), sizeof a);
}

int64_t NetTest::connect4(int64_t fd, uint16_t port, uint32_t addr) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(addr);
    return sys(SYS_connect, static_cast<uint64_t>(fd), fstest::P(&a), sizeof a);
}

int64_t NetTest::listener(uint16_t port, uint32_t* id, int flags) {
    int64_t fd = socket4(flags);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(bind4(fd, port), 0);
    EXPECT_EQ(sys(SYS_listen, static_cast<uint64_t>(fd), 16), 0);
    host().drain();
    auto l = host().sent_of(EMBER_NET_LISTEN);
    EXPECT_FALSE(l.empty());
    if (!l.empty()) *id = l.back().stream;
    return fd;
}

uint32_t NetTest::deliver_accept(uint32_t listener_id, uint16_t peer_port) {
    const uint32_t id = next_host_id_++;
    EXPECT_TRUE(host().push(EMBER_NET_ACCEPT, id, listener_id, addr4(10, 1, 2, 3, peer_port)));
    return id;
}

int64_t NetTest::accepted(uint32_t* stream, int flags) {
    uint32_t lid = 0;
    int64_t l = listener(static_cast<uint16_t>(8000 + next_host_id_ % 1000), &lid);
    *stream = deliver_accept(lid);
    int64_t fd = sys(SYS_accept4, static_cast<uint64_t>(l), 0, 0, static_cast<uint64_t>(flags));
    close(l);
    return fd;
}

std::string NetTest::recv(int64_t fd, size_t n, int flags) {
    std::string buf(n, '\0');
    int64_t r = sys(SYS_recvfrom, static_cast<uint64_t>(fd), fstest::P(buf.data()), n,
                    static_cast<uint64_t>(flags), 0, 0);
    if (r < 0) return fstest::errno_text(r);
    buf.resize(static_cast<size_t>(r));
    return buf;
}

uint32_t NetTest::poll1(int64_t fd, short events, int timeout_ms) {
    pollfd p{static_cast<int>(fd), events, 0};
    int64_t r = sys(SYS_poll, fstest::P(&p), 1, static_cast<uint64_t>(timeout_ms));
    EXPECT_GE(r, 0);
    return static_cast<uint16_t>(p.revents);
}

}  // namespace nettest

namespace shim {
uint32_t host_wait(uint32_t events, uint64_t deadline_ns) {
    return nettest::host().on_wait(events, deadline_ns);
}
void host_kick() { nettest::host().on_kick(); }
}  // namespace shim
