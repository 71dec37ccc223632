// Cluster mode end to end: one etcd and three emberd nodes on loopback
// ports with separate data directories (emberd --cluster). Deploy on one
// node, served by all; a node killed with SIGKILL; etcd stopped (changes
// refused with a clear error, serving goes on) and back (catch-up).
// Skips, loudly, without /dev/kvm or without etcd.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../cluster/etcd_process.h"
#include "e2e_test.h"

namespace ember::e2e {
namespace {

class ClusterTest : public ::testing::Test {
  protected:
    static constexpr int kNodes = 3;

    void SetUp() override {
        if (!have_kvm()) GTEST_SKIP() << "SKIPPED: /dev/kvm is not available";
        if (testing_etcd::etcd_binary().empty())
            GTEST_SKIP() << "SKIPPED: etcd is not installed (Debian: etcd-server; scripts/deps.sh)";
        etcd_ = std::make_unique<testing_etcd::EtcdProcess>(tmp_.path());
        ASSERT_EQ(etcd_->start(), "");
        // One API token and one cluster token for every node, as the
        // operator copies them (docs/cluster.md).
        const std::string cluster_token = tmp_.path() + "/cluster-token";
        write_secret(cluster_token, std::string(64, 'c'));
        for (int i = 0; i < kNodes; ++i) {
            const std::string dir = tmp_.path() + "/node" + std::to_string(i);
            ::mkdir(dir.c_str(), 0700);
            write_secret(dir + "/token", std::string(64, 'a'));
            nodes_.push_back(std::make_unique<EmberdProcess>(
                dir, std::vector<std::string>{"--cluster", etcd_->url(), "--node",
                                              "n" + std::to_string(i), "--cluster-token-file",
                                              cluster_token, "--node-ttl", "2s"}));
            ASSERT_EQ(nodes_.back()->start(), "");
        }
    }
    void TearDown() override {
        if (HasFailure())
            for (auto& n : nodes_)
                std::fprintf(stderr, "--- %s ---\n%s\n", n->data_dir().c_str(),
                             n->output().c_str());
    }
    static void write_secret(const std::string& path, const std::string& text) {
        std::ofstream(path) << text << "\n";
        ::chmod(path.c_str(), 0600);
    }
    // Every node answers the service's request within ms.
    bool served_everywhere(const std::string& service, int ms) {
        return eventually(
            [&] {
                for (auto& n : nodes_)
                    if (n->running() && n->get(service, "/", 5000).status != 200) return false;
                return true;
            },
            ms);
    }
    nlohmann::json nodes_of(EmberdProcess& d) {
        auto r = d.api("GET", "/v1/nodes");
        if (r.status != 200) return nlohmann::json::array();
        return nlohmann::json::parse(r.body)["nodes"];
    }
    std::string state_of(EmberdProcess& d, const std::string& node) {
        for (const auto& n : nodes_of(d))
            if (n["name"] == node) return n["state"];
        return "";
    }

    TempDir tmp_;
    std::unique_ptr<testing_etcd::EtcdProcess> etcd_;
    std::vector<std::unique_ptr<EmberdProcess>> nodes_;
};

TEST_F(ClusterTest, DeployOnOneNodeIsServedByEveryNode) {
    auto r = nodes_[0]->deploy("hello", e2e_app_path());
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.status << r.body;
    // Each node copies the image from a peer and prepares its own snapshot.
    EXPECT_TRUE(served_everywhere("hello", 10000));
    for (int i = 1; i < kNodes; ++i) {
        auto s = nodes_[i]->api("GET", "/v1/services/hello");
        EXPECT_EQ(s.status, 200) << s.body;
        EXPECT_NE(s.body.find("\"generation\": 1"), std::string::npos) << s.body;
    }
    // A redeploy through another node rolls every node to generation 2.
    r = nodes_[2]->deploy("hello", e2e_app_path(), {{"env", {{"GEN", "2"}}}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(eventually(
        [&] {
            for (auto& n : nodes_)
                if (n->api("GET", "/v1/services/hello").body.find("\"generation\": 2") ==
                    std::string::npos)
                    return false;
            return true;
        },
        10000));
    EXPECT_TRUE(served_everywhere("hello", 10000));
    // A delete on one node removes it everywhere.
    EXPECT_EQ(nodes_[1]->api("DELETE", "/v1/services/hello").status, 204);
    EXPECT_TRUE(eventually(
        [&] {
            for (auto& n : nodes_)
                if (n->get("hello", "/", 5000).status != 404) return false;
            return true;
        },
        5000));
}

TEST_F(ClusterTest, NodesAreListedAndAKilledNodeGoesDown) {
    EXPECT_TRUE(eventually([&] { return nodes_of(*nodes_[0]).size() == kNodes; }, 5000));
    for (int i = 0; i < kNodes; ++i) EXPECT_EQ(state_of(*nodes_[0], "n" + std::to_string(i)), "up");
    auto cli = run_cli(*nodes_[1], {"nodes"});
    EXPECT_EQ(cli.status, 0) << cli.err;
    EXPECT_NE(cli.out.find("NAME"), std::string::npos) << cli.out;
    EXPECT_NE(cli.out.find("n2"), std::string::npos) << cli.out;

    auto r = nodes_[0]->deploy("hello", e2e_app_path());
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.body;
    ASSERT_TRUE(served_everywhere("hello", 10000));
    // Under load through the two other nodes, node 2 is killed: none of
    // their requests fails.
    std::atomic<bool> done{false};
    std::atomic<int> ok{0}, failed{0};
    std::vector<std::thread> load;
    for (int k = 0; k < 2; ++k)
        load.emplace_back([&, k] {
            while (!done.load()) (nodes_[k]->get("hello", "/").status == 200 ? ok : failed)++;
        });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    nodes_[2]->kill9();
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    done = true;
    for (auto& t : load) t.join();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_GT(ok.load(), 10);
    // The dead node's lease expires (--node-ttl 2s).
    EXPECT_TRUE(eventually([&] { return state_of(*nodes_[0], "n2") == "down"; }, 8000));
    // The deploy node's image survives on the others: a restarted node 2
    // serves again, and so does one whose data directory is new.
    nodes_[0]->kill9();
    EXPECT_EQ(nodes_[1]->get("hello", "/").status, 200);
    ASSERT_EQ(nodes_[2]->start(), "");
    EXPECT_EQ(nodes_[2]->get("hello", "/").status, 200);
}

TEST_F(ClusterTest, EtcdDownRefusesChangesServingGoesOnAndCatchesUp) {
    auto r = nodes_[0]->deploy("hello", e2e_app_path());
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.body;
    ASSERT_TRUE(served_everywhere("hello", 10000));
    etcd_->kill9();
    r = nodes_[1]->deploy("other", e2e_app_path());
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_NE(r.body.find("changes are refused"), std::string::npos) << r.body;
    EXPECT_EQ(nodes_[1]->api("DELETE", "/v1/services/hello").status, 503);
    for (auto& n : nodes_) EXPECT_EQ(n->get("hello", "/").status, 200);
    EXPECT_EQ(nodes_[2]->api("GET", "/v1/services").status, 200);

    ASSERT_EQ(etcd_->start(), "");  // same data, same port
    EXPECT_TRUE(eventually(
        [&] {
            auto d = nodes_[1]->deploy("other", e2e_app_path());
            return d.status == 200 || d.status == 201;
        },
        10000));
    EXPECT_TRUE(served_everywhere("other", 10000));
}

}  // namespace
}  // namespace ember::e2e
