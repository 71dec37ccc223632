// The bound on VMs per VM worker (--vms-per-worker, worker_client.h
// "Placement"): when the workers are full, emberd starts another one; the
// instances on every worker serve requests; a worker killed ends only its
// own instances.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <set>
#include <string>

#include "e2e_test.h"

namespace ember::e2e {
namespace {

// KVM VMs a process holds: its open kvm-vm fds.
int kvm_vms(pid_t pid) {
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = opendir(dir.c_str());
    if (!d) return -1;
    int n = 0;
    while (dirent* e = readdir(d)) {
        char target[PATH_MAX];
        const ssize_t len = ::readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
        if (len <= 0) continue;
        target[len] = 0;
        if (std::string(target) == "anon_inode:kvm-vm") ++n;
    }
    closedir(d);
    return n;
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

}  // namespace
}  // namespace ember::e2e
