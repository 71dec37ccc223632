// emberd's command line: bad options are usage errors (status 2, one line),
// found before anything is started.
#include "e2e_test.h"
#include "subprocess.h"

namespace ember::e2e {
namespace {

test::RunResult run_emberd(const std::string& data_dir, const std::vector<std::string>& args) {
    test::RunOptions o;
    o.argv = {emberd_path(), "--data-dir", data_dir};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.timeout = std::chrono::milliseconds(10000);  // a daemon that started anyway
    return test::run_process(o);
}

// Trailing junk, signs, spaces, out-of-range ports and empty hosts: none of
// them may quietly become some other address. Port 0 keeps an accepted
// mistake from taking a real port while this test fails.
TEST(EmberdOptions, BadListenAddressesAreUsageErrors) {
    TempDir tmp;
    ASSERT_FALSE(tmp.path().empty());
    for (const char* flag : {"--gateway", "--api"}) {
        for (const std::string bad : {"127.0.0.1:0abc", "127.0.0.1:65536", "127.0.0.1:99999999999",
                                      "127.0.0.1:", "127.0.0.1", ":0", "[]:0", "127.0.0.1:+0",
                                      "127.0.0.1: 0", "127.0.0.1:-0"}) {
            const std::string other = flag == std::string("--api") ? "--gateway" : "--api";
            auto r = run_emberd(tmp.path() + "/data", {flag, bad, other, "127.0.0.1:0"});
            EXPECT_TRUE(r.exited && r.exit_code == 2)
                << flag << " " << bad << ": " << test::describe(r);
            EXPECT_EQ(
                r.err.rfind(
                    std::string("emberd: ") + flag + ": expected ADDR:PORT, got '" + bad + "'", 0),
                0u)
                << r.err;
            EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
        }
    }
}

// HTTPS options: certificates and keys come in pairs, the redirect needs a
// certificate, an unreadable file is named, and a key that does not go
// with its certificate stops emberd at start (the gateway says why).
TEST(EmberdOptions, BadTlsOptionsAreUsageErrors) {
    TempDir tmp;
    ASSERT_FALSE(tmp.path().empty());
    const std::string none = tmp.path() + "/none.pem";
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
        {{"--tls-cert", none}, "emberd: --tls-cert and --tls-key: 1 certificates but 0 keys"},
        {{"--https-redirect"}, "emberd: --https-redirect needs --tls-cert and --tls-key"},
        {{"--tls-cert", none, "--tls-key", none},
         "emberd: --tls-cert/--tls-key: cannot read " + none},
        {{"--https", "127.0.0.1:x"}, "emberd: --https: expected ADDR:PORT"},
    };
    for (const auto& [args, want] : cases) {
        std::vector<std::string> a = args;
        a.insert(a.end(), {"--gateway", "127.0.0.1:0", "--api", "127.0.0.1:0"});
        auto r = run_emberd(tmp.path() + "/data", a);
        EXPECT_TRUE(r.exited && r.exit_code == 2) << args[0] << ": " << test::describe(r);
        EXPECT_EQ(r.err.rfind(want, 0), 0u) << r.err;
    }
}

// The VM workers' options: a user that is root or not a number, and a
// worker count out of range, are refused before anything starts.
TEST(EmberdOptions, BadWorkerOptionsAreUsageErrors) {
    TempDir tmp;
    ASSERT_FALSE(tmp.path().empty());
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
        {{"--worker-user", "0"}, "emberd: --worker-user: expected UID[:GID]"},
        {{"--worker-user", "1000:0"}, "emberd: --worker-user: expected UID[:GID]"},
        {{"--worker-user", "nobody"}, "emberd: --worker-user: expected UID[:GID]"},
        {{"--worker-user", "12a"}, "emberd: --worker-user: expected UID[:GID]"},
        {{"--vm-workers", "0"}, "emberd: --vm-workers: expected 1 to 64"},
        {{"--vm-workers", "65"}, "emberd: --vm-workers: expected 1 to 64"},
        {{"--vms-per-worker", "0"}, "emberd: --vms-per-worker: expected 1 to 100000"},
        {{"--max-vm-workers", "0"}, "emberd: --max-vm-workers: expected 1 to 1024"},
    };
    for (const auto& [args, want] : cases) {
        std::vector<std::string> a = args;
        a.insert(a.end(), {"--gateway", "127.0.0.1:0", "--api", "127.0.0.1:0"});
        auto r = run_emberd(tmp.path() + "/data", a);
        EXPECT_TRUE(r.exited && r.exit_code == 2) << args[1] << ": " << test::describe(r);
        EXPECT_EQ(r.err.rfind(want, 0), 0u) << r.err;
        EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
    }
}

}  // namespace
}  // namespace ember::e2e
