// The gateway against misbehaving clients: oversize headers and bodies,
// clients that stall, garbage. It limits them and keeps serving others.
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "e2e_test.h"

namespace ember::e2e {
namespace {

class GatewayLimitsTest : public E2eTest {
  protected:
    std::vector<std::string> daemon_args() override {
        return {"--client-timeout", "700ms", "--keepalive-timeout", "700ms",
                "--max-header",     "8K",    "--max-body",          "64K"};
    }
};

TEST_F(GatewayLimitsTest, OversizeHeadersGet431AndTheGatewayStaysResponsive) {
    deploy_app("limits");
    auto r = http_request(d_->gateway_port(), "GET", "/", "",
                          {{"Host", "limits.localhost"}, {"X-Big", std::string(16 << 10, 'h')}});
    EXPECT_EQ(r.status, 431) << r.error << r.body;
    EXPECT_EQ(d_->get("limits", "/").status, 200);
}

TEST_F(GatewayLimitsTest, OversizeBodyGets413) {
    deploy_app("limits");
    auto r = http_request(d_->gateway_port(), "POST", "/", std::string(100 << 10, 'b'),
                          {{"Host", "limits.localhost"}});
    EXPECT_EQ(r.status, 413) << r.error << r.body;
    auto ok =
        http_request(d_->gateway_port(), "POST", "/", "echo me", {{"Host", "limits.localhost"}});
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body, "echo me");
}

class StalledClientsTest : public E2eTest {
  protected:
    std::vector<std::string> daemon_args() override { return {"--client-timeout", "3s"}; }
};

TEST_F(StalledClientsTest, StalledClientsAreCutOffAndOthersAreServed) {
    deploy_app("limits");
    // Ten clients that send half a request line and stop.
    std::vector<int> stalled;
    for (int i = 0; i < 10; ++i) {
        const int fd = connect_to(d_->gateway_port());
        ASSERT_GE(fd, 0);
        ASSERT_TRUE(send_all(fd, "GET /sleep/1 HTTP/1.1\r\nHost: lim"));
        stalled.push_back(fd);
    }
    auto r = d_->get("limits", "/");
    EXPECT_EQ(r.status, 200);
    EXPECT_LT(r.ms, 1500)
        << "a stalled client delayed another one (they are cut off only after 3 s)";
    // The gateway closes them after --client-timeout.
    for (int fd : stalled) {
        const std::string got = read_until_close(fd, 8000);
        EXPECT_EQ(got, "") << "expected a plain close";
        char c;
        EXPECT_EQ(::recv(fd, &c, 1, MSG_DONTWAIT), 0) << "the connection is still open";
        ::close(fd);
    }
}

TEST_F(GatewayLimitsTest, IdleKeepAliveConnectionsAreClosed) {
    deploy_app("limits");
    const int fd = connect_to(d_->gateway_port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_all(fd, "GET / HTTP/1.1\r\nHost: limits.localhost\r\n\r\n"));
    const auto t0 = std::chrono::steady_clock::now();
    const std::string got = read_until_close(fd, 5000);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ::close(fd);
    EXPECT_NE(got.find("hello from e2e_app"), std::string::npos) << got;
    EXPECT_LT(ms, 3000) << "the idle keep-alive connection stayed open";
}

TEST_F(GatewayLimitsTest, GarbageRequestsGet400) {
    const int fd = connect_to(d_->gateway_port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_all(fd, "\x01\x02 nonsense\r\n\r\n"));
    const std::string got = read_until_close(fd, 2000);
    ::close(fd);
    EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
}

size_t open_fds(pid_t pid) {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
        ++n;
    return n;
}

// Found by tests/fuzz/fuzz_gateway: Beast refuses to write a TRACE request
// with a body for the instance (it throws), which ended the connection's
// coroutine without an answer and leaked the stream pair made for it.
TEST_F(GatewayLimitsTest, TraceWithABodyGets400AndLeaksNoDescriptors) {
    deploy_app("limits");
    // The gateway runs in a helper process: count its descriptors too.
    auto fds = [&] { return open_fds(d_->pid()) + open_fds(helper_pid(d_->pid(), "gateway")); };
    const size_t before = fds();
    int answered = 0;
    std::string last;
    for (int i = 0; i < 20; ++i) {
        const int fd = connect_to(d_->gateway_port());
        ASSERT_GE(fd, 0);
        ASSERT_TRUE(send_all(fd,
                             "TRACE / HTTP/1.1\r\nHost: limits.localhost\r\nConnection: close\r\n"
                             "Content-Length: 2\r\n\r\nhi"));
        last = read_until_close(fd, 3000);
        ::close(fd);
        answered += last.rfind("HTTP/1.1 400", 0) == 0;
    }
    EXPECT_EQ(answered, 20) << last;
    EXPECT_LT(fds(), before + 10);
    EXPECT_EQ(d_->get("limits", "/").status, 200);
}

TEST_F(GatewayLimitsTest, KeepAliveClientGetsSeveralResponsesOnOneConnection) {
    deploy_app("limits");
    const int fd = connect_to(d_->gateway_port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(
        send_all(fd,
                 "GET /count HTTP/1.1\r\nHost: limits.localhost\r\n\r\n"
                 "GET /count HTTP/1.1\r\nHost: limits.localhost\r\nConnection: close\r\n\r\n"));
    const std::string got = read_until_close(fd, 3000);
    ::close(fd);
    EXPECT_NE(got.find("\r\n\r\n1\n"), std::string::npos) << got;
    EXPECT_NE(got.find("\r\n\r\n2\n"), std::string::npos) << got;
}

}  // namespace
}  // namespace ember::e2e
