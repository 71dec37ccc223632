// The control API's request handling (Api::handle) against fake guests: JSON
// answers that stay valid whatever bytes a guest prints, numbers out of
// range, and images deleted while a deploy of them is in progress.
#include "platform/api.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <nlohmann/json.hpp>

#include "platform/data_dir.h"
#include "test_util.h"

namespace ember::platform {
namespace {

using nlohmann::json;

const std::string kToken = "0123456789abcdef0123456789abcdef";
// Not UTF-8: a stray byte, a truncated sequence, a surrogate, above U+10FFFF.
const std::string kGarbage = "out \xff\xfe \xc3 \xed\xa0\x80 \xf4\x90\x80\x80 end";

class NoGuest : public Guest {
  public:
    void adopt(int fd, uint16_t) override { ::close(fd); }
    void post(int fd, uint16_t) override { ::close(fd); }
    void stop() override {}
    InstanceEnd run() override { return {true, "stopped"}; }
};

class FakePrepared : public Prepared {
  public:
    std::string describe() const override { return "fake"; }
    uint64_t memory_bytes() const override { return 64 << 20; }
};

// prepare() prints `output`, then fails when `fail` is set; with `hold`, it
// waits until release() first (a deploy caught while preparing).
class FakeFactory : public GuestFactory {
  public:
    Result<std::shared_ptr<const Prepared>> prepare(const ServiceSpec&, const std::string&,
                                                    const ConsoleFn& console) override {
        std::unique_lock lock(mu_);
        if (console) console(1, output.data(), output.size());
        preparing_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return !hold; });
        preparing_ = false;
        if (fail)
            return Status::aborted("the program exited with status 1; its output ends with:\n" +
                                   output);
        return std::shared_ptr<const Prepared>(std::make_shared<FakePrepared>());
    }
    Result<std::shared_ptr<const Prepared>> open(const ServiceSpec&, const std::string&) override {
        return std::shared_ptr<const Prepared>(std::make_shared<FakePrepared>());
    }
    Result<std::unique_ptr<Guest>> restore(const std::shared_ptr<const Prepared>&,
                                           const ConsoleFn&) override {
        return std::unique_ptr<Guest>(std::make_unique<NoGuest>());
    }
    void wait_preparing() {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return preparing_; });
    }
    void release() {
        std::lock_guard lock(mu_);
        hold = false;
        cv_.notify_all();
    }

    std::string output = "ready";
    bool fail = false;
    bool hold = false;  // set before the deploy starts

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool preparing_ = false;
};

class ApiTest : public ::testing::Test {
  protected:
    ApiTest()
        : dir_(std::move(*DataDir::open(scratch_.path() + "/data"))),
          store_(std::move(*Store::open(dir_.db_path()))),
          images_(dir_.images_dir()),
          manager_(factory_, logs_, metrics_),
          controller_(*store_, images_, dir_, factory_, manager_, logs_),
          api_(ApiInfo{"test", "127.0.0.1:8080", "localhost"}, kToken, *store_, images_,
               controller_, manager_, metrics_, logs_) {}
    ~ApiTest() override { manager_.shutdown(); }

    ApiResponse call(const std::string& method, const std::string& target,
                     const std::string& body = "") {
        return api_.handle(ApiRequest{method, target, "Bearer " + kToken, "", body});
    }
    // The body as JSON; fails the test when it is not (nlohmann's parser
    // rejects invalid UTF-8).
    json body_of(const ApiResponse& r) {
        try {
            return json::parse(r.body);
        } catch (const json::exception& e) {
            ADD_FAILURE() << "not valid JSON (" << e.what() << "): " << r.body;
            return json();
        }
    }
    std::string upload(const std::string& bytes = "program bytes") {
        auto r = call("POST", "/v1/images", bytes);
        EXPECT_TRUE(r.status == 200 || r.status == 201) << r.body;
        return body_of(r)["sha256"];
    }

