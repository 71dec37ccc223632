// ember-vm sandboxes itself after setup (src/vmm/sandbox.h): the layers it
// reports with --stats, and programs that run the same inside it.
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
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

// How many processes of process group pgid are alive and not zombies.
int running_in_group(pid_t pgid) {
    int n = 0;
    DIR* d = opendir("/proc");
    if (d == nullptr) return -1;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        // /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces.
        const std::string stat = read_text(std::string("/proc/") + e->d_name + "/stat");
        const auto close_paren = stat.rfind(')');
        if (close_paren == std::string::npos) continue;
        std::istringstream rest(stat.substr(close_paren + 2));
        char state = 0;
        long ppid = 0, pgrp = 0;
        rest >> state >> ppid >> pgrp;
        if (pgrp == pgid && state != 'Z' && state != 'X') ++n;
    }
    closedir(d);
    return n;
}

// ember-vm ends before its VM is torn down (src/vmm/exit_reaper.h): the
// reaper that finishes the teardown must be gone soon after, and what the
// run held open outside (here its stdout pipe) is closed when the exit is
// seen.
TEST_F(SandboxCliTest, NothingIsLeftRunningAfterTheRun) {
    const std::string vm = ember_vm_path(), prog = example_path("gcc", "hello");
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    const pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);  // the reaper stays in this group
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execl(vm.c_str(), vm.c_str(), "run", prog.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    ASSERT_GT(pid, 0);
    close(out[1]);
    setpgid(pid, pid);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    // Its output is complete and the pipe at end-of-file without waiting
    // for anything else: a non-blocking read sees the end right away.
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    std::string text;
    char buf[256];
    ssize_t n;
    while ((n = read(out[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
    EXPECT_EQ(n, 0) << "the pipe is still open somewhere (errno " << errno << ")";
    close(out[0]);
    EXPECT_EQ(text, "Hello from Ember!\n");
    // The reaper, reparented to init, ends as a zombie that init reaps in
    // its own time: only a process that is not a zombie is still running.
    bool gone = false;
    for (int i = 0; i < 500 && !gone; ++i) {
        gone = running_in_group(pid) == 0;
        if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(gone) << "a process of ember-vm's group still runs 5 s after it exited";
}

// A published port is free again once the run's exit is seen.
TEST_F(SandboxCliTest, APublishedPortIsFreeWhenTheRunHasEnded) {
    const uint16_t port = free_port();
    RunResult r = run_ember({"run", "--timeout", "300ms", "-p", std::to_string(port) + ":8080",
                             example_path("gcc", "http_epoll"), "--", "8080"});
    ASSERT_TRUE(r.exited && r.exit_code == 124) << describe(r);
    const int s = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(s, 0);
    const int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    EXPECT_EQ(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << "errno " << errno;
    EXPECT_EQ(listen(s, 1), 0) << "errno " << errno;
    close(s);
}

}  // namespace
}  // namespace ember::test
