// Volumes against a real emberd: examples/vol_counter keeps its count in a
// file on a volume, so the count tells whether the data outlived
// redeploys, `ember rm` and a kill -9 of emberd; one writer at a time (also
// when two deploys claim a volume at once), and volumes in use cannot be
// removed.
#include <string>
#include <thread>
#include <vector>

#include "e2e_test.h"

namespace ember::e2e {
namespace {

using nlohmann::json;

class VolumeE2eTest : public E2eTest {
  protected:
    void deploy_counter(const std::string& name, const std::string& volume, json extra = {}) {
        json settings = {{"volumes", json::array({{{"name", volume}, {"path", "/data"}}})}};
        if (extra.is_object()) settings.update(extra);
        auto r = d_->deploy(name, example_path("vol_counter"), settings);
        ASSERT_TRUE(r.status == 200 || r.status == 201) << r.status << " " << r.body << r.error;
    }
    std::string count(const std::string& name) {
        auto r = d_->get(name, "/");
        EXPECT_EQ(r.status, 200) << r.error << r.body;
        return r.body;
    }
};

TEST_F(VolumeE2eTest, DataSurvivesRedeployRemoveAndKill9) {
    auto c = run_cli(*d_, {"volume", "create", "state", "--size", "16M"});
    ASSERT_EQ(c.status, 0) << c.err;
    deploy_counter("counter", "state");
    EXPECT_EQ(count("counter"), "count 1\n");
    EXPECT_EQ(count("counter"), "count 2\n");
    // A writer runs one instance at a time.
    const json svc = json::parse(d_->api("GET", "/v1/services/counter").body);
    EXPECT_EQ(svc.at("max_instances"), 1);

    // A new generation (other env) sees the same files.
    deploy_counter("counter", "state", {{"env", json::array({"GEN=2"})}});
    EXPECT_EQ(count("counter"), "count 3\n");

    d_->kill9();
    ASSERT_EQ(d_->start(), "");
    EXPECT_EQ(count("counter"), "count 4\n");

    // Removing the service keeps the volume; a new service finds the data.
    EXPECT_EQ(d_->api("DELETE", "/v1/services/counter").status, 204);
    deploy_counter("again", "state");
    EXPECT_EQ(count("again"), "count 5\n");
    auto ls = run_cli(*d_, {"volume", "ls"});
    EXPECT_NE(ls.out.find("state"), std::string::npos) << ls.out;
    EXPECT_NE(ls.out.find("again"), std::string::npos) << ls.out;
    EXPECT_EQ(d_->api("DELETE", "/v1/services/again").status, 204);
    c = run_cli(*d_, {"volume", "rm", "state"});
    EXPECT_EQ(c.status, 0) << c.err;
    EXPECT_EQ(d_->api("GET", "/v1/volumes/state").status, 404);
}

TEST_F(VolumeE2eTest, SecondWriterAndRemovalInUseAreRefused) {
    ASSERT_EQ(d_->api("POST", "/v1/volumes", R"({"name": "shared", "size": "8M"})").status, 201);
    EXPECT_EQ(d_->api("POST", "/v1/volumes", R"({"name": "shared", "size": "8M"})").status, 409);
    deploy_counter("writer", "shared");
    EXPECT_EQ(count("writer"), "count 1\n");

    auto second = d_->deploy("second", example_path("vol_counter"),
                             {{"volumes", json::array({{{"name", "shared"}, {"path", "/data"}}})}});
    EXPECT_EQ(second.status, 409) << second.body;
    EXPECT_NE(second.body.find("written by service 'writer'"), std::string::npos) << second.body;
    auto many = d_->deploy("writer", example_path("vol_counter"),
                           {{"max_instances", 3},
                            {"volumes", json::array({{{"name", "shared"}, {"path", "/data"}}})}});
    EXPECT_EQ(many.status, 400) << many.body;

    // A reader shares it, and sees the writer's file; it cannot write.
    deploy_counter(
        "reader", "shared",
        {{"volumes", json::array({{{"name", "shared"}, {"path", "/data"}, {"readonly", true}}})}});
    EXPECT_EQ(count("reader"), "error Read-only file system\n");
    EXPECT_EQ(count("writer"), "count 2\n");

    auto rm = d_->api("DELETE", "/v1/volumes/shared");
    EXPECT_EQ(rm.status, 409) << rm.body;
    auto missing = d_->deploy("nothing", example_path("vol_counter"),
                              {{"volumes", json::array({{{"name", "nope"}, {"path", "/data"}}})}});
    EXPECT_EQ(missing.status, 404) << missing.body;
}

// Two deploys claiming one volume as writer at the same moment: exactly
// one is accepted (the check and the deploy are one step), the other gets
// 409.
TEST_F(VolumeE2eTest, ConcurrentWritersOfOneVolumeExactlyOneWins) {
    ASSERT_EQ(d_->api("POST", "/v1/volumes", R"({"name": "race", "size": "8M"})").status, 201);
    constexpr int kDeploys = 4;
    std::vector<HttpResponse> results(kDeploys);
    std::vector<std::thread> threads;
    for (int i = 0; i < kDeploys; ++i)
        threads.emplace_back([&, i] {
            results[i] =
                d_->deploy("w" + std::to_string(i), example_path("vol_counter"),
                           {{"volumes", json::array({{{"name", "race"}, {"path", "/data"}}})}});
        });
    for (auto& t : threads) t.join();
    int won = 0, refused = 0;
    for (const auto& r : results) {
        if (r.status == 200 || r.status == 201) ++won;
        if (r.status == 409) ++refused;
    }
    EXPECT_EQ(won, 1);
    EXPECT_EQ(refused, kDeploys - 1);
    const json vol = json::parse(d_->api("GET", "/v1/volumes/race").body);
    EXPECT_EQ(vol.at("services").size(), 1u) << vol.dump();
}

TEST_F(VolumeE2eTest, PerRequestIsolationMountsReadOnly) {
    ASSERT_EQ(d_->api("POST", "/v1/volumes", R"({"name": "iso", "size": "8M"})").status, 201);
    deploy_counter("iso", "iso", {{"isolation", "request"}});
    EXPECT_EQ(count("iso"), "error Read-only file system\n");
}

}  // namespace
}  // namespace ember::e2e
