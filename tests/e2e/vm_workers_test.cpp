// The bound on VMs per VM worker (--vms-per-worker, worker_client.h
// "Placement"): when the workers are full, emberd starts another one; the
// instances on every worker serve requests; a worker killed ends only its
// own instances; an extra worker left empty exits.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "e2e_test.h"
#include "subprocess.h"

namespace ember::e2e {
namespace {

// "Seccomp:\t2" -> "2".
std::string status_field(pid_t pid, const std::string& name) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(name + ":", 0) == 0) {
            const auto v = line.find_first_not_of(" \t", name.size() + 1);
            return v == std::string::npos ? "" : line.substr(v);
        }
    return "";
}

class VmWorkersTest : public E2eTest {
  protected:
    // No VMs made ahead and none kept reset: a worker's VMs are its instances.
    std::vector<std::string> daemon_args() override {
        return {"--vms-per-worker", "2", "--vm-pool", "0", "--warm-vms", "0"};
    }
    std::set<std::string> instance_ids() {
        std::set<std::string> ids;
        for (const char* s : {"a", "b", "c"})
            for (const auto& i : d_->instances(s))
                if (i.value("state", std::string()) == "idle") ids.insert(i.value("id", ""));
        return ids;
    }
};

TEST_F(VmWorkersTest, FullWorkersMakeNewOnesAndOneKilledEndsOnlyItsInstances) {
    for (const char* s : {"a", "b", "c"})
        deploy_app(s, {{"min_instances", 2}, {"idle_timeout_ms", 60000}});
    ASSERT_TRUE(eventually([&] { return instance_ids().size() == 6; }, 30000)) << d_->output();

    // Six instances, two per worker: three workers, each holding two VMs.
    std::vector<pid_t> workers;
    ASSERT_TRUE(eventually(
        [&] {
            workers = helper_pids(d_->pid(), "worker");
            return workers.size() == 3;
        },
        5000))
        << workers.size() << " workers\n"
        << d_->output();
    for (pid_t w : workers) {
        // Each sandboxed as the first one (worker_sandbox_test.cpp).
        EXPECT_EQ(status_field(w, "NoNewPrivs"), "1") << "worker " << w;
        EXPECT_EQ(status_field(w, "Seccomp"), "2") << "worker " << w;
        EXPECT_EQ(status_field(w, "CapEff"), "0000000000000000") << "worker " << w;
        if (::geteuid() == 0) {
            EXPECT_EQ(status_field(w, "Uid"), "65534\t65534\t65534\t65534") << "worker " << w;
        }
        const int vms = kvm_vms(w);
        if (vms >= 0) {
            EXPECT_EQ(vms, 2) << "worker " << w;
        }
    }
    EXPECT_NE(d_->output().find("starting VM worker 2"), std::string::npos) << d_->output();

    // Every instance answers: each service's two instances take a request
    // each (both busy at once).
    for (const char* s : {"a", "b", "c"}) {
        HttpResponse r1, r2;
        std::thread t([&] { r1 = d_->get(s, "/sleep/300"); });
        r2 = d_->get(s, "/sleep/300");
        t.join();
        EXPECT_EQ(r1.status, 200) << s << " " << r1.body << r1.error;
        EXPECT_EQ(r2.status, 200) << s << " " << r2.body << r2.error;
        EXPECT_FALSE(is_cold(r1) && is_cold(r2)) << s;
    }

    // Killing one worker ends its two instances, not the other four.
    const auto before = instance_ids();
    ASSERT_EQ(::kill(workers[1], SIGKILL), 0);
    std::set<std::string> after;
    ASSERT_TRUE(eventually(
        [&] {
            after = instance_ids();
            size_t kept = 0;
            for (const auto& id : before) kept += after.count(id);
            return kept == 4 && after.size() == 6;
        },
        20000))
        << d_->output();
    size_t kept = 0;
    for (const auto& id : before) kept += after.count(id);
    EXPECT_EQ(kept, 4u);
    for (pid_t w : {workers[0], workers[2]}) EXPECT_EQ(::kill(w, 0), 0) << "worker " << w;
    for (const char* s : {"a", "b", "c"}) EXPECT_EQ(d_->get(s, "/").status, 200) << s;
}

// The thread ids of process pid.
std::set<std::string> tids_of(pid_t pid) {
    std::set<std::string> out;
    if (DIR* d = opendir(("/proc/" + std::to_string(pid) + "/task").c_str())) {
        while (dirent* e = readdir(d))
            if (e->d_name[0] != '.') out.insert(e->d_name);
        closedir(d);
    }
    return out;
}

