// The VM worker process (docs/security.md): it runs the microVMs without
// emberd's secrets and privileges, and its death costs the requests it was
// serving, nothing else. Checked from the outside, in /proc, as an operator
// (or an attacker who took the worker) would see it.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "e2e_test.h"

namespace ember::e2e {
namespace {

using nlohmann::json;

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string link_of(const std::string& path) {
    char buf[4096];
    const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
    return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

// emberd's VM worker processes: its children whose command line has the role.
std::vector<pid_t> workers_of(pid_t emberd) {
    std::vector<pid_t> out;
    DIR* d = ::opendir("/proc");
    if (!d) return out;
    while (const dirent* e = ::readdir(d)) {
        const pid_t pid = static_cast<pid_t>(std::atol(e->d_name));
        if (pid <= 0) continue;
        const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
        const auto paren = stat.rfind(')');
        if (paren == std::string::npos) continue;
        std::istringstream rest(stat.substr(paren + 2));
        char state;
        pid_t ppid = 0;
        rest >> state >> ppid;
        std::string cmdline = read_text("/proc/" + std::to_string(pid) + "/cmdline");
        if (ppid == emberd && cmdline.find("--ember-role=worker") != std::string::npos)
            out.push_back(pid);
    }
    ::closedir(d);
    return out;
}

// "Seccomp:\t2" -> "2".
std::string status_field(pid_t pid, const std::string& name) {
    std::istringstream in(read_text("/proc/" + std::to_string(pid) + "/status"));
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(name + ":", 0) == 0) {
            const auto v = line.find_first_not_of(" \t", name.size() + 1);
            return v == std::string::npos ? "" : line.substr(v);
        }
    return "";
}

TEST_F(E2eTest, WorkerHoldsNoSecretAndRunsSandboxed) {
    deploy_app("jailed");
    ASSERT_EQ(d_->get("jailed", "/").status, 200);
    const auto workers = workers_of(d_->pid());
    ASSERT_EQ(workers.size(), 1u) << "one VM worker by default";
    const pid_t w = workers[0];
    const std::string proc = "/proc/" + std::to_string(w);

    EXPECT_NE(d_->output().find("seccomp=on"), std::string::npos)
        << "the start-up log names the worker's sandbox layers";
    EXPECT_EQ(status_field(w, "NoNewPrivs"), "1");
    EXPECT_EQ(status_field(w, "Seccomp"), "2") << "a seccomp filter";
    EXPECT_EQ(status_field(w, "CapEff"), "0000000000000000");
    EXPECT_EQ(status_field(w, "CapPrm"), "0000000000000000");
    if (::geteuid() == 0) {
        EXPECT_EQ(status_field(w, "Uid"), "65534\t65534\t65534\t65534");
        EXPECT_EQ(status_field(w, "Gid"), "65534\t65534\t65534\t65534");
        EXPECT_EQ(status_field(w, "Groups"), "");
        // Namespaces need root here (or unprivileged user namespaces).
        const std::string self = "/proc/" + std::to_string(d_->pid());
        for (const char* ns : {"net", "mnt", "pid", "ipc", "uts"})
            EXPECT_NE(link_of(proc + "/ns/" + ns), link_of(self + "/ns/" + ns)) << ns;
        // Its network namespace has only the loopback device (and it is down).
        std::istringstream dev(read_text(proc + "/net/dev"));
        std::string line;
        std::vector<std::string> ifaces;
        while (std::getline(dev, line))
            if (auto colon = line.find(':'); colon != std::string::npos) {
                std::string name = line.substr(0, colon);
                name.erase(0, name.find_first_not_of(' '));
                ifaces.push_back(name);
            }
        EXPECT_EQ(ifaces, std::vector<std::string>{"lo"});
        // Its root is an empty tmpfs: its mounts are not emberd's.
        const std::string mounts = read_text(proc + "/mountinfo");
        EXPECT_EQ(mounts.find(d_->data_dir()), std::string::npos) << mounts;
        EXPECT_NE(mounts.find("tmpfs"), std::string::npos) << mounts;
    }
    // No fd of the database, the token, or anything in the data directory
    // but snapshots and images it was handed.
    DIR* fds = ::opendir((proc + "/fd").c_str());
    ASSERT_NE(fds, nullptr);
    size_t n = 0, snapshots = 0;
    while (const dirent* e = ::readdir(fds)) {
        if (e->d_name[0] == '.') continue;
        ++n;
        const std::string target = link_of(proc + "/fd/" + e->d_name);
        EXPECT_EQ(target.find(".db"), std::string::npos) << target;
        EXPECT_EQ(target.find("token"), std::string::npos) << target;
        // Snapshots only read-only: it cannot change one emberd sealed.
        if (target.find("/snapshots/") != std::string::npos) {
            const std::string info = read_text(proc + "/fdinfo/" + e->d_name);
            const auto at = info.find("flags:");
            ASSERT_NE(at, std::string::npos) << info;
            const unsigned long flags = std::strtoul(info.c_str() + at + 6, nullptr, 8);
            EXPECT_EQ(flags & 3, 0u) << target << " is open for writing: " << info;
            ++snapshots;
        }
    }
    ::closedir(fds);
    EXPECT_GT(n, 3u);
    EXPECT_GE(snapshots, 1u) << "the service's snapshot is open in the worker";
}

TEST_F(E2eTest, KilledWorkerIsReplacedAndTheServiceKeepsServing) {
    deploy_app("phoenix", {{"idle_timeout_ms", 60000}});
    ASSERT_EQ(d_->get("phoenix", "/").status, 200);
    auto workers = workers_of(d_->pid());
    ASSERT_EQ(workers.size(), 1u);
    const pid_t old_worker = workers[0];

    // A request in flight when the worker dies gets a 502 at once, not a hang.
    HttpResponse in_flight;
    std::thread t([&] { in_flight = d_->get("phoenix", "/sleep/5000", 20000); });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ASSERT_EQ(::kill(old_worker, SIGKILL), 0);
    t.join();
    EXPECT_EQ(in_flight.status, 502) << in_flight.body << in_flight.error;
    EXPECT_LT(in_flight.ms, 4000);

    // The instance it ran is gone, with the reason in the service's log.
    EXPECT_TRUE(eventually([&] { return d_->instances("phoenix").empty(); }, 3000));
    auto logs = d_->api("GET", "/v1/services/phoenix/logs");
    EXPECT_NE(logs.body.find("worker process died: killed by signal 9"), std::string::npos)
        << logs.body;

    // The next request is served by a new worker, from the same snapshot.
    auto after = d_->get("phoenix", "/count");
    EXPECT_EQ(after.status, 200) << after.body;
    EXPECT_EQ(after.body, "1\n");
    workers = workers_of(d_->pid());
    ASSERT_EQ(workers.size(), 1u);
    EXPECT_NE(workers[0], old_worker);
    EXPECT_NE(d_->output().find("replaces the one that died"), std::string::npos);

    // Killed while idle: the same.
    EXPECT_TRUE(eventually([&] { return d_->instances("phoenix").size() == 1; }, 3000));
    ASSERT_EQ(::kill(workers[0], SIGKILL), 0);
    EXPECT_TRUE(eventually([&] { return d_->instances("phoenix").empty(); }, 3000));
    EXPECT_EQ(d_->get("phoenix", "/").status, 200);
    EXPECT_EQ(d_->api("GET", "/v1/services").status, 200) << "the control plane never noticed";
}

// Inside the sandbox (no /proc) VMs are still reset and reused: the next
// instance starts in the VM of the one before.
TEST_F(E2eTest, SandboxedWorkerResetsAndReusesVms) {
    deploy_app("oneshot", {{"isolation", "request"}});
    for (int i = 0; i < 4; ++i) ASSERT_EQ(d_->get("oneshot", "/count").body, "1\n");
    EXPECT_TRUE(eventually(
        [&] {
            const std::string m = d_->api("GET", "/metrics").body;
            const std::string key = "ember_instance_restore_seconds_count{vm=\"reused_vm\"} ";
            const auto at = m.find(key);
            return at != std::string::npos && std::atol(m.c_str() + at + key.size()) > 0;
        },
        3000))
        << d_->api("GET", "/metrics").body;
}

// A guest that floods its console as fast as it can: the worker drops what
// is over its rate and says so; the request and the daemon are unaffected.
TEST_F(E2eTest, ConsoleFloodIsDroppedAndCountedNotQueued) {
    deploy_app("loud");
    auto r = d_->get("loud", "/flood/65536");  // 64 MiB of lines
    EXPECT_EQ(r.status, 200) << r.body << r.error;
    EXPECT_TRUE(eventually(
        [&] {
            return d_->api("GET", "/v1/services/loud/logs").body.find("console output over") !=
                   std::string::npos;
        },
        3000));
    EXPECT_EQ(d_->get("loud", "/").status, 200);
}

// Guests that attack the VMM through hypercalls still get error codes back,
// now inside the worker; the deploy fails with the program's report.
TEST_F(E2eTest, HostileGuestInTheWorkerGetsErrorsAndTheDaemonServesOn) {
    deploy_app("bystander");
    auto r = d_->deploy("attacker", example_path("hostile"), {{"args", {"--in-ember"}}});
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_NE(r.body.find("EFAULT"), std::string::npos) << r.body;
    EXPECT_EQ(d_->get("bystander", "/").status, 200);
    EXPECT_EQ(workers_of(d_->pid()).size(), 1u);
}

// Egress through the worker: it has no network, so emberd checks the rule
// and connects for it. Allowed: the guest gets its answer; not allowed:
// ECONNREFUSED as before.
TEST_F(E2eTest, EgressIsConnectedByEmberdForTheWorker) {
    const std::string api = std::to_string(d_->api_port());
    auto allowed = d_->deploy(
        "caller", example_path("net_client"),
        {{"args", {"127.0.0.1", api, "/v1/services"}}, {"egress", {"127.0.0.1:" + api}}});
    EXPECT_EQ(allowed.status, 422) << "net_client exits: " << allowed.body;
    EXPECT_NE(allowed.body.find("HTTP/1.1 401"), std::string::npos) << allowed.body;
    auto denied = d_->deploy("caller2", example_path("net_client"),
                             {{"args", {"127.0.0.1", api, "/v1/services"}}});
    EXPECT_EQ(denied.status, 422) << denied.body;
    EXPECT_NE(denied.body.find("ECONNREFUSED"), std::string::npos) << denied.body;
}

class TwoWorkersTest : public E2eTest {
  protected:
    std::vector<std::string> daemon_args() override { return {"--vm-workers", "2"}; }
};

// Services are spread over the workers by name; killing one worker leaves
// the other's services running undisturbed.
TEST_F(TwoWorkersTest, ServicesSpreadOverWorkersAndOneDeathSparesTheOther) {
    ASSERT_EQ(workers_of(d_->pid()).size(), 2u);
    // Enough names that both workers get some (the hash is fixed per name).
    const std::vector<std::string> names{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot"};
    for (const auto& n : names) deploy_app(n, {{"idle_timeout_ms", 60000}});
    for (const auto& n : names) ASSERT_EQ(d_->get(n, "/count").body, "1\n") << n;
    const auto workers = workers_of(d_->pid());
    ASSERT_EQ(workers.size(), 2u);
    ASSERT_EQ(::kill(workers[0], SIGKILL), 0);
    // Services of the survivor keep their instance (and its counter);
    // those of the dead worker start again from the snapshot.
    size_t kept = 0, restarted = 0;
    // Until emberd has seen the death (its instances gone), a request may
    // still be handed to one of them (and get 502); a loaded host takes
    // longer than a fixed sleep.
    EXPECT_TRUE(eventually(
        [&] {
            size_t live = 0;
            for (const auto& n : names) live += d_->instances(n).size();
            return live < names.size();
        },
        3000));
    for (const auto& n : names) {
        auto r = d_->get(n, "/count");
        ASSERT_EQ(r.status, 200) << n << r.body;
        (r.body == "2\n" ? kept : restarted)++;
    }
    EXPECT_GT(kept, 0u);
    EXPECT_GT(restarted, 0u);
    EXPECT_EQ(workers_of(d_->pid()).size(), 2u);
}

}  // namespace
}  // namespace ember::e2e
