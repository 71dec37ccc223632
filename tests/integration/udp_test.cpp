// udp_test.cpp - UDP through the host (examples/udp_egress.c) against a host
// UDP echo server on 127.0.0.1: the same output as a native run, egress
// denial, the per-instance bound on host UDP sockets, snapshots.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "ember_stats.h"
#include "test_env.h"

namespace ember::test {
namespace {

// Echoes every datagram back to its sender, from a thread.
class UdpEcho {
  public:
    UdpEcho() {
        fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        socklen_t len = sizeof a;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { loop(); });
    }
    ~UdpEcho() {
        stop_ = true;
        thread_.join();
        close(fd_);
    }
    std::string port() const { return std::to_string(port_); }
    int received() const { return received_; }

  private:
    void loop() {
        char buf[65536];
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 50) <= 0) continue;
            sockaddr_storage from{};
            socklen_t fl = sizeof from;
            const ssize_t n =
                recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
            if (n < 0) continue;
            ++received_;
            sendto(fd_, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), fl);
        }
    }
    int fd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> received_{0};
    std::thread thread_;
};

class UdpTest : public ::testing::TestWithParam<std::string> {
  protected:
    void SetUp() override {
        if (!kvm_available()) GTEST_SKIP() << "/dev/kvm is not available";
    }
};

TEST_P(UdpTest, EchoThroughTheHostMatchesANativeRun) {
    UdpEcho echo;
    expect_as_native({example_path(GetParam(), "udp_egress"), "echo", "127.0.0.1", echo.port()},
                     {"--allow-egress", "127.0.0.1:" + echo.port()});
}

TEST_P(UdpTest, ADestinationNoRuleAllowsIsRefusedAsTcpEgressIs) {
    // 192.0.2.0/24 is TEST-NET-1: nothing answers there, and no rule allows it.
    auto r = run_ember({"run", "--stats", "--timeout", "20s",
                        example_path(GetParam(), "udp_egress"), "--", "denied", "192.0.2.77", "9"});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.out, "recvfrom: ECONNREFUSED\n") << describe(r);
    EXPECT_EQ(parse_stats(r.err)["egress_denied"], 1) << r.err;
}

TEST_P(UdpTest, AFloodingGuestStaysWithinTheHostSocketBound) {
    UdpEcho echo;
    auto r = run_ember({"run", "--stats", "--timeout", "60s", "--allow-egress",
                        "127.0.0.1:" + echo.port(), example_path(GetParam(), "udp_egress"), "--",
                        "flood", "127.0.0.1", echo.port()});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    // EMBER_NET_MAX_DGRAM = 64 sockets have host sockets; the 65th is refused.
    EXPECT_EQ(r.out, "refused with ENOBUFS\nopened 64, refused 36, drained 1\nstill echoes: yes\n")
        << describe(r);
    auto stats = parse_stats(r.err);
    EXPECT_EQ(stats["udp_sockets_max"], 64) << r.err;
    EXPECT_GE(stats["dgrams_out"], 20000) << r.err;
    // Replies nobody read waited in the host socket's bounded buffer, not
    // in the VMM: far fewer came in than went out.
    EXPECT_LT(stats["dgrams_in"], 5000) << r.err;
}

TEST_P(UdpTest, AUdpSocketWithHostStateWorksAfterRestore) {
    UdpEcho echo;
    TempDir dir;
    const std::string snap = dir / "udp.snap";
    auto made = run_ember({"run", "--timeout", "20s", "--snapshot-out", snap, "--allow-egress",
                           "127.0.0.1:" + echo.port(), example_path(GetParam(), "udp_egress"), "--",
                           "snapshot", "127.0.0.1", echo.port()});
    ASSERT_TRUE(made.exited && made.exit_code == 0) << describe(made);
    EXPECT_EQ(made.out, "reply: before the snapshot\n");
    // The host socket is not in the snapshot: the restored instance's first
    // datagram makes a new one (another source port), and the reply comes back.
    for (int i = 0; i < 2; ++i) {
        auto r = run_ember(
            {"restore", "--timeout", "20s", "--allow-egress", "127.0.0.1:" + echo.port(), snap});
        ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
        EXPECT_EQ(r.out, "reply: after the snapshot\n");
    }
}

INSTANTIATE_TEST_SUITE_P(Libc, UdpTest, ::testing::Values("gcc", "musl"));

}  // namespace
}  // namespace ember::test
