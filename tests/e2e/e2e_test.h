// e2e_test.h - the fixture of the end-to-end tests: a fresh emberd with its
// own data directory for every test; skips, loudly, without /dev/kvm.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "emberd_process.h"

namespace ember::e2e {

class E2eTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!have_kvm())
            GTEST_SKIP() << "SKIPPED: /dev/kvm is not available; end-to-end tests need KVM";
        ASSERT_FALSE(tmp_.path().empty());
        d_ = std::make_unique<EmberdProcess>(tmp_.path() + "/data", daemon_args());
        const std::string err = d_->start();
        ASSERT_EQ(err, "");
    }
    void TearDown() override {
        if (d_ && HasFailure())
            std::fprintf(stderr, "--- emberd output ---\n%s\n", d_->output().c_str());
    }
    virtual std::vector<std::string> daemon_args() { return {}; }

    // Deploys e2e_app as `name` with the given settings; asserts success.
    void deploy_app(const std::string& name, nlohmann::json extra = {}) {
        auto r = d_->deploy(name, e2e_app_path(), std::move(extra));
        ASSERT_TRUE(r.status == 200 || r.status == 201) << r.status << " " << r.body << r.error;
    }

    TempDir tmp_;
    std::unique_ptr<EmberdProcess> d_;
};

// Polls cond every 20 ms for up to ms milliseconds.
inline bool eventually(const std::function<bool()>& cond, int ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < deadline) {
        if (cond()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return cond();
}

inline bool is_cold(const HttpResponse& r) {
    return r.header("server-timing").find("restore;dur=") != std::string::npos;
}

}  // namespace ember::e2e
