// host_resources_test.cpp - a hostile guest (examples/hostile_host.c) must
// not make ember-vm use host memory or CPU beyond the per-instance bounds
// (docs/security.md, "Host resources per instance"), nor hold it past its
// --timeout: flooding the net tx ring with CONNECT and LISTEN records while
// never reading the rx ring, storming the console doorbell, printing into a
// pipe nobody reads.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "test_env.h"

namespace ember::test {
namespace {

std::string prog(const std::string& name) { return example_path("gcc", name); }

// ember-vm's peak RSS for a program that uses no streams: the base the
// hostile runs are measured against.
long baseline_rss_kb() {
    static long kb = [] {
        auto r = run_ember({"run", "--mem", "16M", prog("hello")});
        return r.exited && r.exit_code == 0 ? r.maxrss_kb : 0;
    }();
    return kb;
}

// The VMM's own tables for a guest that opens no stream to a peer that
// stops reading are a few MiB at most (docs/security.md); 32 MiB of slack
// covers allocator noise. Before the bounds, the flood took ember-vm to
// hundreds of MiB within seconds.
constexpr long kSlackKb = 32 * 1024;

class HostResourcesTest : public EmberTest {};

TEST_F(HostResourcesTest, DeniedConnectFloodDoesNotGrowTheVmm) {
    ASSERT_GT(baseline_rss_kb(), 0);
    auto r = run_ember({"run", "--mem", "16M", prog("hostile_host"), "--", "--in-ember",
                        "connect-flood", "3", "192.0.2.1", "80"});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_NE(r.out.find("connect-flood: queued"), std::string::npos) << describe(r);
    EXPECT_LT(r.maxrss_kb, baseline_rss_kb() + kSlackKb)
        << "peak RSS " << r.maxrss_kb << " KiB, a plain run " << baseline_rss_kb() << " KiB\n"
        << describe(r);
}

TEST_F(HostResourcesTest, ConnectFloodPastTheStreamCapDoesNotGrowTheVmm) {
    ASSERT_GT(baseline_rss_kb(), 0);
    // An allowed destination that never accepts: the connects the host
    // makes complete in the kernel's accept queue, up to the stream cap.
    const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(l, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(l, 4096), 0);
    socklen_t al = sizeof a;
    ASSERT_EQ(getsockname(l, reinterpret_cast<sockaddr*>(&a), &al), 0);
    const std::string port = std::to_string(ntohs(a.sin_port));
    auto r = run_ember({"run", "--mem", "16M", "--allow-egress", "127.0.0.1:" + port,
                        prog("hostile_host"), "--", "--in-ember", "connect-flood", "3", "127.0.0.1",
                        port});
    ::close(l);
    ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_LT(r.maxrss_kb, baseline_rss_kb() + kSlackKb)
        << "peak RSS " << r.maxrss_kb << " KiB, a plain run " << baseline_rss_kb() << " KiB\n"
        << describe(r);
}

TEST_F(HostResourcesTest, ListenFloodDoesNotGrowTheVmm) {
    ASSERT_GT(baseline_rss_kb(), 0);
    auto r = run_ember(
        {"run", "--mem", "16M", prog("hostile_host"), "--", "--in-ember", "listen-flood", "2"});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_LT(r.maxrss_kb, baseline_rss_kb() + kSlackKb) << describe(r);
}

// The I/O thread serves the doorbell at most once per millisecond and its
// time counts against --cpu-limit: the whole process stays near the limit
// (plus boot), instead of a second core going to the storm.
TEST_F(HostResourcesTest, DoorbellStormStaysWithinTheCpuLimit) {
    auto r = run_ember({"run", "--mem", "16M", "--cpu-limit", "1s", prog("hostile_host"), "--",
                        "--in-ember", "doorbell-storm"});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 152) << describe(r);
    EXPECT_LT(r.cpu_ms, 1250) << "ember-vm used " << r.cpu_ms << " ms of CPU for a 1 s limit\n"
                              << describe(r);
}

// Runs ember-vm with stdout a pipe nobody reads; returns its exit status
// (or -1 when it had to be killed) and the wall time.
int run_with_stuck_stdout(const std::vector<std::string>& args, double* seconds) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return -2;
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        const int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        std::vector<char*> argv;
        static std::string vm = ember_vm_path();
        argv.push_back(vm.data());
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(vm.c_str(), argv.data());
        _exit(127);
    }
    ::close(p[1]);
    int status = 0, result = -1;
    for (;;) {
        const pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            result = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            break;
        }
        if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(30)) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ::close(p[0]);
    return result;
}

TEST_F(HostResourcesTest, TimeoutHoldsWhileStdoutIsAFullPipe) {
    double s = 0;
    const int code = run_with_stuck_stdout(
        {"run", "--timeout", "1s", prog("hostile_host"), "--", "--in-ember", "print-forever"}, &s);
    EXPECT_EQ(code, 124) << "after " << s << " s";
    EXPECT_LT(s, 6.0);
}

}  // namespace
}  // namespace ember::test
