// Cluster mode end to end, forwarding and cluster-wide min/max: a node
// that cannot serve a request (its share of max is 0, or busy) forwards it
// to a peer; a killed node's share of min starts on the others; a rolling
// redeploy under load fails no request.
#include <atomic>
#include <chrono>
#include <thread>

#include "cluster_fixture.h"

namespace ember::e2e {
namespace {

using Clock = std::chrono::steady_clock;

// Requests in a loop through the given nodes until stopped; counts them.
class Load {
  public:
    Load(std::vector<EmberdProcess*> nodes, const std::string& service, const std::string& path) {
        for (EmberdProcess* n : nodes)
            threads_.emplace_back([this, n, service, path] {
                while (!done_.load()) {
                    auto r = n->get(service, path, 10000);
                    (r.status == 200 ? ok_ : failed_)++;
                    if (r.status != 200 && first_error_.empty())
                        first_error_ = std::to_string(r.status) + " " + r.body;
                }
            });
    }
    ~Load() { stop(); }
    void stop() {
        done_ = true;
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }
    int ok() const { return ok_.load(); }
    int failed() const { return failed_.load(); }
    const std::string& first_error() const { return first_error_; }

  private:
    std::atomic<bool> done_{false};
    std::atomic<int> ok_{0}, failed_{0};
    std::string first_error_;
    std::vector<std::thread> threads_;
};

TEST_F(ClusterTest, ANodeWithoutAShareOfMaxForwardsToThePeerThatHasIt) {
    // max 1 over n0, n1, n2: n0 (first by name) runs the one instance.
    auto r = nodes_[1]->deploy("hello", e2e_app_path(), {{"max_instances", 1}});
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.status << r.body;
    ASSERT_TRUE(served_everywhere("hello", 10000));
    for (int i = 0; i < kNodes; ++i) {
        auto g = nodes_[i]->get("hello", "/");
        EXPECT_EQ(g.status, 200) << g.body;
        EXPECT_EQ(g.body, "hello from e2e_app\n");
        // Served by n0: locally there, forwarded from the others.
        EXPECT_EQ(g.header("x-ember-node"), i == 0 ? "" : "n0") << "through n" << i;
    }
    EXPECT_EQ(instances_on(1, "hello"), 0);
    EXPECT_EQ(instances_on(2, "hello"), 0);
    // The spec shows the cluster-wide values on every node.
    auto s = nlohmann::json::parse(nodes_[2]->api("GET", "/v1/services/hello").body);
    EXPECT_EQ(s["max_instances"], 1);
    // A POST body and path routing make it through the hop.
    auto post = http_request(nodes_[2]->gateway_port(), "POST", "/hello/echo?x=1", "a body");
    EXPECT_EQ(post.status, 200);
    EXPECT_EQ(post.body, "a body");
    EXPECT_EQ(post.header("x-ember-node"), "n0");
    // The forward endpoint takes the cluster token only (not the API token).
    auto bad = http_request(nodes_[0]->api_port(), "GET", "/v1/cluster/forward/hello/", "",
                            {{"Authorization", "Bearer " + nodes_[0]->token()},
                             {"X-Ember-Cluster-Auth", "Bearer " + nodes_[0]->token()}});
    EXPECT_EQ(bad.status, 401) << bad.body;
    auto m = nodes_[2]->api("GET", "/metrics");
    EXPECT_NE(m.body.find("ember_forwarded_requests_total{"), std::string::npos) << m.body;
    EXPECT_NE(m.body.find("direction=\"out\""), std::string::npos);
}

TEST_F(ClusterTest, ABusyNodeForwardsToAPeerWithCapacity) {
    // One request at a time per instance, one instance per node.
    auto r = nodes_[0]->deploy("slow", e2e_app_path(), {{"max_instances", 3}, {"concurrency", 1}});
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.status << r.body;
    ASSERT_TRUE(served_everywhere("slow", 10000));
    // n0's instance is busy with the first request: the second goes to a peer.
    std::thread first([&] { EXPECT_EQ(nodes_[0]->get("slow", "/sleep/1500").status, 200); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto g = nodes_[0]->get("slow", "/sleep/10");
    first.join();
    EXPECT_EQ(g.status, 200) << g.body;
    EXPECT_TRUE(g.header("x-ember-node") == "n1" || g.header("x-ember-node") == "n2")
        << "served by '" << g.header("x-ember-node") << "'";
}

TEST_F(ClusterTest, AKilledNodesShareOfMinStartsElsewhereWithin5s) {
    // min 3 over three nodes: one instance each.
    auto r = nodes_[0]->deploy("hello", e2e_app_path(), {{"min_instances", 3}});
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.status << r.body;
    ASSERT_TRUE(eventually(
        [&] {
            for (int i = 0; i < kNodes; ++i)
                if (instances_on(i, "hello") != 1) return false;
            return true;
        },
        15000));
    // ember status on any node shows which node runs what.
    auto cli = run_cli(*nodes_[1], {"status", "hello"});
    EXPECT_EQ(cli.status, 0) << cli.err;
    EXPECT_NE(cli.out.find("3 running (n0 1, n1 1, n2 1)"), std::string::npos) << cli.out;
    EXPECT_NE(cli.out.find("NODE"), std::string::npos) << cli.out;
    Load load({nodes_[0].get(), nodes_[1].get()}, "hello", "/");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    nodes_[2]->kill9();
    const auto killed = Clock::now();
    // Its lease (--node-ttl 2s) expires; n0 and n1 then split min 3 as 2 + 1.
    EXPECT_TRUE(eventually([&] { return instances_on(0, "hello") + instances_on(1, "hello") == 3; },
                           10000));
    const double s = std::chrono::duration<double>(Clock::now() - killed).count();
    EXPECT_LT(s, 2.0 + 5.0) << "from kill -9 to the min instances elsewhere";
    std::fprintf(stderr, "kill -9 to min instances on the others: %.2f s (lease 2 s)\n", s);
    load.stop();
    EXPECT_EQ(load.failed(), 0) << load.first_error();
    EXPECT_GT(load.ok(), 10);
}

TEST_F(ClusterTest, ARollingRedeployUnderLoadFailsNoRequest) {
    auto r = nodes_[0]->deploy("hello", e2e_app_path(), {{"env", {{"GEN", "1"}}}});
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.status << r.body;
    ASSERT_TRUE(served_everywhere("hello", 10000));
    Load load({nodes_[0].get(), nodes_[1].get(), nodes_[2].get()}, "hello", "/env/GEN");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    r = nodes_[1]->deploy("hello", e2e_app_path(), {{"env", {{"GEN", "2"}}}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(eventually(
        [&] {
            for (auto& n : nodes_)
                if (n->get("hello", "/env/GEN").body != "2\n") return false;
            return true;
        },
        15000));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    load.stop();
    EXPECT_EQ(load.failed(), 0) << load.first_error();
    EXPECT_GT(load.ok(), 10);
}

class ClusterOn3EtcdTest : public ClusterTest {
  protected:
    ClusterOn3EtcdTest() { etcd_members_ = 3; }
};

TEST_F(ClusterOn3EtcdTest, LosingOneEtcdMemberChangesNothing) {
    auto r = nodes_[0]->deploy("hello", e2e_app_path());
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.status << r.body;
    ASSERT_TRUE(served_everywhere("hello", 10000));
    // The first endpoint every node tries goes; two members keep a quorum.
    etcd3_->member(0).kill9();
    for (auto& n : nodes_) EXPECT_EQ(n->get("hello", "/").status, 200);
    EXPECT_TRUE(eventually(
        [&] {
            auto d = nodes_[1]->deploy("other", e2e_app_path());
            return d.status == 200 || d.status == 201;
        },
        10000));
    EXPECT_TRUE(served_everywhere("other", 10000));
    // The nodes' leases live on: none is taken for dead.
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    for (int i = 0; i < kNodes; ++i) EXPECT_EQ(state_of(*nodes_[0], "n" + std::to_string(i)), "up");
}

}  // namespace
}  // namespace ember::e2e
