// cluster_fixture.h - the cluster e2e tests' fixture: one etcd and three
// emberd nodes on loopback ports with separate data directories (emberd
// --cluster), the same API token and cluster token on each. Skips, loudly,
// without /dev/kvm or without etcd.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "../cluster/etcd_process.h"
#include "e2e_test.h"

namespace ember::e2e {

class ClusterTest : public ::testing::Test {
  protected:
    static constexpr int kNodes = 3;

    void SetUp() override {
        if (!have_kvm()) GTEST_SKIP() << "SKIPPED: /dev/kvm is not available";
        if (testing_etcd::etcd_binary().empty())
            GTEST_SKIP() << "SKIPPED: etcd is not installed (Debian: etcd-server; scripts/deps.sh)";
        std::string etcd_urls;
        if (etcd_members_ > 1) {
            etcd3_ = std::make_unique<testing_etcd::EtcdCluster>(tmp_.path(), etcd_members_);
            ASSERT_EQ(etcd3_->start(), "");
            etcd_urls = etcd3_->urls();
        } else {
            etcd_ = std::make_unique<testing_etcd::EtcdProcess>(tmp_.path());
            ASSERT_EQ(etcd_->start(), "");
            etcd_urls = etcd_->url();
        }
        // One API token and one cluster token for every node, as the
        // operator copies them (docs/cluster.md).
        const std::string cluster_token = tmp_.path() + "/cluster-token";
        write_secret(cluster_token, std::string(64, 'c'));
        for (int i = 0; i < kNodes; ++i) {
            const std::string dir = tmp_.path() + "/node" + std::to_string(i);
            ::mkdir(dir.c_str(), 0700);
            write_secret(dir + "/token", std::string(64, 'a'));
            nodes_.push_back(std::make_unique<EmberdProcess>(
                dir, std::vector<std::string>{"--cluster", etcd_urls, "--node",
                                              "n" + std::to_string(i), "--cluster-token-file",
                                              cluster_token, "--node-ttl", "2s"}));
            ASSERT_EQ(nodes_.back()->start(), "");
        }
        // Every node knows the others (each reads the members at its
        // heartbeat, every second): the split of min/max is settled.
        ASSERT_TRUE(eventually(
            [&] {
                for (auto& n : nodes_) {
                    int up = 0;
                    for (const auto& m : nodes_of(*n)) up += m["state"] == "up";
                    if (up != kNodes) return false;
                }
                return true;
            },
            5000));
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

    // The service's instances on node i (starting ones included).
    int instances_on(int i, const std::string& service) {
        auto r = nodes_[i]->api("GET", "/v1/services/" + service);
        if (r.status != 200) return -1;
        return nlohmann::json::parse(r.body).value("instances", -1);
    }

    int etcd_members_ = 1;  // 3: a 3-member etcd cluster (etcd3_) instead of etcd_
    TempDir tmp_;
    std::unique_ptr<testing_etcd::EtcdProcess> etcd_;
    std::unique_ptr<testing_etcd::EtcdCluster> etcd3_;
    std::vector<std::unique_ptr<EmberdProcess>> nodes_;
};

}  // namespace ember::e2e
