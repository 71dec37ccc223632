// ember-vm sandboxes itself after setup (src/vmm/sandbox.h): the layers it
// reports with --stats, and programs that run the same inside it.
#include <unistd.h>

#include <string>

#include "test_env.h"

namespace ember::test {
namespace {

class SandboxCliTest : public EmberTest {};

std::string sandbox_line(const std::string& err) {
    const auto p = err.find("ember-vm: sandbox: ");
    return p == std::string::npos ? "" : err.substr(p, err.find('\n', p) - p);
}

TEST_F(SandboxCliTest, EveryLayerIsOnForAPlainRunAsRoot) {
    if (geteuid() != 0) GTEST_SKIP() << "the user and namespace layers need root here";
    RunResult r = run_ember({"run", "--stats", example_path("gcc", "hello")});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    const std::string line = sandbox_line(r.err);
    for (const char* layer : {"namespaces=on(mount,ipc,uts,net)", "filesystem=on", "rlimits=on",
                              "user=on(uid=65534", "seccomp=on", "thread-filters=on(vm,io)"})
        EXPECT_NE(line.find(layer), std::string::npos) << layer << " in: " << line;
}

TEST_F(SandboxCliTest, PublishedPortsKeepTheHostNetworkButStaySandboxed) {
    RunResult r = run_ember({"run", "--stats", "--timeout", "300ms", "-p",
                             std::to_string(free_port()) + ":8080",
                             example_path("gcc", "http_epoll"), "--", "8080"});
    ASSERT_TRUE(r.exited && r.exit_code == 124) << describe(r);
    const std::string line = sandbox_line(r.err);
    EXPECT_EQ(line.find(",net)"), std::string::npos) << line;
    EXPECT_NE(line.find("seccomp=on"), std::string::npos) << line;
    EXPECT_NE(line.find("listen"), std::string::npos) << line;
}

TEST_F(SandboxCliTest, NoSandboxTurnsItOffAndSaysSo) {
    RunResult r = run_ember({"run", "--stats", "--no-sandbox", example_path("gcc", "hello")});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_EQ(sandbox_line(r.err), "ember-vm: sandbox: off (--no-sandbox)");
}

}  // namespace
}  // namespace ember::test
