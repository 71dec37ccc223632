// Kept-alive streams from the gateway to instances (gateway_pool.h):
// sequential requests share one stream into the guest; servers that close
// after a response, responses cut short and per-request isolation get new
// streams; a server that serves one connection at a time still gets every
// request. Streams are counted by the gateway's
// ember_gateway_upstream_streams_total{stream="new"|"reused"}.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>

#include "e2e_test.h"

namespace ember::e2e {
namespace {

class KeepAliveTest : public E2eTest {
  protected:
    // The gateway's count of streams of that kind ("new", "reused") so far.
    double streams(const std::string& kind) {
        const std::string m = d_->api("GET", "/metrics").body;
        const std::string series = "ember_gateway_upstream_streams_total{stream=\"" + kind + "\"}";
        const auto at = m.find("\n" + series + " ");
        if (at == std::string::npos) return 0;
        return std::stod(m.substr(at + series.size() + 2));
    }
    void deploy(const std::string& name, const std::string& example, nlohmann::json extra = {}) {
        auto r = d_->deploy(name, example_path(example), std::move(extra));
        ASSERT_TRUE(r.status == 200 || r.status == 201) << r.status << " " << r.body << r.error;
    }
};

TEST_F(KeepAliveTest, SequentialRequestsShareOneStreamIntoTheInstance) {
    deploy("ka", "http_epoll");
    auto first = d_->get("ka", "/");
    ASSERT_EQ(first.status, 200) << first.body;
    const double new0 = streams("new"), reused0 = streams("reused");
    for (int i = 0; i < 30; ++i) {
        auto r = d_->get("ka", "/");
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.body, "Hello from Ember!\n");
        EXPECT_EQ(r.header("x-ember-instance"), first.header("x-ember-instance"));
    }
    EXPECT_EQ(streams("new"), new0);
    EXPECT_EQ(streams("reused"), reused0 + 30);
}

TEST_F(KeepAliveTest, ServerThatClosesAfterEachResponseGetsANewStreamEachTime) {
    deploy_app("closing");  // e2e_app answers with Connection: close
    for (int i = 0; i < 10; ++i) {
        auto r = d_->get("closing", "/");
        ASSERT_EQ(r.status, 200) << r.body;
    }
    EXPECT_EQ(streams("reused"), 0);
    EXPECT_EQ(streams("new"), 10);
}

TEST_F(KeepAliveTest, ResponseCutShortOrTooLargeDoesNotPoisonThePool) {
    deploy("ka", "http_epoll", {{"concurrency", 1}, {"max_instances", 1}});
    ASSERT_EQ(d_->get("ka", "/").status, 200);
    // A client that leaves in the middle of a streamed 8 MiB body: the rest
    // of that body must never reach another request.
    const int fd = connect_to(d_->gateway_port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_all(fd, "GET /size/8388608 HTTP/1.1\r\nHost: ka.localhost\r\n\r\n"));
    char buf[4096];
    ASSERT_GT(::recv(fd, buf, sizeof buf, 0), 0);
    ::close(fd);
    // A 404 and an empty body keep the stream usable.
    for (const char* path : {"/nothing-here", "/size/0"}) {
        auto r = d_->get("ka", path);
        EXPECT_TRUE(r.status == 404 || r.status == 200) << r.status;
    }
    for (int i = 0; i < 20; ++i) {
        auto r = d_->get("ka", "/");
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.body, "Hello from Ember!\n") << "request " << i;
        auto s = d_->get("ka", "/size/100");
        ASSERT_EQ(s.status, 200) << s.body;
        EXPECT_EQ(s.body.size(), 100u);
        EXPECT_EQ(s.body.substr(0, 3), "abc");
    }
    EXPECT_GT(streams("reused"), 20);
}

TEST_F(KeepAliveTest, PerRequestIsolationNeverReusesAStream) {
    deploy("iso", "http_epoll", {{"isolation", "request"}});
    std::set<std::string> instances;
    for (int i = 0; i < 5; ++i) {
        auto r = d_->get("iso", "/");
        ASSERT_EQ(r.status, 200) << r.body;
        instances.insert(r.header("x-ember-instance"));
    }
    EXPECT_EQ(instances.size(), 5u);
    EXPECT_EQ(streams("reused"), 0);
}

// counter serves one connection at a time: while the gateway keeps a stream
// to it open, it never accepts another one. Concurrent requests still all
// get their answer (the gateway stops keeping streams to it).
TEST_F(KeepAliveTest, OneConnectionAtATimeServerAnswersConcurrentRequests) {
    deploy("one", "counter", {{"concurrency", 4}, {"max_instances", 1}, {"timeout_ms", 20000}});
    ASSERT_EQ(d_->get("one", "/").status, 200);
    std::atomic<int> ok{0};
    std::vector<std::thread> clients;
    const auto t0 = std::chrono::steady_clock::now();
    for (int c = 0; c < 4; ++c)
        clients.emplace_back([&] {
            for (int i = 0; i < 10; ++i)
                if (d_->get("one", "/", 20000).status == 200) ++ok;
        });
    for (auto& t : clients) t.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(ok.load(), 40);
    EXPECT_LT(s, 10.0);
    EXPECT_EQ(d_->get("one", "/").body, "count 42\n");
}

}  // namespace
}  // namespace ember::e2e