    ScratchDir scratch_;
    DataDir dir_;
    std::unique_ptr<Store> store_;
    ImageStore images_;
    LogHub logs_;
    Metrics metrics_;
    FakeFactory factory_;
    InstanceManager manager_;
    ServiceController controller_;
    Api api_;
};

TEST_F(ApiTest, FailedDeployWithInvalidUtf8OutputIs422WithValidJson) {
    const std::string sha = upload();
    factory_.output = kGarbage;
    factory_.fail = true;
    auto r = call("PUT", "/v1/services/broken", json{{"image", sha}}.dump());
    EXPECT_EQ(r.status, 422) << r.body;
    const std::string msg = body_of(r)["error"]["message"];
    EXPECT_NE(msg.find("out \xEF\xBF\xBD"), std::string::npos) << msg;
}

TEST_F(ApiTest, InvalidUtf8InLogsAndServiceErrorsKeepsEveryAnswerValidJson) {
    const std::string sha = upload();
    factory_.output = kGarbage + "\n";
    ASSERT_EQ(call("PUT", "/v1/services/good", json{{"image", sha}}.dump()).status, 201);
    ASSERT_EQ(call("PUT", "/v1/services/bad", json{{"image", sha}}.dump()).status, 201);
    // As after a restart whose rebuild of the snapshot failed.
    auto bad = store_->get_service("bad");
    ASSERT_TRUE(bad && bad->has_value());
    manager_.deploy(**bad, nullptr);
    manager_.set_failed("bad", 1, "preparing the snapshot failed: " + kGarbage);
    logs_.append("good", "i-1", "stdout", kGarbage);

    auto list = call("GET", "/v1/services");
    ASSERT_EQ(list.status, 200) << list.body;
    EXPECT_EQ(body_of(list)["services"].size(), 2u);
    auto one = call("GET", "/v1/services/bad");
    ASSERT_EQ(one.status, 200) << one.body;
    EXPECT_EQ(body_of(one)["status"], "failed");
    auto logs = call("GET", "/v1/services/good/logs?format=json");
    ASSERT_EQ(logs.status, 200) << logs.body;
    const json lines = body_of(logs)["lines"];
    ASSERT_GE(lines.size(), 2u);  // the prepare boot's line and the instance's
    EXPECT_EQ(lines.back()["text"],
              "out \xEF\xBF\xBD\xEF\xBF\xBD \xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD"
              "\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD end");
    auto text = call("GET", "/v1/services/good/logs");
    ASSERT_EQ(text.status, 200);
    EXPECT_EQ(text.body.find('\xff'), std::string::npos) << "text logs are UTF-8 too";
}

TEST_F(ApiTest, ErrorMessageWithInputCutMidCharacterIsValidJson) {
    // The message quotes the first 80 bytes of the key: the cut splits "é".
    const std::string key = std::string(79, 'k') + "\xc3\xa9";
    auto r = call("PUT", "/v1/services/x", json{{"image", upload()}, {key, 1}}.dump());
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(body_of(r)["error"]["code"], "invalid_argument");
}

TEST_F(ApiTest, NumberBeyondADoubleIs400InvalidJson) {
    const std::string sha = upload();
    for (const char* method : {"PUT", "PATCH"}) {
        auto r = call(method, "/v1/services/x", R"({"image": ")" + sha + R"(", "port": 1e400})");
        EXPECT_EQ(r.status, 400) << method << ": " << r.body;
        EXPECT_EQ(body_of(r)["error"]["code"], "invalid_json");
        const std::string msg = body_of(r)["error"]["message"];
        EXPECT_NE(msg.find("1e400"), std::string::npos) << msg;
    }
    auto post = call("POST", "/v1/services",
                     R"({"name": "x", "image": ")" + sha + R"(", "concurrency": -1e999})");
    EXPECT_EQ(post.status, 400) << post.body;
}

