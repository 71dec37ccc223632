// UDP and DNS for services (docs/security.md "The egress policy covers TCP,
// UDP and DNS"): emberd resolves the names a service's egress rules allow
// and passes the table to its VM worker, whose VMs answer the guest's DNS
// queries from it; other names are NXDOMAIN. UDP goes through sockets
// emberd checks and connects to one allowed destination each. The guest
// program is examples/udp_egress.c; a deploy of a program that exits fails
// with 422 and its console output, which is what these tests read.
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "e2e_test.h"

namespace ember::e2e {
namespace {

using nlohmann::json;

// Echoes every datagram back to its sender (on 127.0.0.1), from a thread.
class UdpEcho {
  public:
    UdpEcho() {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        bind(fd_, reinterpret_cast<sockaddr*>(&a), len);
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] {
            char buf[65536];
            while (!stop_) {
                pollfd p{fd_, POLLIN, 0};
                if (poll(&p, 1, 50) != 1) continue;
                sockaddr_storage from{};
                socklen_t fl = sizeof from;
                const ssize_t n =
                    recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
                if (n >= 0)
                    sendto(fd_, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from),
                           fl);
            }
        });
    }
    ~UdpEcho() {
        stop_ = true;
        thread_.join();
        close(fd_);
    }
    std::string port() const { return std::to_string(port_); }

  private:
    int fd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// The deploy's error message: it ends with the program's output.
std::string message_of(const HttpResponse& r) {
    auto j = json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("error")) return r.body;
    return j["error"].value("message", r.body);
}

class EgressUdpTest : public E2eTest {
  protected:
    // An /etc/hosts without localhost: only the worker's resolver knows it.
    std::string hosts_without_localhost() {
        const std::string path = tmp_.path() + "/hosts";
        FILE* f = std::fopen(path.c_str(), "w");
        std::fputs("127.0.0.1 other-name\n", f);
        std::fclose(f);
        return d_->upload(path);
    }
};

TEST_F(EgressUdpTest, AServiceResolvesTheNamesItsEgressRulesAllow) {
    const std::string hosts = hosts_without_localhost();
    ASSERT_FALSE(hosts.empty());
    auto r = d_->deploy("resolver", example_path("udp_egress"),
                        {{"args", {"resolve", "localhost", "nothere.invalid"}},
                         {"egress", {"localhost:9"}},
                         {"files", {{{"path", "/etc/hosts"}, {"image", hosts}}}}});
    EXPECT_EQ(r.status, 422) << "udp_egress exits: " << r.body;
    EXPECT_NE(message_of(r).find("localhost: 127.0.0.1"), std::string::npos) << r.body;
    // Not a name the policy allows: NXDOMAIN, which getaddrinfo reports so.
    EXPECT_NE(message_of(r).find("nothere.invalid: EAI_NONAME"), std::string::npos) << r.body;
}

TEST_F(EgressUdpTest, AServiceWithoutEgressRulesResolvesNothing) {
    const std::string hosts = hosts_without_localhost();
    ASSERT_FALSE(hosts.empty());
    auto r = d_->deploy("resolver", example_path("udp_egress"),
                        {{"args", {"resolve", "localhost"}},
                         {"files", {{{"path", "/etc/hosts"}, {"image", hosts}}}}});
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_EQ(message_of(r).find("localhost: 127.0.0.1"), std::string::npos) << r.body;
    EXPECT_NE(message_of(r).find("localhost: EAI_"), std::string::npos) << r.body;
}

// A restored instance (not only the boot) resolves through its worker's
// resolver: the table travels with the prepared snapshot.
TEST_F(EgressUdpTest, ARestoredInstanceResolvesTheAllowedNames) {
    const std::string hosts = hosts_without_localhost();
    ASSERT_FALSE(hosts.empty());
    deploy_app("web", {{"egress", {"localhost:9"}},
                       {"files", {{{"path", "/etc/hosts"}, {"image", hosts}}}}});
    auto r = d_->get("web", "/resolve/localhost");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "127.0.0.1\n");
    r = d_->get("web", "/resolve/nothere.invalid");
    EXPECT_EQ(r.status, 404) << r.body;
}

// The name resolves through the worker's resolver, and every way of sending
// (sendto, connect+send, sendmmsg) reaches the host's echo server and back,
// as in a native run of the same program.
TEST_F(EgressUdpTest, AServiceExchangesUdpWithAnAllowedHostServer) {
    UdpEcho echo;
    const std::string hosts = hosts_without_localhost();
    ASSERT_FALSE(hosts.empty());
    auto r = d_->deploy("udp", example_path("udp_egress"),
                        {{"args", {"echo", "localhost", echo.port()}},
                         {"egress", {"localhost:" + echo.port()}},
                         {"files", {{{"path", "/etc/hosts"}, {"image", hosts}}}}});
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_NE(message_of(r).find("reply: sendto one\nreply: sendto two\nrecv: connected\n"
                                 "recvmmsg: mm-a\nrecvmmsg: mm-b\nrecvmmsg: mm-c\n"),
              std::string::npos)
        << r.body;
}

TEST_F(EgressUdpTest, AnAddressNoRuleAllowsIsRefused) {
    UdpEcho echo;
    // 192.0.2.0/24 is TEST-NET-1: nothing answers there, and no rule allows
    // it (the one rule allows the echo server). emberd refuses the socket.
    auto r = d_->deploy(
        "udp", example_path("udp_egress"),
        {{"args", {"denied", "192.0.2.77", "9"}}, {"egress", {"127.0.0.1:" + echo.port()}}});
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_NE(message_of(r).find("recvfrom: ECONNREFUSED"), std::string::npos) << r.body;
}

// EMBER_NET_MAX_DGRAM (64) host sockets per instance, whatever the guest
// opens; replies nobody reads wait in the host sockets' bounded buffers.
TEST_F(EgressUdpTest, AFloodingServiceStaysWithinTheHostSocketBound) {
    UdpEcho echo;
    auto r = d_->deploy(
        "udp", example_path("udp_egress"),
        {{"args", {"flood", "127.0.0.1", echo.port()}}, {"egress", {"127.0.0.1:" + echo.port()}}});
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_NE(message_of(r).find("refused with ENOBUFS\nopened 64, refused 36, drained 1\n"
                                 "still echoes: yes\n"),
              std::string::npos)
        << r.body;
}

}  // namespace
}  // namespace ember::e2e
