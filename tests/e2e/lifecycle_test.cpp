// A service's life: deploy, cold start, warm requests, scale to zero, warm
// minimum, redeploys, restarts of the daemon, deletion.
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "e2e_test.h"

namespace ember::e2e {
namespace {

using nlohmann::json;

TEST_F(E2eTest, ColdStartThenWarmThenScaledToZeroThenColdAgain) {
    deploy_app("hello", {{"idle_timeout_ms", 400}});
    EXPECT_EQ(d_->instances("hello").size(), 0u) << "a deployed service starts in standby";

    auto first = d_->get("hello", "/");
    ASSERT_EQ(first.status, 200) << first.error << first.body;
    EXPECT_EQ(first.body, "hello from e2e_app\n");
    EXPECT_TRUE(is_cold(first)) << first.header("server-timing");
    const std::string instance = first.header("x-ember-instance");

    auto warm = d_->get("hello", "/");
    ASSERT_EQ(warm.status, 200);
    EXPECT_FALSE(is_cold(warm)) << warm.header("server-timing");
    EXPECT_EQ(warm.header("x-ember-instance"), instance);
    EXPECT_NE(warm.header("server-timing").find("app;dur="), std::string::npos);

    ASSERT_TRUE(eventually([&] { return d_->instances("hello").empty(); }, 5000))
        << "the idle instance was not stopped: " << d_->instances("hello").dump();

    auto again = d_->get("hello", "/");
    ASSERT_EQ(again.status, 200);
    EXPECT_TRUE(is_cold(again));
    EXPECT_NE(again.header("x-ember-instance"), instance);
}

TEST_F(E2eTest, PathPrefixRoutingStripsThePrefix) {
    deploy_app("app");
    auto r = http_request(d_->gateway_port(), "GET", "/app/count");
    ASSERT_EQ(r.status, 200) << r.error << r.body;
    EXPECT_EQ(r.body, "1\n");
    auto root = http_request(d_->gateway_port(), "GET", "/app");
    EXPECT_EQ(root.status, 200);
    EXPECT_EQ(root.body, "hello from e2e_app\n");
}

TEST_F(E2eTest, MinInstancesStayWarmAfterTheIdleTimeout) {
    deploy_app("warm", {{"min_instances", 1}, {"idle_timeout_ms", 100}});
    ASSERT_TRUE(eventually([&] { return d_->instances("warm").size() == 1; }, 5000));
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    EXPECT_EQ(d_->instances("warm").size(), 1u);
    auto r = d_->get("warm", "/");
    ASSERT_EQ(r.status, 200);
    EXPECT_FALSE(is_cold(r)) << "the warm instance should have served it: "
                             << r.header("server-timing");
}

TEST_F(E2eTest, RedeployRollsToTheNewGenerationWithoutDroppingRequests) {
    deploy_app("roll", {{"env", {"VERSION=1"}}, {"idle_timeout_ms", 60000}});
    ASSERT_EQ(d_->get("roll", "/env/VERSION").body, "1\n");
    std::atomic<bool> stop{false};
    std::atomic<int> ok{0}, bad{0};
    std::string last_bad;
    std::thread load([&] {
        while (!stop) {
            auto r = d_->get("roll", "/sleep/20");
            if (r.status == 200)
                ++ok;
            else {
                ++bad;
                last_bad = std::to_string(r.status) + " " + r.error + r.body;
            }
        }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto r =
        d_->deploy("roll", e2e_app_path(), {{"env", {"VERSION=2"}}, {"idle_timeout_ms", 60000}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body)["generation"], 2);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop = true;
    load.join();
    EXPECT_EQ(bad.load(), 0) << last_bad;
    EXPECT_GT(ok.load(), 5);
    EXPECT_EQ(d_->get("roll", "/env/VERSION").body, "2\n");
    // The old generation drains and stops.
    ASSERT_TRUE(eventually(
        [&] {
            for (const auto& i : d_->instances("roll"))
                if (i["generation"] != 2) return false;
            return true;
        },
        5000))
        << d_->instances("roll").dump();
}

TEST_F(E2eTest, RedeployWithOnlyRuntimeChangesKeepsTheSnapshot) {
    deploy_app("same", {{"max_instances", 2}});
    auto r = d_->deploy("same", e2e_app_path(), {{"max_instances", 3}});
    ASSERT_EQ(r.status, 200) << r.body;
    auto j = json::parse(r.body);
    EXPECT_EQ(j["generation"], 1);
    EXPECT_EQ(j["max_instances"], 3);
}

TEST_F(E2eTest, KillDashNineAndRestartKeepsServicesInStandby) {
    deploy_app("survivor", {{"env", {"WHO=survivor"}}});
    ASSERT_EQ(d_->get("survivor", "/").status, 200);
    d_->kill9();
    ASSERT_EQ(d_->start(), "");
    auto svc = d_->api("GET", "/v1/services/survivor");
    ASSERT_EQ(svc.status, 200) << svc.body;
    EXPECT_EQ(json::parse(svc.body)["status"], "standby");
    auto r = d_->get("survivor", "/env/WHO");
    ASSERT_EQ(r.status, 200) << r.error << r.body;
    EXPECT_EQ(r.body, "survivor\n");
    EXPECT_TRUE(is_cold(r));
}

TEST_F(E2eTest, MissingSnapshotIsPreparedAgainAfterRestart) {
    deploy_app("again");
    ASSERT_EQ(d_->terminate(), 0);
    const std::string snap = d_->data_dir() + "/snapshots/again.1.snap";
    struct stat st;
    ASSERT_EQ(::stat(snap.c_str(), &st), 0) << "snapshot cache layout changed?";
    ASSERT_EQ(::unlink(snap.c_str()), 0);
    ASSERT_EQ(d_->start(), "");
    auto r = d_->get("again", "/");
    ASSERT_EQ(r.status, 200) << r.error << r.body;
    EXPECT_EQ(::stat(snap.c_str(), &st), 0) << "the snapshot was not prepared again";
}

TEST_F(E2eTest, DamagedSnapshotIsPreparedAgainAfterRestart) {
    deploy_app("damaged");
    ASSERT_EQ(d_->terminate(), 0);
    const std::string snap = d_->data_dir() + "/snapshots/damaged.1.snap";
    FILE* f = std::fopen(snap.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, 100, SEEK_SET);
    std::fputs("garbage", f);
    std::fclose(f);
    ASSERT_EQ(d_->start(), "");
    auto r = d_->get("damaged", "/");
    ASSERT_EQ(r.status, 200) << r.error << r.body;
}

TEST_F(E2eTest, DeleteStopsInstancesAndForgetsTheService) {
    deploy_app("gone", {{"min_instances", 1}});
    ASSERT_TRUE(eventually([&] { return d_->instances("gone").size() == 1; }, 5000));
    auto del = d_->api("DELETE", "/v1/services/gone");
    EXPECT_EQ(del.status, 204) << del.body;
    EXPECT_EQ(d_->api("GET", "/v1/services/gone").status, 404);
    auto r = d_->get("gone", "/");
    EXPECT_EQ(r.status, 404);
    ASSERT_TRUE(eventually(
        [&] { return json::parse(d_->api("GET", "/v1/instances").body)["instances"].empty(); },
        5000));
    // Deleted stays deleted across a restart.
    ASSERT_EQ(d_->restart(), "");
    EXPECT_EQ(d_->api("GET", "/v1/services/gone").status, 404);
}

}  // namespace
}  // namespace ember::e2e