TEST_F(ApiTest, LogQueryNumbersMustBeNonNegativeIntegers) {
    ASSERT_EQ(call("PUT", "/v1/services/x", json{{"image", upload()}}.dump()).status, 201);
    for (const char* q : {"since=-1", "tail=-5", "tail=1x", "since=%2012", "since=1e3",
                          "tail=99999999999999999999", "since=18446744073709551616"}) {
        auto r = call("GET", std::string("/v1/services/x/logs?") + q);
        EXPECT_EQ(r.status, 400) << q << ": " << r.body;
    }
    EXPECT_EQ(call("GET", "/v1/services/x/logs?since=18446744073709551615&tail=0").status, 200);
}

TEST_F(ApiTest, DeletingAnImageWhileADeployOfItPreparesIs409) {
    const std::string sha = upload();
    factory_.hold = true;
    auto deploy = std::async(std::launch::async, [&] {
        return call("PUT", "/v1/services/slow", json{{"image", sha}}.dump());
    });
    factory_.wait_preparing();
    auto del = call("DELETE", "/v1/images/" + sha);
    EXPECT_EQ(del.status, 409) << del.body;
    EXPECT_NE(
        std::string(body_of(del)["error"]["message"]).find("deploy of service 'slow' in progress"),
        std::string::npos)
        << del.body;
    factory_.release();
    ASSERT_EQ(deploy.get().status, 201);
    EXPECT_TRUE(images_.exists(sha)) << "the service's snapshot can be rebuilt from its image";
    EXPECT_EQ(call("DELETE", "/v1/images/" + sha).status, 409) << "the service uses it now";
    ASSERT_EQ(call("DELETE", "/v1/services/slow").status, 204);
    EXPECT_EQ(call("DELETE", "/v1/images/" + sha).status, 204);
}

TEST_F(ApiTest, AFailedDeployNoLongerHoldsItsImage) {
    const std::string sha = upload();
    factory_.fail = true;
    ASSERT_EQ(call("PUT", "/v1/services/broken", json{{"image", sha}}.dump()).status, 422);
    EXPECT_EQ(call("DELETE", "/v1/images/" + sha).status, 204);
}

std::string header(const ApiResponse& r, const std::string& key) {
    for (const auto& [k, v] : r.headers)
        if (k == key) return v;
    return "";
}

TEST_F(ApiTest, ConsoleFilesNeedNoTokenAndForbidOtherOrigins) {
    EXPECT_TRUE(Api::is_public("GET", "/"));
    EXPECT_TRUE(Api::is_public("GET", "/console/app.js?v=1"));
    EXPECT_FALSE(Api::is_public("POST", "/"));
    EXPECT_FALSE(Api::is_public("GET", "/v1/services"));
    EXPECT_FALSE(Api::is_public("GET", "/consolex"));
    auto page = api_.handle(ApiRequest{"GET", "/", "", "", ""});
    ASSERT_EQ(page.status, 200) << page.body;
    EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
    EXPECT_NE(page.body.find("<title>Ember console</title>"), std::string::npos);
    EXPECT_NE(header(page, "Content-Security-Policy").find("default-src 'self'"),
              std::string::npos);
    EXPECT_EQ(header(page, "X-Content-Type-Options"), "nosniff");
    auto js = api_.handle(ApiRequest{"GET", "/console/app.js", "", "", ""});
    ASSERT_EQ(js.status, 200);
    EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
    auto missing = api_.handle(ApiRequest{"GET", "/console/../token", "", "", ""});
    EXPECT_EQ(missing.status, 404) << missing.body;
    EXPECT_EQ(body_of(missing)["error"]["code"], "not_found");
    // Not a console file: the token is needed as before.
    EXPECT_EQ(api_.handle(ApiRequest{"POST", "/", "", "", ""}).status, 401);
    EXPECT_EQ(api_.handle(ApiRequest{"GET", "/v1/services", "Bearer wrong", "", ""}).status, 401);
}

