// The control API: authentication, validation of what clients send, logs,
// metrics, images, files and environment.
#include <sys/stat.h>
#include <unistd.h>

#include "e2e_test.h"

namespace ember::e2e {
namespace {

using nlohmann::json;

std::string error_message(const HttpResponse& r) {
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.contains("error")) return "(no JSON error: " + r.body + ")";
    return j["error"]["message"];
}

std::string error_code(const HttpResponse& r) {
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.contains("error") || !j["error"]["code"].is_string())
        return "(no string error code: " + r.body + ")";
    return j["error"]["code"];
}

TEST_F(E2eTest, GatewayAndApiUseTheSameErrorCodes) {
    auto api = d_->api("GET", "/v1/services/nope");
    auto gw = d_->get("nope", "/");
    EXPECT_EQ(api.status, 404);
    EXPECT_EQ(gw.status, 404);
    EXPECT_EQ(error_code(api), "not_found");
    EXPECT_EQ(error_code(gw), "not_found");
    auto bad = d_->api("PUT", "/v1/services/x", "{");
    EXPECT_EQ(error_code(bad), "invalid_json");
}

TEST_F(E2eTest, ApiWithoutTokenIs401) {
    for (const char* path : {"/v1/services", "/v1/info", "/metrics", "/v1/images"}) {
        auto r = http_request(d_->api_port(), "GET", path);
        EXPECT_EQ(r.status, 401) << path;
        EXPECT_NE(error_message(r).find("missing API token"), std::string::npos) << r.body;
    }
    auto bad =
        http_request(d_->api_port(), "GET", "/v1/services", "", {{"Authorization", "Bearer nope"}});
    EXPECT_EQ(bad.status, 401);
    EXPECT_EQ(error_message(bad), "invalid API token");
    // An upload without the token is refused before its body is read.
    auto up = http_request(d_->api_port(), "POST", "/v1/images", std::string(1 << 20, 'x'));
    EXPECT_EQ(up.status, 401);
}

