// etcd_test.h - the fixture of the cluster unit tests: a fresh etcd per test
// in a temporary directory.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "etcd_process.h"
#include "platform/cluster/etcd_client.h"

namespace ember::platform::cluster {

class EtcdTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (testing_etcd::etcd_binary().empty())
            GTEST_SKIP() << "SKIPPED: etcd is not installed (Debian: etcd-server; "
                            "scripts/deps.sh); the cluster tests need it";
        char tmpl[] = "/tmp/ember-etcd-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        etcd_ = std::make_unique<testing_etcd::EtcdProcess>(dir_);
        ASSERT_EQ(etcd_->start(), "");
        auto eps = parse_endpoints(etcd_->url());
        ASSERT_TRUE(eps) << eps.message();
        client_ = std::make_unique<EtcdClient>(*eps, 2000);
    }
    void TearDown() override {
        etcd_.reset();
        if (!dir_.empty()) std::filesystem::remove_all(dir_);
    }
    std::string dir_;
    std::unique_ptr<testing_etcd::EtcdProcess> etcd_;
    std::unique_ptr<EtcdClient> client_;
};

}  // namespace ember::platform::cluster
