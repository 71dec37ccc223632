// emberd against hostile bytes and numbers: guests whose console output is
// not UTF-8, JSON numbers beyond range, oversize uploads with and without
// the token, uploads cut short by a crash.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "e2e_test.h"

namespace ember::e2e {
namespace {

using nlohmann::json;

const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The body as JSON, or a test failure (nlohmann's parser rejects invalid UTF-8).
json json_of(const HttpResponse& r) {
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_discarded()) ADD_FAILURE() << "not valid JSON: " << r.status << " " << r.body;
    return j;
}

std::string error_message(const HttpResponse& r) {
    auto j = json_of(r);
    if (j.is_discarded() || !j.contains("error")) return "(no JSON error: " + r.body + ")";
    return j["error"]["message"];
}

TEST_F(E2eTest, ConsoleOutputThatIsNotUtf8KeepsEveryJsonAnswerValid) {
    deploy_app("garbled", {{"env", {"E2E_GARBLE=1"}}});
    ASSERT_EQ(d_->get("garbled", "/garble").status, 200);

    auto list = d_->api("GET", "/v1/services");
    ASSERT_EQ(list.status, 200) << list.body;
    EXPECT_EQ(json_of(list)["services"].size(), 1u);
    // Console output reaches the log through the VM worker's channel, which
    // may trail the response by a moment.
    HttpResponse logs;
    json lines;
    auto count_garbled = [&] {
        size_t n = 0;
        for (const auto& l : lines)
            if (l.value("text", std::string()).find("garbled") != std::string::npos) ++n;
        return n;
    };
    eventually(
        [&] {
            logs = d_->api("GET", "/v1/services/garbled/logs?format=json");
            auto j = json::parse(logs.body, nullptr, false);
            lines = j.is_object() ? j["lines"] : json::array();
            return count_garbled() >= 4;
        },
        2000);
    ASSERT_EQ(logs.status, 200) << logs.body;
    lines = json_of(logs)["lines"];
    size_t garbled = 0;
    for (const auto& l : lines) {
        const std::string text = l["text"];
        if (text.find("garbled") == std::string::npos) continue;
        ++garbled;
        EXPECT_NE(text.find(kReplacement), std::string::npos) << text;
        EXPECT_NE(text.find(" end"), std::string::npos) << text;
    }
    EXPECT_EQ(garbled, 4u) << "start-up and /garble, stdout and stderr: " << logs.body;
    auto text = d_->api("GET", "/v1/services/garbled/logs");
    ASSERT_EQ(text.status, 200);
    EXPECT_EQ(text.body.find('\xff'), std::string::npos) << "text logs are UTF-8 too";

    // A deploy that fails quotes the program's output in its error.
    auto failed = d_->deploy("broken", e2e_app_path(), {{"env", {"E2E_GARBLE=1", "E2E_EXIT=4"}}});
    EXPECT_EQ(failed.status, 422) << failed.body;
    const std::string msg = error_message(failed);
    EXPECT_NE(msg.find("exited with status 4"), std::string::npos) << msg;
    EXPECT_NE(msg.find("garbled"), std::string::npos) << msg;
    EXPECT_EQ(d_->api("GET", "/v1/services").status, 200);
}

// A service whose snapshot cannot be rebuilt after a restart is "failed",
// its error quoting the program's output: the list, the service and the
// gateway's 503 stay valid JSON.
TEST_F(E2eTest, ServiceFailedWithOutputThatIsNotUtf8IsListedAndRejectedAsJson) {
    deploy_app("slowstart", {{"env", {"E2E_GARBLE=1", "E2E_START_DELAY_MS=1500"}}});
    deploy_app("fine");
    ASSERT_EQ(d_->terminate(), 0);
    const std::string snaps = d_->data_dir() + "/snapshots";
    DIR* dir = ::opendir(snaps.c_str());
    ASSERT_NE(dir, nullptr);
    while (const dirent* e = ::readdir(dir))
        if (std::string(e->d_name).rfind("slowstart.", 0) == 0)
            ::unlink((snaps + "/" + e->d_name).c_str());
    ::closedir(dir);
    // Too short for the program's start-up delay: the rebuild fails.
    d_ = std::make_unique<EmberdProcess>(d_->data_dir(),
                                         std::vector<std::string>{"--prepare-timeout", "300ms"});
    ASSERT_EQ(d_->start(), "");
    ASSERT_TRUE(eventually(
        [&] {
            auto r = d_->api("GET", "/v1/services/slowstart");
            return r.status == 200 && json_of(r)["status"] == "failed";
        },
        15000));
    auto one = d_->api("GET", "/v1/services/slowstart");
    const std::string err = json_of(one)["error"];
    EXPECT_NE(err.find("garbled"), std::string::npos) << err;
    EXPECT_NE(err.find(kReplacement), std::string::npos) << err;
    auto list = d_->api("GET", "/v1/services");
    ASSERT_EQ(list.status, 200) << list.body;
    EXPECT_EQ(json_of(list)["services"].size(), 2u);
    auto gw = d_->get("slowstart", "/");
    EXPECT_EQ(gw.status, 503) << gw.error;
    EXPECT_NE(error_message(gw).find("garbled"), std::string::npos) << gw.body;
    EXPECT_EQ(d_->get("fine", "/").status, 200);
}

TEST_F(E2eTest, JsonNumbersOutOfRangeAre400NamingTheProblem) {
    const std::string sha = d_->upload(e2e_app_path());
    auto overflow =
        d_->api("PUT", "/v1/services/x", R"({"image": ")" + sha + R"(", "port": 1e400})");
    EXPECT_EQ(overflow.status, 400) << overflow.body;
    EXPECT_NE(error_message(overflow).find("1e400"), std::string::npos) << overflow.body;
    for (const char* v : {"1e20", "-1", "80.5", "18446744073709551616"}) {
        auto r = d_->api("PUT", "/v1/services/x",
                         R"({"image": ")" + sha + R"(", "port": )" + std::string(v) + "}");
        EXPECT_EQ(r.status, 400) << v << ": " << r.body;
        EXPECT_NE(error_message(r).find("field 'port' must be an integer between 1 and 65535"),
                  std::string::npos)
            << r.body;
    }
    deploy_app("numbers");
    auto patch = d_->api("PATCH", "/v1/services/numbers", R"({"max_instances": 1e400})");
    EXPECT_EQ(patch.status, 400) << patch.body;
    auto since = d_->api("GET", "/v1/services/numbers/logs?since=-1");
    EXPECT_EQ(since.status, 400) << since.body;
}

// Headers of an upload that announces Content-Length bytes and sends none.
std::string upload_head(uint64_t length, const std::string& token) {
    std::string h =
        "POST /v1/images HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
        "Content-Length: " +
        std::to_string(length) + "\r\n";
    if (!token.empty()) h += "Authorization: Bearer " + token + "\r\n";
    return h + "\r\n";
}

TEST_F(E2eTest, OversizeUploadIs401WithoutTheTokenAnd413WithIt) {
    const uint64_t size = 300ull << 20;  // above the 256 MiB default
    const std::string tokens[] = {"", d_->token()};
    for (const std::string& token : tokens) {
        const int fd = connect_to(d_->api_port());
        ASSERT_GE(fd, 0);
        ASSERT_TRUE(send_all(fd, upload_head(size, token) + std::string(4096, 'x')));
        const std::string got = read_until_close(fd, 5000);
        ::close(fd);
        const std::string want = token.empty() ? "HTTP/1.1 401" : "HTTP/1.1 413";
        EXPECT_EQ(got.rfind(want, 0), 0u) << got;
        const auto body = got.find("\r\n\r\n");
        ASSERT_NE(body, std::string::npos) << got;
        EXPECT_FALSE(json::parse(got.substr(body + 4), nullptr, false).is_discarded()) << got;
    }
    EXPECT_EQ(json_of(d_->api("GET", "/v1/images"))["images"].size(), 0u);
}

TEST_F(E2eTest, UploadsCutShortByACrashAreRemovedAtStartUp) {
    const std::string sha = d_->upload(e2e_app_path());
    ASSERT_EQ(sha.size(), 64u);
    d_->kill9();
    const std::string stale =
        d_->data_dir() + "/images/" + std::string(64, 'd') + ".tmp.4242.140737488355328";
    std::ofstream(stale) << "the first half of an upload";
    struct stat st;
    ASSERT_EQ(::stat(stale.c_str(), &st), 0);
    ASSERT_EQ(d_->start(), "");
    EXPECT_NE(::stat(stale.c_str(), &st), 0) << "the unfinished upload is still there";
    EXPECT_EQ(d_->api("GET", "/v1/images/" + sha).status, 200);
    EXPECT_TRUE(d_->output().find("removed 1 unfinished image upload") != std::string::npos)
        << d_->output();
}

}  // namespace
}  // namespace ember::e2e