TEST_F(E2eTest, TokenFileIsPrivate) {
    struct stat st;
    ASSERT_EQ(::stat((d_->data_dir() + "/token").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(E2eTest, MalformedJsonIs400WithWhereItBroke) {
    auto r = d_->api("PUT", "/v1/services/x", "{\"image\": ");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(error_message(r).find("malformed JSON"), std::string::npos) << r.body;
    auto r2 = d_->api("PUT", "/v1/services/x", "[1,2]");
    EXPECT_EQ(r2.status, 400);
    EXPECT_NE(error_message(r2).find("JSON object"), std::string::npos) << r2.body;
}

TEST_F(E2eTest, UnknownFieldIs400NamingIt) {
    const std::string sha = d_->upload(e2e_app_path());
    auto r = d_->api("PUT", "/v1/services/x", json{{"image", sha}, {"replicas", 3}}.dump());
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(error_message(r), "unknown field 'replicas'");
    auto r2 = d_->api(
        "PUT", "/v1/services/x",
        json{{"image", sha}, {"files", {{{"path", "/a"}, {"image", sha}, {"owner", "root"}}}}}
            .dump());
    EXPECT_EQ(r2.status, 400);
    EXPECT_EQ(error_message(r2), "unknown field 'files[0].owner'");
}

TEST_F(E2eTest, WrongTypesAndRangesAre400) {
    const std::string sha = d_->upload(e2e_app_path());
    auto r = d_->api("PUT", "/v1/services/x", json{{"image", sha}, {"port", "80"}}.dump());
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(error_message(r), "field 'port' must be a non-negative integer");
    auto r2 = d_->api("PUT", "/v1/services/x",
                      json{{"image", sha}, {"min_instances", 5}, {"max_instances", 2}}.dump());
    EXPECT_EQ(r2.status, 400);
    EXPECT_NE(error_message(r2).find("larger than max_instances"), std::string::npos);
    auto r3 = d_->api("PUT", "/v1/services/x", json{{"image", std::string(64, 'a')}}.dump());
    EXPECT_EQ(r3.status, 400);
    EXPECT_NE(error_message(r3).find("upload it first"), std::string::npos) << r3.body;
}

TEST_F(E2eTest, OversizeBodiesAre413) {
    const std::string big = "{\"image\": \"" + std::string(2 << 20, 'a') + "\"}";
    auto r = d_->api("PUT", "/v1/services/x", big);
    EXPECT_EQ(r.status, 413) << r.body;
    EXPECT_NE(error_message(r).find("larger than the limit"), std::string::npos);
}

TEST_F(E2eTest, InvalidServiceNamesAre400) {
    for (const char* name : {"Upper", "under_score", "-dash", "dash-", "a.b", "x%2e%2e"}) {
        auto r = d_->api("PUT", std::string("/v1/services/") + name, "{}");
        EXPECT_EQ(r.status, 400) << name << ": " << r.body;
        EXPECT_NE(error_message(r).find("invalid service name"), std::string::npos) << r.body;
    }
    auto long_name = d_->api("GET", "/v1/services/" + std::string(64, 'a'));
    EXPECT_EQ(long_name.status, 400);
}

TEST_F(E2eTest, DotDotInFileDestinationsIs400) {
    const std::string sha = d_->upload(e2e_app_path());
    for (const char* path : {"../etc/passwd", "/a/../../b", "/a/./b", ""}) {
        auto r =
            d_->api("PUT", "/v1/services/files",
                    json{{"image", sha}, {"files", {{{"path", path}, {"image", sha}}}}}.dump());
        EXPECT_EQ(r.status, 400) << path << ": " << r.body;
    }
    auto r = d_->api("PUT", "/v1/services/files",
                     json{{"image", sha}, {"files", {{{"path", "../x"}, {"image", sha}}}}}.dump());
    EXPECT_NE(error_message(r).find("contains '..'"), std::string::npos) << r.body;
}

TEST_F(E2eTest, UnknownServicesAre404) {
    EXPECT_EQ(d_->api("GET", "/v1/services/nothere").status, 404);
    EXPECT_EQ(d_->api("DELETE", "/v1/services/nothere").status, 404);
    EXPECT_EQ(d_->api("PATCH", "/v1/services/nothere", "{\"max_instances\": 2}").status, 404);
    EXPECT_EQ(d_->api("GET", "/v1/services/nothere/logs").status, 404);
    auto gw = d_->get("nothere", "/");
    EXPECT_EQ(gw.status, 404);
    EXPECT_NE(gw.body.find("no service named 'nothere'"), std::string::npos) << gw.body;
    EXPECT_EQ(d_->api("GET", "/v1/nothing").status, 404);
}

TEST_F(E2eTest, PatchChangesScalingButNotTheProgram) {
    deploy_app("patched");
    auto r = d_->api("PATCH", "/v1/services/patched",
                     json{{"max_instances", 7}, {"concurrency", 2}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body)["max_instances"], 7);
    auto bad = d_->api("PATCH", "/v1/services/patched", json{{"port", 81}}.dump());
    EXPECT_EQ(bad.status, 400);
    EXPECT_NE(error_message(bad).find("deploy again"), std::string::npos);
    // It survives a restart.
    ASSERT_EQ(d_->restart(), "");
    EXPECT_EQ(json::parse(d_->api("GET", "/v1/services/patched").body)["max_instances"], 7);
}

TEST_F(E2eTest, ImagesAreContentAddressedAndProtectedWhileUsed) {
    const std::string sha = d_->upload(e2e_app_path());
    ASSERT_EQ(sha.size(), 64u);
    EXPECT_EQ(d_->upload(e2e_app_path()), sha);
    auto list = json::parse(d_->api("GET", "/v1/images").body);
    EXPECT_EQ(list["images"].size(), 1u);
    deploy_app("user");
    auto del = d_->api("DELETE", "/v1/images/" + sha);
    EXPECT_EQ(del.status, 409);
    EXPECT_NE(error_message(del).find("used by service 'user'"), std::string::npos);
    ASSERT_EQ(d_->api("DELETE", "/v1/services/user").status, 204);
    EXPECT_EQ(d_->api("DELETE", "/v1/images/" + sha).status, 204);
    EXPECT_EQ(d_->api("GET", "/v1/images/" + sha).status, 404);
}

TEST_F(E2eTest, FilesAndEnvironmentReachTheProgram) {
    const std::string conf = tmp_.path() + "/app.conf";
    FILE* f = std::fopen(conf.c_str(), "w");
    std::fputs("setting=42\n", f);
    std::fclose(f);
    const std::string sha = d_->upload(conf);
    deploy_app("configured", {{"env", {"GREETING=hi there"}},
                              {"files", {{{"path", "/etc/app.conf"}, {"image", sha}}}}});
    EXPECT_EQ(d_->get("configured", "/env/GREETING").body, "hi there\n");
    EXPECT_EQ(d_->get("configured", "/file/etc/app.conf").body, "setting=42\n");
}

TEST_F(E2eTest, LogsShowConsoleOutputAndFollowStreamsNewLines) {
    deploy_app("chatty");
    ASSERT_EQ(d_->get("chatty", "/count").status, 200);
    // The console line may trail the response by a moment (VM worker channel).
    HttpResponse logs;
    eventually(
        [&] {
            logs = d_->api("GET", "/v1/services/chatty/logs");
            return logs.body.find("GET /count") != std::string::npos;
        },
        2000);
    ASSERT_EQ(logs.status, 200);
    EXPECT_NE(logs.body.find("prepare stdout: e2e_app: listening on port 8080"), std::string::npos)
        << logs.body;
    EXPECT_NE(logs.body.find("stdout: e2e_app: GET /count"), std::string::npos) << logs.body;

    // Follow: a raw connection that keeps reading while a request happens.
    const int fd = connect_to(d_->api_port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_all(fd,
                         "GET /v1/services/chatty/logs?follow=true&tail=1 HTTP/1.1\r\nHost: "
                         "x\r\nAuthorization: Bearer " +
                             d_->token() + "\r\n\r\n"));
    // The answer's head means the follow has started: lines from now on reach it.
    std::string streamed = read_until_contains(fd, "\r\n\r\n", 10000);
    ASSERT_NE(streamed.find("\r\n\r\n"), std::string::npos) << streamed;
    ASSERT_EQ(d_->get("chatty", "/followed").status, 404);
    streamed += read_until_contains(fd, "e2e_app: GET /followed", 10000);
    ::close(fd);
    EXPECT_NE(streamed.find("Transfer-Encoding: chunked"), std::string::npos) << streamed;
    EXPECT_NE(streamed.find("e2e_app: GET /followed"), std::string::npos) << streamed;
}

TEST_F(E2eTest, MetricsCountRequestsColdStartsAndInstances) {
    deploy_app("measured", {{"idle_timeout_ms", 5000}});
    ASSERT_EQ(d_->get("measured", "/").status, 200);
    ASSERT_EQ(d_->get("measured", "/").status, 200);
    ASSERT_EQ(d_->get("measured", "/nope").status, 404);
    auto m = d_->api("GET", "/metrics");
    ASSERT_EQ(m.status, 200);
    EXPECT_NE(m.header("content-type").find("text/plain"), std::string::npos);
    const std::string& b = m.body;
    EXPECT_NE(b.find("ember_requests_total{service=\"measured\",code=\"200\"} 2"),
              std::string::npos)
        << b;
    EXPECT_NE(b.find("ember_requests_total{service=\"measured\",code=\"404\"} 1"),
              std::string::npos)
        << b;
    EXPECT_NE(b.find("ember_cold_starts_total{service=\"measured\"} 1"), std::string::npos) << b;
    EXPECT_NE(b.find("ember_cold_start_duration_seconds_count{stage=\"restore\"} 1"),
              std::string::npos)
        << b;
    EXPECT_NE(b.find("ember_cold_start_duration_seconds_bucket{stage=\"total\",le=\"+Inf\"} 1"),
              std::string::npos)
        << b;
    EXPECT_NE(b.find("ember_instances{service=\"measured\",state=\"idle\"} 1"), std::string::npos)
        << b;
    EXPECT_NE(b.find("ember_instance_guest_memory_bytes{service=\"measured\"} 67108864"),
              std::string::npos)
        << b;
}

TEST_F(E2eTest, InstancesReportStateAgeAndMemory) {
    deploy_app("listed", {{"idle_timeout_ms", 5000}, {"memory_mb", 32}});
    ASSERT_EQ(d_->get("listed", "/").status, 200);
    auto list = d_->instances("listed");
    ASSERT_EQ(list.size(), 1u);
    const auto& i = list[0];
    EXPECT_EQ(i["state"], "idle");
    EXPECT_EQ(i["memory_bytes"], 32u << 20);
    EXPECT_EQ(i["requests_served"], 1);
    EXPECT_GE(i["age_s"].get<double>(), 0.0);
    EXPECT_GT(i["restore_ms"].get<double>(), 0.0);
    EXPECT_GT(i["private_memory_bytes"].get<uint64_t>(), 0u)
        << "pages the instance wrote are its own";
    EXPECT_LT(i["private_memory_bytes"].get<uint64_t>(), 32u << 20);
}

}  // namespace
}  // namespace ember::e2e
