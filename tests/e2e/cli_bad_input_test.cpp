// The ember CLI with input it cannot use: arguments that are not UTF-8 (the
// JSON spec cannot carry them) and API answers of an unexpected shape (from a
// fake API). Each is one "ember: ..." line and exit status 1 or 2, never an
// uncaught exception.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <thread>

#include "e2e_test.h"
#include "subprocess.h"

namespace ember::e2e {
namespace {

// Answers "METHOD TARGET" with a canned status and JSON body, one request per
// connection, until destroyed.
class FakeApi {
  public:
    explicit FakeApi(std::map<std::string, std::pair<int, std::string>> answers)
        : answers_(std::move(answers)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 8) == 0 &&
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0)
            port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeApi() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
        thread_.join();
        ::close(fd_);
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  private:
    void serve() {
        while (!stop_) {
            const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) return;
            answer(c);
            ::close(c);
        }
    }
    void answer(int c) {
        std::string req;
        char buf[4096];
        size_t head_end;
        while ((head_end = req.find("\r\n\r\n")) == std::string::npos) {
            const ssize_t n = ::read(c, buf, sizeof buf);
            if (n <= 0) return;
            req.append(buf, static_cast<size_t>(n));
        }
        // Read the body too: closing with unread data would reset the connection.
        size_t body_len = 0;
        if (auto p = req.find("Content-Length: "); p != std::string::npos && p < head_end)
            body_len = std::stoul(req.substr(p + 16));
        while (req.size() < head_end + 4 + body_len) {
            const ssize_t n = ::read(c, buf, sizeof buf);
            if (n <= 0) return;
            req.append(buf, static_cast<size_t>(n));
        }
        const std::string line = req.substr(0, req.find(" HTTP/"));
        const auto it = answers_.find(line);
        const auto [status, body] =
            it == answers_.end() ? std::pair<int, std::string>{404, "{}"} : it->second;
        const std::string resp = "HTTP/1.1 " + std::to_string(status) +
                                 " X\r\nContent-Type: application/json\r\nContent-Length: " +
                                 std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
                                 body;
        (void)!::write(c, resp.data(), resp.size());
    }

    std::map<std::string, std::pair<int, std::string>> answers_;
    int fd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

CliResult run_cli_at(const std::string& api, const std::vector<std::string>& args) {
    test::RunOptions o;
    o.argv = {ember_cli_path(), "--api", api, "--token", "t"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.timeout = std::chrono::milliseconds(30000);
    auto r = test::run_process(o);
    return CliResult{r.exited ? r.exit_code : -1, r.out, r.err};
}

// One line on stderr, "ember: " and then `what`.
void expect_one_line_error(const CliResult& r, int status, const std::string& what) {
    EXPECT_EQ(r.status, status) << r.err;
    EXPECT_EQ(r.err.rfind("ember: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
}

TEST_F(E2eTest, CliDeployWithArgumentsThatAreNotUtf8IsAUsageError) {
    auto env = run_cli(*d_, {"deploy", e2e_app_path(), "--name", "bad-env", "--env", "K=\xff"});
    expect_one_line_error(env, 2, "--env: not valid UTF-8");
    auto arg = run_cli(*d_, {"deploy", e2e_app_path(), "--name", "bad-arg", "--", "a\xc3"});
    expect_one_line_error(arg, 2, "program argument: not valid UTF-8");
    auto egress = run_cli(
        *d_, {"deploy", e2e_app_path(), "--name", "bad-egress", "--allow-egress", "h\xfe:80"});
    expect_one_line_error(egress, 2, "--allow-egress: not valid UTF-8");
    EXPECT_EQ(d_->api("GET", "/v1/services/bad-env").status, 404);
}

TEST(CliBadAnswers, UnexpectedJsonTypesAreClearErrors) {
    const std::string service =
        R"({"name":"s","status":"ready","idle_timeout_ms":"1s","timeout_ms":1000,)"
        R"("queue_timeout_ms":1000})";
    const std::string good_service =
        R"({"name":"s","status":"ready","idle_timeout_ms":1000,"timeout_ms":1000,)"
        R"("queue_timeout_ms":1000})";
    FakeApi api({
        {"GET /v1/services/s", {200, service}},
        {"GET /v1/services/s/instances", {200, R"({"instances":[]})"}},
        {"GET /v1/services/t", {200, good_service}},
        {"GET /v1/services/t/instances",
         {200, R"({"instances":[{"id":"i-1","age_s":"old","restore_ms":1,)"
               R"("memory_bytes":1,"private_memory_bytes":0}]})"}},
        {"GET /v1/services/u", {200, good_service}},
        {"GET /v1/services/u/instances", {200, R"({"instances":{"i-1":{}}})"}},
        {"GET /v1/services", {200, R"({"services":5})"}},
        {"DELETE /v1/services/s", {200, "[1,2]"}},
        {"DELETE /v1/services/t", {404, R"({"error":{"message":7}})"}},
        {"POST /v1/images", {200, R"({"sha256":42})"}},
    });
    expect_one_line_error(run_cli_at(api.url(), {"status", "s"}), 1, "'idle_timeout_ms': \"1s\"");
    expect_one_line_error(run_cli_at(api.url(), {"status", "t"}), 1, "'age_s': \"old\"");
    expect_one_line_error(run_cli_at(api.url(), {"status", "u"}), 1, "'instances'");
    expect_one_line_error(run_cli_at(api.url(), {"ls"}), 1, "'services': 5");
    expect_one_line_error(run_cli_at(api.url(), {"rm", "s"}), 1, "not an object");
    expect_one_line_error(run_cli_at(api.url(), {"rm", "t"}), 1, "HTTP 404");
    expect_one_line_error(run_cli_at(api.url(), {"deploy", e2e_app_path(), "--name", "d"}), 1,
                          "'sha256': 42");
}

}  // namespace
}  // namespace ember::e2e
