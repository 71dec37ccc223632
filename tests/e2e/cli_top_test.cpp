// ember top and ember open against a real emberd.
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "e2e_test.h"
#include "subprocess.h"

namespace ember::e2e {
namespace {

// The table's row for a service, split into columns ("" columns: no row).
std::vector<std::string> row(const std::string& table, const std::string& name) {
    std::istringstream lines(table);
    for (std::string l; std::getline(lines, l);) {
        std::istringstream cols(l);
        std::vector<std::string> v;
        for (std::string c; cols >> c;) v.push_back(c);
        if (!v.empty() && v[0] == name) return v;
    }
    return {};
}

// Columns: NAME STATUS INSTANCES REQ/S P50 P99 REQUESTS COLD ERRORS.
TEST_F(E2eTest, CliTopOnceShowsTotalsAndRates) {
    deploy_app("topped");
    for (int i = 0; i < 5; ++i) ASSERT_EQ(d_->get("topped", "/").status, 200);
    ASSERT_EQ(d_->get("topped", "/crash").status, 502);  // an error
    auto quiet = run_cli(*d_, {"top", "--once", "--interval", "200ms"});
    ASSERT_EQ(quiet.status, 0) << quiet.err;
    EXPECT_EQ(quiet.out.rfind("NAME", 0), 0u) << quiet.out;
    auto r = row(quiet.out, "topped");
    ASSERT_EQ(r.size(), 9u) << quiet.out;
    EXPECT_EQ(r[3], "0.0") << quiet.out;  // nothing in the interval
    EXPECT_EQ(r[4], "-") << quiet.out;
    EXPECT_EQ(r[6], "6") << quiet.out;
    EXPECT_GE(std::stoi(r[7]), 1) << quiet.out;
    EXPECT_EQ(r[8], "1") << quiet.out;

    // With a client sending requests during the interval: a rate and latencies.
    std::atomic<bool> stop{false};
    std::thread client([&] {
        while (!stop) d_->get("topped", "/");
    });
    auto busy = run_cli(*d_, {"top", "--once", "--interval", "1s"});
    stop = true;
    client.join();
    ASSERT_EQ(busy.status, 0) << busy.err;
    r = row(busy.out, "topped");
    ASSERT_EQ(r.size(), 9u) << busy.out;
    EXPECT_GT(std::stod(r[3]), 0.0) << busy.out;
    EXPECT_NE(r[4], "-") << busy.out;
    EXPECT_NE(r[5], "-") << busy.out;
}

// Without a terminal, top prints a table per interval until it is stopped.
TEST_F(E2eTest, CliTopRefreshes) {
    deploy_app("live");
    test::RunOptions o;
    o.argv = {
        ember_cli_path(), "--api",        "http://127.0.0.1:" + std::to_string(d_->api_port()),
        "--data-dir",     d_->data_dir(), "top",
        "--interval",     "200ms"};
    o.timeout = std::chrono::milliseconds(1500);
    auto r = test::run_process(o);
    size_t tables = 0;
    for (size_t p = r.out.find("NAME"); p != std::string::npos; p = r.out.find("NAME", p + 1))
        ++tables;
    EXPECT_GE(tables, 3u) << r.out;
    EXPECT_EQ(row(r.out, "live").size(), 9u) << r.out;
}

TEST_F(E2eTest, CliTopBadIntervalIsAUsageError) {
    auto r = run_cli(*d_, {"top", "--interval", "10ms"});
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.err.rfind("ember: --interval: ", 0), 0u) << r.err;
}

TEST_F(E2eTest, CliOpenPrintsTheConsoleUrl) {
    auto r = run_cli(*d_, {"open"});  // no DISPLAY in the test's environment
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "http://127.0.0.1:" + std::to_string(d_->api_port()) + "/\n");
    // There is the console: its files without a token, its data only with one.
    auto page = http_request(d_->api_port(), "GET", "/");
    EXPECT_EQ(page.status, 200) << page.body;
    EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
    EXPECT_NE(page.header("content-security-policy").find("default-src 'self'"), std::string::npos);
    EXPECT_NE(page.body.find("/console/app.js"), std::string::npos);
    EXPECT_EQ(http_request(d_->api_port(), "GET", "/console/app.js").status, 200);
    auto data = http_request(d_->api_port(), "GET", "/v1/stats");
    EXPECT_EQ(data.status, 401);
    EXPECT_EQ(data.header("cache-control"), "no-store");
}

// With a display and an xdg-open on PATH, the URL is handed to it (an
// argument, not shell text).
TEST_F(E2eTest, CliOpenRunsXdgOpenWhereADisplayIsSet) {
    const std::string bin = tmp_.path() + "/bin", opened = tmp_.path() + "/opened";
    ASSERT_EQ(::mkdir(bin.c_str(), 0755), 0);
    std::ofstream(bin + "/xdg-open") << "#!/bin/sh\necho \"$1\" > " << opened << "\n";
    ASSERT_EQ(::chmod((bin + "/xdg-open").c_str(), 0755), 0);
    test::RunOptions o;
    o.argv = {ember_cli_path(), "--api", "http://127.0.0.1:" + std::to_string(d_->api_port()),
              "open"};
    o.env = {"DISPLAY=:0", "PATH=" + bin + ":/usr/bin:/bin"};
    auto r = test::run_process(o);
    const std::string url = "http://127.0.0.1:" + std::to_string(d_->api_port()) + "/";
    EXPECT_TRUE(r.exited && r.exit_code == 0) << test::describe(r);
    EXPECT_EQ(r.out, url + "\n");
    std::ifstream f(opened);
    std::string got;
    std::getline(f, got);
    EXPECT_EQ(got, url);
    // --print: only the URL.
    ::unlink(opened.c_str());
    o.argv.push_back("--print");
    r = test::run_process(o);
    EXPECT_TRUE(r.exited && r.exit_code == 0) << test::describe(r);
    EXPECT_NE(::access(opened.c_str(), F_OK), 0);
}

TEST(CliOpen, DownApiIsAnError) {
    test::RunOptions o;
    o.argv = {ember_cli_path(), "--api", "http://127.0.0.1:1", "open"};
    auto r = test::run_process(o);
    EXPECT_TRUE(r.exited && r.exit_code == 1) << test::describe(r);
    EXPECT_EQ(r.err.rfind("ember: cannot connect to 127.0.0.1:1", 0), 0u) << r.err;
}

}  // namespace
}  // namespace ember::e2e
