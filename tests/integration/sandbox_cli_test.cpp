// ember-vm sandboxes itself after setup (src/vmm/sandbox.h): the layers it
// reports with --stats, and programs that run the same inside it.
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

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

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// A running ember-vm's threads, seen in /proc: its main thread runs the
// vCPU under the "vm" filter on top of the process's.
TEST_F(SandboxCliTest, TheVcpuThreadRunsUnderTheVmThreadFilter) {
    if (read_text("/proc/self/status").find("Seccomp_filters:") == std::string::npos)
        GTEST_SKIP() << "no Seccomp_filters in /proc (kernel < 5.9)";
    const std::string vm = ember_vm_path(), prog = example_path("gcc", "http_epoll");
    const std::string port = std::to_string(free_port()) + ":8080";
    const pid_t pid = fork();
    if (pid == 0) {
        execl(vm.c_str(), vm.c_str(), "run", "--timeout", "5s", "-p", port.c_str(), prog.c_str(),
              "--", "8080", static_cast<char*>(nullptr));
        _exit(127);
    }
    ASSERT_GT(pid, 0);
    const std::string task = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid);
    auto filters = [&] {
        const std::string status = read_text(task + "/status");
        const auto at = status.find("Seccomp_filters:");
        return at == std::string::npos ? -1 : std::atoi(status.c_str() + at + 16);
    };
    int n = 0;
    for (int i = 0; i < 250 && (n = filters()) < 2; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ::kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    // (Its name says nothing here: the binary is called ember-vm too.)
    EXPECT_EQ(n, 2) << "the process's filter and the vm thread filter";
}

TEST_F(SandboxCliTest, NoSandboxTurnsItOffAndSaysSo) {
    RunResult r = run_ember({"run", "--stats", "--no-sandbox", example_path("gcc", "hello")});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_EQ(sandbox_line(r.err), "ember-vm: sandbox: off (--no-sandbox)");
}

}  // namespace
}  // namespace ember::test
