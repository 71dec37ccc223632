// emberd's cgroup options: the start-up line says whether the cgroup layer
// is on and why; a --cgroup PATH that cannot be used stops emberd before it
// serves; bad limits are usage errors.
#include "e2e_test.h"
#include "subprocess.h"

namespace ember::e2e {
namespace {

test::RunResult run_emberd(const std::string& data_dir, const std::vector<std::string>& args) {
    test::RunOptions o;
    o.argv = {emberd_path(), "--data-dir", data_dir,     "--gateway",
              "127.0.0.1:0", "--api",      "127.0.0.1:0"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.timeout = std::chrono::milliseconds(10000);  // a daemon that started anyway
    return test::run_process(o);
}

TEST_F(E2eTest, StartUpSaysWhetherCgroupsAreOnAndWhy) {
    const std::string out = d_->output();
    const auto at = out.find("cgroups: ");
    ASSERT_NE(at, std::string::npos) << out;
    const std::string line = out.substr(at, out.find('\n', at) - at);
    EXPECT_TRUE(line.rfind("cgroups: on (", 0) == 0 || line.rfind("cgroups: off (", 0) == 0)
        << line;
}

TEST(EmberdCgroupOptions, UnusableCgroupPathStopsEmberd) {
    if (!have_kvm()) GTEST_SKIP() << "SKIPPED: /dev/kvm is not available";
    TempDir tmp;
    auto r = run_emberd(tmp.path() + "/data", {"--cgroup", "/ember-test-no-such-cgroup"});
    EXPECT_TRUE(r.exited && r.exit_code == 1) << test::describe(r);
    const std::string said = r.out + r.err;  // spdlog writes to stdout
    EXPECT_NE(said.find("--cgroup /ember-test-no-such-cgroup"), std::string::npos) << said;
}

TEST(EmberdCgroupOptions, BadWorkerLimitsAreUsageErrors) {
    TempDir tmp;
    for (const std::vector<std::string>& args : {std::vector<std::string>{"--worker-memory", "12x"},
                                                 {"--worker-cpus", "-1"},
                                                 {"--worker-pids", "many"}}) {
        auto r = run_emberd(tmp.path() + "/data", args);
        EXPECT_TRUE(r.exited && r.exit_code == 2) << args[0] << ": " << test::describe(r);
    }
}

}  // namespace
}  // namespace ember::e2e