// KVM makes a debugfs directory per VM, "<creating thread>-<VM fd>", with a
// file per statistic, unless one of that name exists: the worker makes its
// VMs where only its marker VM has one (vm_pool.cpp). debugfs is looked at
// through a private mount (root only; skipped elsewhere).
TEST_F(E2eTest, TheWorkersVmsHaveNoKvmDebugfsDirectories) {
    deploy_app("dbg", {{"min_instances", 6}, {"idle_timeout_ms", 60000}});
    ASSERT_TRUE(eventually(
        [&] {
            size_t idle = 0;
            for (const auto& i : d_->instances("dbg"))
                if (i.value("state", std::string()) == "idle") ++idle;
            return idle == 6;
        },
        20000))
        << d_->output();
    const pid_t worker = helper_pid(d_->pid(), "worker");
    ASSERT_GT(worker, 0);
    const int vms = kvm_vms(worker);
    if (vms < 0) GTEST_SKIP() << "cannot read the worker's descriptors";
    EXPECT_GE(vms, 6);
    test::RunOptions o;
    o.argv = {"/usr/bin/unshare", "-m", "sh", "-c", "mount -t debugfs none \"$0\" && ls \"$0/kvm\"",
              tmp_.path()};
    const auto r = test::run_process(o);
    if (!r.exited || r.exit_code != 0)
        GTEST_SKIP() << "no private debugfs mount here: " << test::describe(r);
    const auto tids = tids_of(worker);
    std::istringstream in(r.out);
    std::string name;
    int dirs = 0;
    while (std::getline(in, name)) {
        const auto dash = name.find('-');
        if (dash != std::string::npos && tids.count(name.substr(0, dash))) ++dirs;
    }
    EXPECT_LE(dirs, 1) << vms << " VMs in the worker, debugfs:\n" << r.out;
}

class IdleWorkerTest : public E2eTest {
  protected:
    std::vector<std::string> daemon_args() override {
        return {"--vms-per-worker",      "2", "--vm-pool", "0", "--warm-vms", "0",
                "--worker-idle-timeout", "1s"};
    }
    size_t idle(const std::string& service) {
        size_t n = 0;
        for (const auto& i : d_->instances(service))
            if (i.value("state", std::string()) == "idle") ++n;
        return n;
    }
};

// A worker started for --vms-per-worker exits once it has held nothing for
// --worker-idle-timeout; the first stays, and a later cold start that needs
// room starts a worker again.
TEST_F(IdleWorkerTest, AnEmptyExtraWorkerExitsAndRequestsStillWork) {
    deploy_app("a", {{"min_instances", 2}, {"idle_timeout_ms", 60000}});
    ASSERT_TRUE(eventually([&] { return idle("a") == 2; }, 20000)) << d_->output();
    // The first worker is full: b is prepared and runs in a second one.
    deploy_app("b", {{"min_instances", 2}, {"idle_timeout_ms", 60000}});
    ASSERT_TRUE(eventually([&] { return idle("b") == 2; }, 20000)) << d_->output();
    std::vector<pid_t> workers;
    ASSERT_TRUE(eventually(
        [&] {
            workers = helper_pids(d_->pid(), "worker");
            return workers.size() == 2;
        },
        5000))
        << workers.size() << " workers\n"
        << d_->output();

    // b's instances stop: the second worker holds nothing and exits.
    ASSERT_EQ(d_->api("PATCH", "/v1/services/b", R"({"min_instances": 0, "idle_timeout_ms": 100})")
                  .status,
              200);
    ASSERT_TRUE(eventually([&] { return d_->instances("b").empty(); }, 5000))
        << d_->instances("b").dump();
    std::vector<pid_t> left;
    ASSERT_TRUE(eventually(
        [&] {
            left = helper_pids(d_->pid(), "worker");
            return left.size() == 1;
        },
        8000))
        << left.size() << " workers\n"
        << d_->output();
    EXPECT_NE(d_->output().find("held no instance for"), std::string::npos) << d_->output();
    EXPECT_EQ(idle("a"), 2u);  // the first worker and a's instances stay

    // Both services still answer: b's cold start finds the first worker full
    // and starts a worker again.
    EXPECT_EQ(d_->get("a", "/").status, 200);
    const auto r = d_->get("b", "/");
    EXPECT_EQ(r.status, 200) << r.body << r.error;
    EXPECT_TRUE(is_cold(r));
    EXPECT_EQ(helper_pids(d_->pid(), "worker").size(), 2u);
}

}  // namespace
}  // namespace ember::e2e
