// Scaling: concurrency per instance forces scale-out, the bounded queue
// overflows into 503s, per-request isolation, and client disconnects.
#include <unistd.h>

#include <future>
#include <set>

#include "e2e_test.h"

namespace ember::e2e {
namespace {

using nlohmann::json;

TEST_F(E2eTest, ConcurrencyLimitForcesScaleOut) {
    deploy_app("wide", {{"concurrency", 1}, {"max_instances", 4}, {"idle_timeout_ms", 5000}});
    std::vector<std::future<HttpResponse>> rs;
    for (int i = 0; i < 4; ++i)
        rs.push_back(std::async(std::launch::async, [&] { return d_->get("wide", "/sleep/500"); }));
    std::set<std::string> ids;
    for (auto& f : rs) {
        auto r = f.get();
        ASSERT_EQ(r.status, 200) << r.error << r.body;
        ids.insert(r.header("x-ember-instance"));
    }
    EXPECT_EQ(ids.size(), 4u) << "4 requests at concurrency 1 need 4 instances";
    EXPECT_EQ(d_->instances("wide").size(), 4u);
}

TEST_F(E2eTest, ConcurrentRequestsShareAnInstanceUpToItsConcurrency) {
    deploy_app("shared", {{"concurrency", 4}, {"max_instances", 4}, {"idle_timeout_ms", 5000}});
    ASSERT_EQ(d_->get("shared", "/").status, 200);  // one warm instance
    std::vector<std::future<HttpResponse>> rs;
    for (int i = 0; i < 4; ++i)
        rs.push_back(
            std::async(std::launch::async, [&] { return d_->get("shared", "/sleep/300"); }));
    std::set<std::string> ids;
    for (auto& f : rs) {
        auto r = f.get();
        ASSERT_EQ(r.status, 200) << r.error << r.body;
        ids.insert(r.header("x-ember-instance"));
    }
    EXPECT_EQ(ids.size(), 1u) << "4 requests fit in one instance of concurrency 4";
}

TEST_F(E2eTest, QueueOverflowGives503WithRetryAfter) {
    deploy_app("narrow", {{"concurrency", 1},
                          {"max_instances", 1},
                          {"queue_size", 1},
                          {"queue_timeout_ms", 300},
                          {"idle_timeout_ms", 5000}});
    auto busy = std::async(std::launch::async, [&] { return d_->get("narrow", "/sleep/1500"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto queued = std::async(std::launch::async, [&] { return d_->get("narrow", "/"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto overflow = d_->get("narrow", "/");  // the queue (1) is full
    EXPECT_EQ(overflow.status, 503) << overflow.body;
    EXPECT_EQ(overflow.header("retry-after"), "1");
    EXPECT_NE(overflow.body.find("capacity"), std::string::npos) << overflow.body;
    auto q = queued.get();  // waited 300 ms in the queue, then gave up
    EXPECT_EQ(q.status, 503) << q.body;
    EXPECT_EQ(q.header("retry-after"), "1");
    EXPECT_LT(q.ms, 1200) << "the queue deadline was not applied";
    EXPECT_EQ(busy.get().status, 200);
    // Once free, the service serves again.
    EXPECT_EQ(d_->get("narrow", "/").status, 200);
}

TEST_F(E2eTest, QueuedRequestIsServedWhenAnInstanceFrees) {
    deploy_app("patient", {{"concurrency", 1}, {"max_instances", 1}, {"queue_timeout_ms", 5000}});
    auto busy = std::async(std::launch::async, [&] { return d_->get("patient", "/sleep/400"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto r = d_->get("patient", "/count");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_GT(
        std::stod(
            r.header("server-timing").substr(r.header("server-timing").find("queue;dur=") + 10)),
        100.0)
        << "it should have waited in the queue: " << r.header("server-timing");
    EXPECT_EQ(busy.get().status, 200);
}

TEST_F(E2eTest, RequestIsolationLeaksNoStateBetweenRequests) {
    deploy_app("isolated", {{"isolation", "request"}});
    std::set<std::string> ids;
    for (int i = 0; i < 4; ++i) {
        auto r = d_->get("isolated", "/count");
        ASSERT_EQ(r.status, 200) << r.error << r.body;
        EXPECT_EQ(r.body, "1\n") << "request " << i << " saw state from an earlier request";
        EXPECT_TRUE(is_cold(r));
        ids.insert(r.header("x-ember-instance"));
    }
    EXPECT_EQ(ids.size(), 4u);
    ASSERT_TRUE(eventually([&] { return d_->instances("isolated").empty(); }, 3000))
        << "per-request instances must be discarded: " << d_->instances("isolated").dump();
}

TEST_F(E2eTest, RequestIsolationWithSpareInstancesLeaksNoState) {
    deploy_app("spared",
               {{"isolation", "request"}, {"spare_instances", 1}, {"idle_timeout_ms", 2000}});
    std::set<std::string> ids;
    int warm_starts = 0;
    for (int i = 0; i < 5; ++i) {
        auto r = d_->get("spared", "/count");
        ASSERT_EQ(r.status, 200) << r.error << r.body;
        EXPECT_EQ(r.body, "1\n") << "request " << i << " saw state from an earlier request";
        ids.insert(r.header("x-ember-instance"));
        if (!is_cold(r)) ++warm_starts;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // time for the next spare
    }
    EXPECT_EQ(ids.size(), 5u);
    EXPECT_GE(warm_starts, 3) << "the spares should have been ready";
}

TEST_F(E2eTest, InstanceIsolationKeepsStateBetweenRequests) {
    // The counterpart of the test above: the same program does keep state
    // when instances are reused, so the isolation test can fail.
    deploy_app("reused", {{"idle_timeout_ms", 5000}});
    EXPECT_EQ(d_->get("reused", "/count").body, "1\n");
    EXPECT_EQ(d_->get("reused", "/count").body, "2\n");
}

TEST_F(E2eTest, ClientDisconnectFreesTheInstanceSlot) {
    deploy_app("slot", {{"concurrency", 1}, {"max_instances", 1}, {"queue_timeout_ms", 8000}});
    ASSERT_EQ(d_->get("slot", "/").status, 200);
    const int fd = connect_to(d_->gateway_port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_all(fd, "GET /sleep/6000 HTTP/1.1\r\nHost: slot.localhost\r\n\r\n"));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ::close(fd);  // gone while its request runs
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto r = d_->get("slot", "/");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_LT(r.ms, 3000) << "the next request waited for the abandoned one";
}

}  // namespace
}  // namespace ember::e2e
