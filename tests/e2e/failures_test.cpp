// Failures: instances that crash, exit or hang mid-request, and programs
// that cannot be deployed.
#include "e2e_test.h"

namespace ember::e2e {
namespace {

using nlohmann::json;

TEST_F(E2eTest, CrashMidRequestGives502AndTheInstanceIsReplaced) {
    deploy_app("fragile", {{"idle_timeout_ms", 5000}});
    auto before = d_->get("fragile", "/");
    ASSERT_EQ(before.status, 200);
    auto crash = d_->get("fragile", "/crash");
    EXPECT_EQ(crash.status, 502) << crash.body;
    EXPECT_NE(crash.body.find("without a complete response"), std::string::npos) << crash.body;
    auto after = d_->get("fragile", "/");
    ASSERT_EQ(after.status, 200) << after.body;
    EXPECT_NE(after.header("x-ember-instance"), before.header("x-ember-instance"));
    auto logs = d_->api("GET", "/v1/services/fragile/logs");
    EXPECT_NE(logs.body.find("ended unexpectedly"), std::string::npos) << logs.body;
    auto m = d_->api("GET", "/metrics");
    EXPECT_NE(m.body.find("ember_instance_crashes_total{service=\"fragile\"} 1"), std::string::npos)
        << m.body;
}

TEST_F(E2eTest, ExitMidRequestGives502) {
    deploy_app("quitter");
    EXPECT_EQ(d_->get("quitter", "/exit").status, 502);
    EXPECT_EQ(d_->get("quitter", "/").status, 200);
}

TEST_F(E2eTest, RequestOverTimeoutGives504AndTheInstanceIsReplaced) {
    deploy_app("hang", {{"timeout_ms", 500}, {"idle_timeout_ms", 5000}});
    auto before = d_->get("hang", "/");
    ASSERT_EQ(before.status, 200);
    auto r = d_->get("hang", "/spin");
    EXPECT_EQ(r.status, 504) << r.body;
    EXPECT_LT(r.ms, 3000);
    auto after = d_->get("hang", "/");
    EXPECT_EQ(after.status, 200) << after.body;
    EXPECT_NE(after.header("x-ember-instance"), before.header("x-ember-instance"))
        << "a spinning instance must not get new requests";
}

TEST_F(E2eTest, SlowButHealthyRequestUnderTimeoutSucceeds) {
    deploy_app("slow", {{"timeout_ms", 2000}});
    auto r = d_->get("slow", "/sleep/300");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "slept 300\n");
}

TEST_F(E2eTest, DeployOfAProgramThatExitsFailsWithItsOutput) {
    auto r = d_->deploy("exits", example_path("hello"));
    EXPECT_EQ(r.status, 422) << r.body;
    const std::string msg = json::parse(r.body)["error"]["message"];
    EXPECT_NE(msg.find("exited with status 0 before it was ready"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Hello from Ember!"), std::string::npos) << msg;
    EXPECT_EQ(d_->api("GET", "/v1/services/exits").status, 404)
        << "a failed first deploy creates nothing";
}

TEST_F(E2eTest, DeployOfAProgramThatNeverListensFails) {
    auto r = d_->deploy("nolisten", example_path("kvstore"));
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_NE(r.body.find("without listening on port 8080"), std::string::npos) << r.body;
}

TEST_F(E2eTest, DeployOnTheWrongPortNamesThePortTheProgramUses) {
    auto r = d_->deploy("wrongport", e2e_app_path(), {{"port", 9090}});
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_NE(r.body.find("listens on port(s) 8080, not on port 9090"), std::string::npos)
        << r.body;
    auto ok = d_->deploy("rightport", e2e_app_path(), {{"port", 9090}, {"args", {"9090"}}});
    EXPECT_EQ(ok.status, 201) << ok.body;
    EXPECT_EQ(d_->get("rightport", "/").status, 200);
}

TEST_F(E2eTest, DeployOfSomethingThatIsNotAProgramFails) {
    const std::string path = tmp_.path() + "/not-elf";
    FILE* f = std::fopen(path.c_str(), "w");
    std::fputs("#!/bin/sh\necho hi\n", f);
    std::fclose(f);
    auto r = d_->deploy("script", path);
    EXPECT_EQ(r.status, 422) << r.body;
}

TEST_F(E2eTest, FailedRedeployKeepsTheServiceRunningTheOldGeneration) {
    deploy_app("steady");
    auto r = d_->deploy("steady", example_path("hello"));
    EXPECT_EQ(r.status, 422);
    auto s = json::parse(d_->api("GET", "/v1/services/steady").body);
    EXPECT_EQ(s["generation"], 1);
    EXPECT_EQ(d_->get("steady", "/").status, 200);
}

}  // namespace
}  // namespace ember::e2e
