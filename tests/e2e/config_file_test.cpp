// emberd --config FILE: options from a file (the package's
// /etc/ember/emberd.conf), unknown keys and unreadable files as clear usage
// errors, and the packaged file kept complete and valid.
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "e2e_test.h"
#include "subprocess.h"

namespace ember::e2e {
namespace {

std::string packaged_conf() { return std::string(EMBER_PACKAGING_DIR) + "/emberd.conf"; }

test::RunResult run_emberd(const std::vector<std::string>& args) {
    test::RunOptions o;
    o.argv = {emberd_path()};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.timeout = std::chrono::milliseconds(10000);  // a daemon that started anyway
    return test::run_process(o);
}

std::string write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
    return path;
}

// The listen addresses and the data directory come only from the file: the
// API answers on its port (start_with_config waits for it) and a deployed
// service answers through the gateway's.
TEST(EmberdConfig, FileSetsTheListenAddresses) {
    if (!have_kvm()) GTEST_SKIP() << "SKIPPED: /dev/kvm is not available";
    TempDir tmp;
    EmberdProcess d(tmp.path() + "/data");
    ASSERT_EQ(d.start_with_config("log-level = warn\n"), "");
    auto r = d.deploy("conf", e2e_app_path());
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.status << r.body << d.output();
    auto g = d.get("conf", "/");
    EXPECT_EQ(g.status, 200) << g.body << g.error;
    // log-level = warn took effect: the start-up banner (info) is not printed.
    EXPECT_EQ(d.output().find("API token in"), std::string::npos) << d.output();
}

TEST(EmberdConfig, UnknownKeyIsAUsageError) {
    TempDir tmp;
    const auto conf = write(tmp.path() + "/bad.conf", "api = 127.0.0.1:0\ngatway = 127.0.0.1:0\n");
    auto r = run_emberd({"--config", conf, "--data-dir", tmp.path() + "/data"});
    EXPECT_TRUE(r.exited && r.exit_code == 2) << test::describe(r);
    EXPECT_EQ(r.err,
              "emberd: --config " + conf + ": unknown option 'gatway' (see emberd --help)\n");
}

TEST(EmberdConfig, BadValueIsTheOptionsUsageError) {
    TempDir tmp;
    const auto conf = write(tmp.path() + "/bad.conf", "gateway = 127.0.0.1:80800\n");
    auto r = run_emberd({"--config", conf, "--data-dir", tmp.path() + "/data"});
    EXPECT_TRUE(r.exited && r.exit_code == 2) << test::describe(r);
    EXPECT_EQ(r.err.rfind("emberd: --gateway: expected ADDR:PORT, got '127.0.0.1:80800'", 0), 0u)
        << r.err;
}

TEST(EmberdConfig, MissingFileIsAUsageError) {
    TempDir tmp;
    auto r = run_emberd({"--config", tmp.path() + "/none.conf"});
    EXPECT_TRUE(r.exited && r.exit_code == 2) << test::describe(r);
    EXPECT_EQ(r.err.rfind("emberd: --config: " + tmp.path() + "/none.conf", 0), 0u) << r.err;
}

// Every long option of emberd --help is documented in the packaged file, as
// "# name = default" (data-dir is set: the package's data directory).
TEST(EmberdConfig, PackagedFileListsEveryOption) {
    auto help = run_emberd({"--help"});
    ASSERT_TRUE(help.exited && help.exit_code == 0) << test::describe(help);
    std::set<std::string> options;
    const std::regex opt(R"(^\s+--([a-z][a-z0-9-]*))");
    std::istringstream lines(help.out);
    for (std::string l; std::getline(lines, l);) {
        std::smatch m;
        if (std::regex_search(l, m, opt)) options.insert(m[1]);
    }
    for (const char* not_in_file : {"help", "version", "config"}) options.erase(not_in_file);
    ASSERT_GT(options.size(), 15u) << help.out;
    std::ifstream f(packaged_conf());
    ASSERT_TRUE(f) << packaged_conf();
    std::set<std::string> keys;
    const std::regex key(R"(^(# )?([a-z][a-z0-9-]*) = \S)");
    for (std::string l; std::getline(f, l);) {
        std::smatch m;
        if (std::regex_search(l, m, key)) keys.insert(m[2]);
    }
    for (const auto& o : options) EXPECT_TRUE(keys.count(o)) << "emberd.conf lacks --" << o;
    for (const auto& k : keys) EXPECT_TRUE(options.count(k)) << "emberd.conf: no option --" << k;
}

// The packaged file with every commented default turned on is accepted: the
// documented defaults are valid values (the test's own addresses and data
// directory win, as command-line options).
TEST(EmberdConfig, PackagedDefaultsAreAccepted) {
    if (!have_kvm()) GTEST_SKIP() << "SKIPPED: /dev/kvm is not available";
    TempDir tmp;
    std::ifstream f(packaged_conf());
    ASSERT_TRUE(f) << packaged_conf();
    std::string all;
    const std::regex commented(R"(^# ([a-z][a-z0-9-]* = \S.*)$)");
    for (std::string l; std::getline(f, l);) {
        std::smatch m;
        all += (std::regex_match(l, m, commented) ? std::string(m[1]) : l) + "\n";
    }
    const auto conf = write(tmp.path() + "/all.conf", all);
    EmberdProcess d(tmp.path() + "/data", {"--config", conf});
    EXPECT_EQ(d.start(), "");
}

}  // namespace
}  // namespace ember::e2e