TEST_F(ApiTest, DataAnswersAreNeverCached) {
    for (auto r : {call("GET", "/v1/services"), call("GET", "/v1/nope"),
                   api_.handle(ApiRequest{"GET", "/v1/info", "", "", ""})}) {
        EXPECT_EQ(header(r, "Cache-Control"), "no-store") << r.status;
        EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff");
        EXPECT_NE(header(r, "Content-Security-Policy").find("default-src 'none'"),
                  std::string::npos);
    }
}

TEST_F(ApiTest, StatsSeriesFollowsTheGatewayCounters) {
    ASSERT_EQ(call("PUT", "/v1/services/web", json{{"image", upload()}}.dump()).status, 201);
    auto& ok = metrics_.counter("ember_requests_total", {{"service", "web"}, {"code", "200"}});
    auto& bad = metrics_.counter("ember_requests_total", {{"service", "web"}, {"code", "502"}});
    ok.inc(3);
    api_.sample_stats();  // the baseline
    auto none = call("GET", "/v1/services/web/stats");
    ASSERT_EQ(none.status, 200) << none.body;
    EXPECT_TRUE(body_of(none)["points"].empty());
    EXPECT_EQ(body_of(none)["interval_s"], 10);
    EXPECT_EQ(body_of(none)["retention_s"], 3600);
    ok.inc(5);
    bad.inc(1);
    metrics_.histogram("ember_request_duration_seconds", {{"service", "web"}}).observe(0.004);
    api_.sample_stats();
    const json pts = body_of(call("GET", "/v1/services/web/stats"))["points"];
    ASSERT_EQ(pts.size(), 1u);
    EXPECT_EQ(pts[0]["requests"], 6);
    EXPECT_EQ(pts[0]["errors"], 1);
    EXPECT_EQ(pts[0]["instances"], 0);
    EXPECT_GT(pts[0]["p50_ms"].get<double>(), 2.0);
    EXPECT_LE(pts[0]["p50_ms"].get<double>(), 5.0);
    EXPECT_TRUE(pts[0]["restore_ms"].is_null());
    const int64_t t = pts[0]["t"];
    EXPECT_TRUE(body_of(call("GET", "/v1/services/web/stats?since=" + std::to_string(t)))["points"]
                    .empty());

    ok.inc(2);  // after the last sample: the totals are live, the point is not
    const json all = body_of(call("GET", "/v1/stats"));
    ASSERT_EQ(all["services"].size(), 1u);
    EXPECT_EQ(all["services"][0]["name"], "web");
    EXPECT_EQ(all["services"][0]["requests_total"], 11);
    EXPECT_EQ(all["services"][0]["errors_total"], 1);
    EXPECT_EQ(all["services"][0]["last"]["requests"], 6);

    EXPECT_EQ(call("GET", "/v1/services/nope/stats").status, 404);
    EXPECT_EQ(call("GET", "/v1/services/web/stats?since=-1").status, 400);
    EXPECT_EQ(call("POST", "/v1/stats").status, 405);
}

TEST_F(ApiTest, GetResultWithEveryStatusFieldIsAValidPutBody) {
    const std::string sha = upload();
    ASSERT_EQ(call("PUT", "/v1/services/web", json{{"image", sha}}.dump()).status, 201);
    json svc = body_of(call("GET", "/v1/services/web"));
    svc["error"] = "shown while the service has failed";  // not in every GET result
    for (const char* k : {"generation", "status", "instances", "queued", "snapshot", "url"})
        EXPECT_TRUE(svc.contains(k)) << k;
    svc["max_instances"] = 3;
    auto put = call("PUT", "/v1/services/web", svc.dump());
    ASSERT_EQ(put.status, 200) << put.body;
    EXPECT_EQ(body_of(put)["max_instances"], 3);
}

}  // namespace
}  // namespace ember::platform
