// The ember CLI against a real emberd.
#include <future>

#include "e2e_test.h"
#include "subprocess.h"

namespace ember::e2e {
namespace {

using nlohmann::json;

TEST_F(E2eTest, CliDeploysListsInvokesScalesAndRemoves) {
    auto dep = run_cli(*d_, {"deploy", e2e_app_path(), "--name", "cli", "--port", "8080", "--env",
                             "MODE=cli", "--max", "3", "--idle-timeout", "2s", "--timeout", "5s"});
    ASSERT_EQ(dep.status, 0) << dep.out << dep.err;
    EXPECT_NE(dep.out.find("deployed cli (generation 1)"), std::string::npos) << dep.out;

    auto ls = run_cli(*d_, {"ls"});
    ASSERT_EQ(ls.status, 0) << ls.err;
    EXPECT_EQ(ls.out.rfind("NAME", 0), 0u) << ls.out;
    EXPECT_NE(ls.out.find("cli"), std::string::npos);

    auto lsj = run_cli(*d_, {"ls", "-o", "json"});
    ASSERT_EQ(lsj.status, 0);
    auto j = json::parse(lsj.out);
    ASSERT_EQ(j["services"].size(), 1u);
    EXPECT_EQ(j["services"][0]["max_instances"], 3);
    EXPECT_EQ(j["services"][0]["idle_timeout_ms"], 2000);
    EXPECT_EQ(j["services"][0]["timeout_ms"], 5000);

    auto inv = run_cli(*d_, {"invoke", "cli", "/env/MODE"});
    EXPECT_EQ(inv.status, 0) << inv.err;
    EXPECT_EQ(inv.out, "cli\n");

    auto st = run_cli(*d_, {"status", "cli"});
    EXPECT_EQ(st.status, 0) << st.err;
    EXPECT_NE(st.out.find("INSTANCE"), std::string::npos) << st.out;

    auto sc = run_cli(*d_, {"scale", "cli", "--min", "1", "--max", "5"});
    EXPECT_EQ(sc.status, 0) << sc.err;
    EXPECT_EQ(json::parse(d_->api("GET", "/v1/services/cli").body)["max_instances"], 5);

    auto logs = run_cli(*d_, {"logs", "cli"});
    EXPECT_EQ(logs.status, 0);
    EXPECT_NE(logs.out.find("GET /env/MODE"), std::string::npos) << logs.out;

    auto rm = run_cli(*d_, {"rm", "cli"});
    EXPECT_EQ(rm.status, 0) << rm.err;
    EXPECT_EQ(d_->api("GET", "/v1/services/cli").status, 404);
}

TEST_F(E2eTest, CliLogsFollowStreamsNewLines) {
    deploy_app("followed");
    auto follower = std::async(std::launch::async, [&] {
        ember::test::RunOptions o;
        o.argv = {ember_cli_path(),
                  "--api",
                  "http://127.0.0.1:" + std::to_string(d_->api_port()),
                  "--data-dir",
                  d_->data_dir(),
                  "logs",
                  "followed",
                  "-f",
                  "--tail",
                  "1"};
        o.timeout = std::chrono::milliseconds(2500);
        return ember::test::run_process(o);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    ASSERT_EQ(d_->get("followed", "/streamed-line").status, 404);
    auto r = follower.get();
    EXPECT_TRUE(r.timed_out) << "logs -f should keep running";
    EXPECT_NE(r.out.find("e2e_app: GET /streamed-line"), std::string::npos) << r.out << r.err;
}

TEST_F(E2eTest, CliErrorsAreOneLineWithNonZeroExit) {
    auto r = run_cli(*d_, {"status", "missing"});
    EXPECT_NE(r.status, 0);
    EXPECT_EQ(r.err, "ember: no service named 'missing'\n");
    auto bad = run_cli(*d_, {"deploy", e2e_app_path(), "--name", "Bad_Name"});
    EXPECT_NE(bad.status, 0);
    EXPECT_EQ(bad.err.find('\n'), bad.err.size() - 1) << bad.err;
    auto inv = run_cli(*d_, {"invoke", "missing"});
    EXPECT_NE(inv.status, 0);
    EXPECT_NE(inv.err.find("HTTP 404"), std::string::npos) << inv.err;
}

TEST_F(E2eTest, CliDeployFailureShowsTheProgramOutput) {
    auto r = run_cli(*d_, {"deploy", example_path("hello"), "--name", "bad"});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err.rfind("ember: deploy of 'bad' failed: the program exited with status 0", 0), 0u)
        << r.err;
    EXPECT_NE(r.err.find("  | Hello from Ember!"), std::string::npos) << r.err;
}

TEST_F(E2eTest, CliWithoutTokenSaysWhereItLooked) {
    ember::test::RunOptions o;
    o.argv = {ember_cli_path(),
              "--api",
              "http://127.0.0.1:" + std::to_string(d_->api_port()),
              "--data-dir",
              tmp_.path() + "/nowhere",
              "ls"};
    auto r = ember::test::run_process(o);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no API token"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ember::e2e
