// The gateway process: emberd runs its HTTP gateway as a child process that
// is unprivileged, sandboxed and holds no secret, and replaces it when it
// dies. Looked at from the outside, through /proc.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "e2e_test.h"

namespace ember::e2e {
namespace {

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// The value of "Key:" in /proc/<pid>/status, trimmed ("" when absent).
std::string status_field(pid_t pid, const std::string& key) {
    std::istringstream in(read_text("/proc/" + std::to_string(pid) + "/status"));
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(key + ":", 0) != 0) continue;
        std::string v = line.substr(key.size() + 1);
        v.erase(0, v.find_first_not_of(" \t"));
        return v;
    }
    return "";
}

pid_t gateway_pid(pid_t daemon) { return helper_pid(daemon, "gateway"); }

std::string link_of(const std::string& path) {
    char buf[512];
    const ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
    return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

std::vector<std::string> fd_targets(pid_t pid) {
    std::vector<std::string> out;
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = opendir(dir.c_str());
    if (!d) return out;
    while (dirent* e = readdir(d))
        if (e->d_name[0] != '.') out.push_back(link_of(dir + "/" + e->d_name));
    closedir(d);
    return out;
}

// The value of a sample line "name{labels} value" in a /metrics text; -1
// when it is not there.
double sample(const std::string& text, const std::string& series) {
    const auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + series.size() + 2));
}

TEST_F(E2eTest, GatewayProcessIsUnprivilegedSandboxedAndHoldsNoSecret) {
    const pid_t gw = gateway_pid(d_->pid());
    ASSERT_GT(gw, 0) << "no gateway process under emberd " << d_->pid();
    if (geteuid() == 0) {
        EXPECT_EQ(status_field(gw, "Uid").substr(0, 5), "65534");
    }
    EXPECT_EQ(status_field(gw, "NoNewPrivs"), "1");
    EXPECT_EQ(status_field(gw, "Seccomp"), "2");
    EXPECT_EQ(status_field(gw, "CapEff"), "0000000000000000");
    const std::string self = "/proc/" + std::to_string(d_->pid()) + "/ns/";
    const std::string child = "/proc/" + std::to_string(gw) + "/ns/";
    for (const char* ns : {"mnt", "pid", "ipc", "uts", "net"})
        EXPECT_NE(link_of(child + ns), link_of(self + ns)) << ns << " namespace shared";
    const auto fds = fd_targets(gw);
    EXPECT_FALSE(fds.empty());
    for (const std::string& t : fds) {
        // Its stdout/stderr may be emberd's log file, beside the data directory.
        EXPECT_NE(t.rfind(d_->data_dir() + "/", 0), 0u) << "the gateway holds " << t;
        EXPECT_EQ(t.find(".db"), std::string::npos) << t;
        EXPECT_EQ(t.find("token"), std::string::npos) << t;
    }
    EXPECT_NE(d_->output().find("gateway process " + std::to_string(gw) + ": sandbox "),
              std::string::npos)
        << d_->output();
}

TEST_F(E2eTest, RequestsThroughTheGatewayProcessAreTimedAndCounted) {
    deploy_app("gwp");
    const std::string series = "ember_requests_total{service=\"gwp\",code=\"200\"}";
    const double before = sample(d_->api("GET", "/metrics").body, series);
    auto r = d_->get("gwp", "/");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.header("server-timing").find("total;dur="), std::string::npos);
    r = d_->get("gwp", "/");
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string m = d_->api("GET", "/metrics").body;
    EXPECT_EQ(sample(m, series), std::max(before, 0.0) + 2) << m;
    EXPECT_NE(m.find("ember_request_duration_seconds_count{service=\"gwp\"} "), std::string::npos);
    EXPECT_NE(m.find("ember_gateway_connections "), std::string::npos);
    EXPECT_NE(m.find("ember_instances"), std::string::npos) << "the control plane's own metrics";
}

TEST_F(E2eTest, KilledGatewayProcessIsReplacedAndServesTheNextRequest) {
    deploy_app("phoenix");
    ASSERT_EQ(d_->get("phoenix", "/").status, 200);
    const pid_t gw = gateway_pid(d_->pid());
    ASSERT_GT(gw, 0);
    ASSERT_EQ(kill(gw, SIGKILL), 0);
    pid_t next = -1;
    ASSERT_TRUE(eventually(
        [&] {
            next = gateway_pid(d_->pid());
            return next > 0 && next != gw;
        },
        5000))
        << d_->output();
    auto r = d_->get("phoenix", "/");
    EXPECT_EQ(r.status, 200) << r.body << r.error;
    EXPECT_NE(r.header("server-timing").find("total;dur="), std::string::npos);
    const std::string m = d_->api("GET", "/metrics").body;
    EXPECT_EQ(sample(m, "ember_gateway_restarts_total"), 1) << m;
    EXPECT_EQ(sample(m, "ember_requests_total{service=\"phoenix\",code=\"200\"}"), 1)
        << "counters start again with the new process";
}

TEST_F(E2eTest, RequestsArrivingWhileTheGatewayIsDownWaitForTheNextOne) {
    deploy_app("backlog");
    ASSERT_EQ(d_->get("backlog", "/").status, 200);
    const pid_t gw = gateway_pid(d_->pid());
    ASSERT_GT(gw, 0);
    ASSERT_EQ(kill(gw, SIGKILL), 0);
    // Once it is dead (until then it may still accept, and its connections
    // die with it), before the replacement runs 100 ms later: the
    // connection waits in the listening socket's backlog, which emberd
    // keeps open.
    ASSERT_TRUE(eventually(
        [&] {
            const std::string state = status_field(gw, "State");
            return state.empty() || state[0] == 'Z';
        },
        5000));
    auto r = d_->get("backlog", "/", 10000);
    EXPECT_EQ(r.status, 200) << r.body << r.error;
}

class GatewayNoSandboxTest : public E2eTest {
    std::vector<std::string> daemon_args() override { return {"--no-sandbox"}; }
};

TEST_F(GatewayNoSandboxTest, NoSandboxKeepsTheGatewayProcessButNotItsSandbox) {
    const pid_t gw = gateway_pid(d_->pid());
    ASSERT_GT(gw, 0) << "still a process of its own";
    EXPECT_EQ(status_field(gw, "Seccomp"), "0");
    EXPECT_NE(d_->output().find("sandbox off (--no-sandbox)"), std::string::npos) << d_->output();
    deploy_app("open");
    EXPECT_EQ(d_->get("open", "/").status, 200);
}

}  // namespace
}  // namespace ember::e2e
