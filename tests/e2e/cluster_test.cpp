// Cluster mode end to end: one etcd and three emberd nodes on loopback
// ports with separate data directories (emberd --cluster). Deploy on one
// node, served by all; a node killed with SIGKILL; etcd stopped (changes
// refused with a clear error, serving goes on) and back (catch-up).
// Skips, loudly, without /dev/kvm or without etcd.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cluster_fixture.h"

namespace ember::e2e {
namespace {

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

// etcd with its own authentication on: a node with the right user and
// password joins and serves; without them, or with a password file others
// can read, it refuses to start and says why.
TEST(ClusterAuthTest, ANodeAuthenticatesToEtcdAndWithoutCredentialsRefusesToStart) {
    if (!have_kvm()) GTEST_SKIP() << "SKIPPED: /dev/kvm is not available";
    if (testing_etcd::etcd_binary().empty() || ::access(testing_etcd::kEtcdctl, X_OK) != 0)
        GTEST_SKIP() << "SKIPPED: etcd or etcdctl is not installed (etcd-server, etcd-client)";
    TempDir tmp;
    testing_etcd::EtcdProcess etcd(tmp.path());
    ASSERT_EQ(etcd.start(), "");
    ASSERT_EQ(etcd.enable_auth("ember", "pw-of-ember", "/ember/"), "");
    const std::string pw = tmp.path() + "/etcd-password";
    std::ofstream(pw) << "pw-of-ember\n";
    ::chmod(pw.c_str(), 0600);
    const std::string dir = tmp.path() + "/node";
    ::mkdir(dir.c_str(), 0700);
    const std::vector<std::string> base{"--cluster", etcd.url(), "--node", "n0"};

    EmberdProcess none(dir, base);
    const std::string err = none.start();
    EXPECT_NE(err.find("--etcd-user"), std::string::npos) << err;

    ::chmod(pw.c_str(), 0644);
    auto args = base;
    args.insert(args.end(), {"--etcd-user", "ember", "--etcd-password-file", pw});
    EmberdProcess loose(dir, args);
    EXPECT_NE(loose.start().find("chmod 600"), std::string::npos);

    ::chmod(pw.c_str(), 0600);
    EmberdProcess node(dir, args);
    ASSERT_EQ(node.start(), "");
    auto r = node.deploy("hello", e2e_app_path());
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.body;
    EXPECT_EQ(node.get("hello", "/").status, 200);
    auto n = node.api("GET", "/v1/nodes");
    EXPECT_NE(n.body.find("\"n0\""), std::string::npos) << n.body;
}

}  // namespace
}  // namespace ember::e2e
