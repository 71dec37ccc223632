// net_udp_host_test.cpp - UDP sockets carried by the host (src/kernel/net/
// udp_host.cpp) against the fake VMM: the DGRAM records a send makes,
// replies and refusals from the host, the cap on host sockets, close.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include "net_test_util.h"

namespace nettest {
namespace {

using fstest::P;

// The one DGRAM record sent so far: its id, destination and bytes.
struct Sent {
    uint32_t id = 0;
    ember_net_addr to{};
    std::string bytes;
};

class UdpHostTest : public NetTest {
  protected:
    static int64_t udp4() { return sys(SYS_socket, AF_INET, SOCK_DGRAM, 0); }
    static int64_t sendto4(int64_t fd, const std::string& s, uint32_t ip, uint16_t port) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(ip);
        return sys(SYS_sendto, static_cast<uint64_t>(fd), P(s.data()), s.size(), 0, P(&a),
                   sizeof a);
    }
    static Sent only_dgram() {
        host().drain();
        auto recs = host().sent_of(EMBER_NET_DGRAM);
        EXPECT_EQ(recs.size(), 1u);
        Sent s;
        if (recs.empty() || recs[0].data.size() < sizeof(ember_net_addr)) return s;
        s.id = recs[0].stream;
        memcpy(&s.to, recs[0].data.data(), sizeof s.to);
        s.bytes = recs[0].data.substr(sizeof(ember_net_addr));
        return s;
    }
};

TEST_F(UdpHostTest, ADatagramOutsideTheInstanceIsOneRecordWithItsDestination) {
    int64_t fd = udp4();
    ASSERT_GE(fd, 0);
    EXPECT_EQ(sendto4(fd, "query", 0xc0000201, 53), 5);  // 192.0.2.1:53
    Sent s = only_dgram();
    EXPECT_GT(s.id, 0u);
    EXPECT_LT(s.id, EMBER_NET_HOST_ID);
    EXPECT_EQ(s.to.family, EMBER_NET_AF_INET);
    EXPECT_EQ(s.to.port, 53);
    EXPECT_EQ(s.to.addr[0], 192);
    EXPECT_EQ(s.to.addr[3], 1);
    EXPECT_EQ(s.bytes, "query");
    // Larger than a record can carry: EMSGSIZE, nothing sent.
    host().clear_sent();
    std::string big(EMBER_NET_DGRAM_MAX + 1, 'x');
    EXPECT_EQ(sendto4(fd, big, 0xc0000201, 53), -EMSGSIZE);
    host().drain();
    EXPECT_TRUE(host().sent_of(EMBER_NET_DGRAM).empty());
}

TEST_F(UdpHostTest, AReplyFromTheHostWakesABlockedRecvfromWithItsSource) {
    int64_t fd = udp4();
    ASSERT_EQ(sendto4(fd, "ping", 0xc0000201, 7), 4);
    const uint32_t id = only_dgram().id;
    host().later(EMBER_NET_DGRAM, id, 0, addr4(192, 0, 2, 1, 7) + "pong");
    char buf[16] = {};
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    EXPECT_EQ(sys(SYS_recvfrom, static_cast<uint64_t>(fd), P(buf), sizeof buf, 0, P(&from), P(&fl)),
              4);
    EXPECT_EQ(std::string(buf), "pong");
    EXPECT_EQ(ntohs(from.sin_port), 7);
    EXPECT_EQ(ntohl(from.sin_addr.s_addr), 0xc0000201u);
    EXPECT_TRUE(host().last_events & EMBER_WAIT_NET);
    // poll sees the next one.
    ASSERT_TRUE(host().push(EMBER_NET_DGRAM, id, 0, addr4(192, 0, 2, 1, 7) + "again"));
    EXPECT_TRUE(poll1(fd, POLLIN) & POLLIN);
}

TEST_F(UdpHostTest, ARefusalIsReportedByTheNextCallAsEconnrefused) {
    int64_t fd = udp4();
    ASSERT_EQ(sendto4(fd, "x", 0xc0000202, 9), 1);
    const uint32_t id = only_dgram().id;
    ASSERT_TRUE(host().push(EMBER_NET_DGRAM_ERROR, id, ECONNREFUSED, addr4(192, 0, 2, 2, 9)));
    EXPECT_TRUE(poll1(fd, POLLIN) & POLLERR);
    EXPECT_EQ(errno_of(recv(fd, 8, MSG_DONTWAIT)), -ECONNREFUSED);
    EXPECT_EQ(errno_of(recv(fd, 8, MSG_DONTWAIT)), -EAGAIN);  // reported once
}

TEST_F(UdpHostTest, RecordsForNoSocketOrIdZeroAreIgnored) {
    int64_t fd = udp4();  // no host id yet
    ASSERT_TRUE(host().push(EMBER_NET_DGRAM, 0, 0, addr4(192, 0, 2, 1, 7) + "stray"));
    ASSERT_TRUE(host().push(EMBER_NET_DGRAM, 999, 0, addr4(192, 0, 2, 1, 7) + "stray"));
    ASSERT_TRUE(host().push(EMBER_NET_DGRAM, 1, 0, "short"));
    EXPECT_EQ(poll1(fd, POLLIN), 0u);
}

TEST_F(UdpHostTest, OnlyMaxDgramSocketsGetHostIdsAndCloseGivesThemBack) {
    std::vector<int64_t> fds;
    for (uint32_t i = 0; i < EMBER_NET_MAX_DGRAM; ++i) {
        fds.push_back(udp4());
        ASSERT_EQ(sendto4(fds.back(), "x", 0xc0000201, 7), 1) << i;
    }
    int64_t extra = udp4();
    EXPECT_EQ(sendto4(extra, "x", 0xc0000201, 7), -ENOBUFS);
    host().clear_sent();
    ASSERT_EQ(sys(SYS_close, static_cast<uint64_t>(fds[0])), 0);
    host().drain();
    EXPECT_EQ(host().sent_of(EMBER_NET_DGRAM_CLOSE).size(), 1u);
    EXPECT_EQ(sendto4(extra, "x", 0xc0000201, 7), 1);
}

TEST_F(UdpHostTest, ALoopbackDatagramWithNoLocalReceiverGoesToTheHost) {
    int64_t fd = udp4();
    ASSERT_EQ(sendto4(fd, "hi", 0x7f000001, 5353), 2);
    Sent s = only_dgram();
    EXPECT_EQ(s.to.addr[0], 127);
    EXPECT_EQ(s.to.port, 5353);
    // The host refuses it: an unconnected socket hears nothing (as Linux
    // ignores ICMP errors for it).
    ASSERT_TRUE(host().push(EMBER_NET_DGRAM_ERROR, s.id, ECONNREFUSED, addr4(127, 0, 0, 1, 5353)));
    EXPECT_EQ(errno_of(recv(fd, 8, MSG_DONTWAIT)), -EAGAIN);
}

}  // namespace
}  // namespace nettest
