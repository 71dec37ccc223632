// The VMM's StreamHost against a scripted guest: records in the rings, real
// TCP connections on 127.0.0.1.
#include "vmm/stream_host.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "abi/ember_abi.h"

namespace ember {
namespace {

constexpr uint64_t kRxCap = EMBER_NET_RX_SIZE - EMBER_RING_DATA;
constexpr uint64_t kTxCap = EMBER_NET_TX_SIZE - EMBER_RING_DATA;

int64_t mono_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

uint16_t free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
}

class StreamHostTest : public ::testing::Test {
  protected:
    StreamHostTest() : buf_(16 << 20, 0), mem_(GuestMemory::wrap(buf_.data(), buf_.size())) {}

    ember_ring* rx() { return reinterpret_cast<ember_ring*>(buf_.data() + EMBER_GPA_NET_RX); }
    ember_ring* tx() { return reinterpret_cast<ember_ring*>(buf_.data() + EMBER_GPA_NET_TX); }

    // The guest side: appends a record to the tx ring (no wrap needed here).
    void guest_send(uint16_t type, uint32_t stream, uint32_t arg, const void* p = nullptr,
                    uint32_t len = 0) {
        uint8_t* d = buf_.data() + EMBER_GPA_NET_TX + EMBER_RING_DATA;
        const uint64_t off = tx()->head % kTxCap;
        ember_net_rec r{type, 0, stream, len, arg};
        std::memcpy(d + off, &r, sizeof r);
        if (len) std::memcpy(d + off + sizeof r, p, len);
        tx()->head += sizeof r + ((len + 15) & ~15u);
    }
    // The guest side: takes every record between `from` and the head.
    std::vector<std::pair<ember_net_rec, std::string>> guest_receive(uint64_t from) {
        std::vector<std::pair<ember_net_rec, std::string>> out;
        const uint8_t* d = buf_.data() + EMBER_GPA_NET_RX + EMBER_RING_DATA;
        uint64_t pos = from;
        while (pos != rx()->head) {
            ember_net_rec r;
            std::memcpy(&r, d + pos % kRxCap, sizeof r);
            if (r.type != EMBER_NET_PAD)
                out.push_back(
                    {r, std::string(reinterpret_cast<const char*>(d + pos % kRxCap + sizeof r),
                                    r.len)});
            pos += sizeof r + ((r.len + 15) & ~15u);
        }
        rx()->tail = rx()->head;
        return out;
    }

    std::vector<uint8_t> buf_;
    GuestMemory mem_;
};

TEST_F(StreamHostTest, DataIsNotDroppedWhenTheRxRingHasRoomOnlyAfterItsEnd) {
    NetConfig cfg;
    PortMapping m;
    m.host_port = free_port();
    m.guest_port = 8080;
    cfg.ports.push_back(m);
    std::vector<std::string> logs;
    StreamHost net(mem_, cfg, [&](const std::string& l) { logs.push_back(l); });
    ASSERT_TRUE(net.start().is_ok());
    ember_net_addr bound{};
    bound.family = EMBER_NET_AF_INET;
    bound.port = 8080;
    guest_send(EMBER_NET_LISTEN, 1, 8080, &bound, sizeof bound);
    net.drain_tx();

    int client = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(m.host_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_TRUE(net.wait(mono_ns() + 2000000000ll, -1));
    auto recs = guest_receive(rx()->tail);
    ASSERT_EQ(recs.size(), 1u);
    ASSERT_EQ(recs[0].first.type, EMBER_NET_ACCEPT);
    const uint32_t stream = recs[0].first.stream;

    // The guest has left 20000 bytes free, only 8000 of them before the end
    // of the data area: a 16 KiB record fits only after a PAD, and not at all
    // at full size.
    const uint64_t head = 3 * kRxCap - 8000;
    rx()->head = head;
    rx()->tail = head - (kRxCap - 20000);
    std::string sent(64 * 1024, '\0');
    for (size_t i = 0; i < sent.size(); i++) sent[i] = static_cast<char>(i * 31 + i / 7);
    ASSERT_EQ(send(client, sent.data(), sent.size(), 0), static_cast<ssize_t>(sent.size()));

    std::string got;
    uint64_t from = head;
    size_t credited = 0;
    for (int round = 0; round < 200 && got.size() < sent.size(); round++) {
        net.wait(mono_ns() + 100000000ll, -1);
        for (auto& [r, data] : guest_receive(from)) {
            if (r.type == EMBER_NET_DATA && r.stream == stream) got += data;
        }
        from = rx()->head;
        // Credit back for what arrived, as the guest kernel does.
        if (got.size() > credited) {
            guest_send(EMBER_NET_WINDOW, stream, static_cast<uint32_t>(got.size() - credited));
            credited = got.size();
            net.drain_tx();
        }
    }
    EXPECT_EQ(got.size(), sent.size());
    EXPECT_TRUE(got == sent) << "received bytes differ";
    EXPECT_EQ(net.stats().bytes_in, sent.size());
    close(client);
}

}  // namespace
}  // namespace ember
