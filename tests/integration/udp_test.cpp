// udp_test.cpp - UDP through the host (examples/udp_egress.c) against a host
// UDP echo server on 127.0.0.1: the same output as a native run, egress
// denial, the per-instance bound on host UDP sockets, snapshots, and the
// guest's DNS resolver that the VMM answers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "ember_stats.h"
#include "test_env.h"

namespace ember::test {
namespace {

// Echoes every datagram back to its sender, from a thread.
class UdpEcho {
  public:
    // On 127.0.0.1, or on ::1 with v6 (ok() is false when the host has no ::1).
    explicit UdpEcho(bool v6 = false) {
        sockaddr_storage ss{};
        socklen_t len;
        if (v6) {
            auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
            a->sin6_family = AF_INET6;
            a->sin6_addr = in6addr_loopback;
            len = sizeof *a;
        } else {
            auto* a = reinterpret_cast<sockaddr_in*>(&ss);
            a->sin_family = AF_INET;
            a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            len = sizeof *a;
        }
        fd_ = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ok_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) == 0;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
        port_ = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);  // same offset in both
        thread_ = std::thread([this] { loop(); });
    }
    bool ok() const { return ok_; }
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
    bool ok_ = false;
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

TEST_P(UdpTest, EchoOverIpv6MatchesANativeRun) {
    UdpEcho echo(true);
    if (!echo.ok()) GTEST_SKIP() << "the host has no ::1";
    expect_as_native({example_path(GetParam(), "udp_egress"), "echo", "::1", echo.port()},
                     {"--allow-egress", "[::1]:" + echo.port()});
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

// ---- DNS: the default /etc/resolv.conf names the VMM's resolver ------------------------

TEST_P(UdpTest, ANameTheEgressPolicyAllowsResolvesThroughTheVmm) {
    UdpEcho echo;
    // The tree's /etc/hosts lacks localhost: only the VMM's resolver knows it.
    TempDir root;
    write_file(root / "etc/hosts", "127.0.0.1 other-name\n");
    auto r =
        run_ember({"run", "--stats", "--timeout", "20s", "--rootfs", root.path(), "--allow-egress",
                   "localhost:" + echo.port(), example_path(GetParam(), "udp_egress"), "--",
                   "resolve", "localhost", "nothere.invalid"});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_EQ(r.out.rfind("localhost: 127.0.0.1\n", 0), 0u) << describe(r);
    // Not a name the policy allows: NXDOMAIN, which getaddrinfo reports so.
    EXPECT_NE(r.out.find("nothere.invalid: EAI_NONAME\n"), std::string::npos) << describe(r);
    EXPECT_GE(parse_stats(r.err)["dns_queries"], 2) << r.err;
    // Without a root filesystem: the name resolves the same way, and the
    // datagrams reach the host's echo server as from a native run.
    expect_as_native({example_path(GetParam(), "udp_egress"), "echo", "localhost", echo.port()},
                     {"--allow-egress", "localhost:" + echo.port()});
}

TEST_P(UdpTest, TheRootFilesystemsOwnResolvConfIsKept) {
    TempDir root;
    write_file(root / "etc/resolv.conf", "nameserver 192.0.2.53\n");
    auto r = run_ember({"run", "--timeout", "20s", "--rootfs", root.path(), "/bin/busybox", "--",
                        "cat", "/etc/resolv.conf"});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_EQ(r.out, "nameserver 192.0.2.53\n");
    // An empty one (as `docker export` writes) is replaced by the default.
    write_file(root / "etc/resolv.conf", "");
    r = run_ember({"run", "--timeout", "20s", "--rootfs", root.path(), "/bin/busybox", "--", "cat",
                   "/etc/resolv.conf"});
    EXPECT_NE(r.out.find("nameserver 169.254.0.53\n"), std::string::npos) << describe(r);
}

INSTANTIATE_TEST_SUITE_P(Libc, UdpTest, ::testing::Values("gcc", "musl"));

class DnsProgramsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!kvm_available()) GTEST_SKIP() << "/dev/kvm is not available";
    }
};

TEST_F(DnsProgramsTest, BusyboxNslookupAsksTheVmmResolver) {
    auto r = run_ember({"run", "--timeout", "20s", "--allow-egress", "localhost:53", busybox_path(),
                        "--", "nslookup", "localhost"});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_NE(r.out.find("Server:\t\t169.254.0.53\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Name:\tlocalhost\nAddress: 127.0.0.1\n"), std::string::npos) << r.out;
    r = run_ember({"run", "--timeout", "20s", "--allow-egress", "localhost:53", busybox_path(),
                   "--", "nslookup", "evil.example"});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_NE(r.out.find("can't find evil.example: NXDOMAIN"), std::string::npos) << r.out;
}

// Debian's python3 (dynamic glibc, whose resolver reads /etc/resolv.conf):
// socket.getaddrinfo of an allowed name, then UDP to the host.
TEST_F(DnsProgramsTest, Python3ResolvesAnAllowedNameAndTalksUdpToTheHost) {
    const std::string py = "/usr/bin/python3";
    if (access(py.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << py;
    UdpEcho echo;
    TempDir root;
    const std::string copy =
        "set -e; cd '" + root.path() + "'; mkdir -p usr/bin usr/lib etc; cp -L " + py +
        " usr/bin/python3; for l in $(ldd " + py +
        " | grep -o '/[^ ]*'); do mkdir -p .$(dirname $l); cp -L $l .$l; done; " + "v=$(" + py +
        " -c 'import sys; print(\"python%d.%d\" % sys.version_info[:2])'); " +
        "cp -a /usr/lib/$v usr/lib/; rm -rf usr/lib/$v/test usr/lib/$v/idlelib "
        "usr/lib/$v/tkinter usr/lib/$v/ensurepip usr/lib/$v/lib2to3";
    ASSERT_EQ(std::system(copy.c_str()), 0);
    write_file(root / "etc/hosts", "127.0.0.1 other-name\n");
    write_file(root / "t.py", R"(
import socket, sys
port = int(sys.argv[1])
print(sorted({a[4][0] for a in socket.getaddrinfo("localhost", port, socket.AF_INET)}))
try:
    socket.getaddrinfo("nothere.invalid", 80)
except socket.gaierror as e:
    print("nothere.invalid:", e.errno == socket.EAI_NONAME)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(1)
for _ in range(5):  # UDP: a loaded host's loopback may drop one
    u.sendto(b"from python", ("localhost", port))
    try:
        print(u.recvfrom(100)[0])
        break
    except socket.timeout:
        pass
)");
    auto r = run_ember({"run", "--timeout", "60s", "--mem", "256M", "--rootfs", root.path(),
                        "--allow-egress", "localhost:" + echo.port(), root / "usr/bin/python3",
                        "--", "/t.py", echo.port()});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.out, "['127.0.0.1']\nnothere.invalid: True\nb'from python'\n") << describe(r);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
}

}  // namespace
}  // namespace ember::test
