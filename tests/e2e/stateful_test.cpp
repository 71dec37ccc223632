// Stateful scale to zero against a real emberd: examples/counter keeps its
// count only in memory, so the count tells whether an instance was resumed
// (suspended with its memory) or started again from the snapshot.
#include <dirent.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "e2e_test.h"

namespace ember::e2e {
namespace {

using nlohmann::json;

class StatefulTest : public E2eTest {
  protected:
    void deploy_counter(const std::string& name, json extra = {}) {
        json settings = {{"scale_to_zero", "stateful"}, {"idle_timeout_ms", 200}};
        if (extra.is_object()) settings.update(extra);
        auto r = d_->deploy(name, example_path("counter"), settings);
        ASSERT_TRUE(r.status == 200 || r.status == 201) << r.status << " " << r.body << r.error;
    }
    std::string count(const std::string& name, const std::string& path = "/") {
        auto r = d_->get(name, path);
        EXPECT_EQ(r.status, 200) << r.error << r.body;
        return r.body;
    }
    // The service's instances in state `state`.
    size_t in_state(const std::string& name, const std::string& state) {
        size_t n = 0;
        for (const auto& i : d_->instances(name))
            if (i.value("state", "") == state) ++n;
        return n;
    }
    bool suspended_only(const std::string& name, size_t n) {
        const json all = d_->instances(name);
        return all.size() == n && in_state(name, "suspended") == n;
    }
    // Files in the data directory's suspended/ (suspended snapshots and seals).
    std::vector<std::string> suspended_files() {
        std::vector<std::string> out;
        if (DIR* d = opendir((d_->data_dir() + "/suspended").c_str())) {
            while (dirent* e = readdir(d))
                if (e->d_name[0] != '.') out.push_back(e->d_name);
            closedir(d);
        }
        return out;
    }
};

TEST_F(StatefulTest, CountSurvivesScaleToZeroAndAnEmberdRestart) {
    deploy_counter("counter");
    EXPECT_EQ(count("counter"), "count 1\n");
    EXPECT_EQ(count("counter", "/dirty/2"), "count 2\n");
    ASSERT_TRUE(eventually([&] { return suspended_only("counter", 1); }, 8000))
        << d_->instances("counter").dump();
    auto st = d_->api("GET", "/v1/services/counter");
    const json s = json::parse(st.body);
    EXPECT_EQ(s.at("suspended"), 1);
    EXPECT_GT(s.at("suspended_bytes").get<uint64_t>(), 2u << 20);  // the 2 MiB it dirtied
    EXPECT_LT(s.at("suspended_bytes").get<uint64_t>(), 3u << 20);  // and little else
    EXPECT_EQ(s.at("scale_to_zero"), "stateful");
    const json inst = d_->instances("counter").at(0);
    EXPECT_GT(inst.at("disk_bytes").get<uint64_t>(), 0u);

    // The next request resumes it: memory intact.
    EXPECT_EQ(count("counter", "/sum"), "count 3 sum " + std::to_string(2ull * (2 << 20)) + "\n");
    ASSERT_TRUE(eventually([&] { return suspended_only("counter", 1); }, 8000));

    ASSERT_EQ(d_->restart(), "");
    EXPECT_TRUE(suspended_only("counter", 1)) << d_->instances("counter").dump();
    EXPECT_EQ(count("counter"), "count 4\n");

    // An idle running instance is suspended when emberd stops, not lost.
    ASSERT_EQ(d_->api("PATCH", "/v1/services/counter", R"({"idle_timeout_ms": 600000})").status,
              200);
    EXPECT_EQ(count("counter"), "count 5\n");
    ASSERT_EQ(d_->restart(), "");
    EXPECT_EQ(count("counter"), "count 6\n");

    auto cli = run_cli(*d_, {"status", "counter"});
    EXPECT_EQ(cli.status, 0) << cli.err;
    EXPECT_NE(cli.out.find("scale to zero stateful"), std::string::npos) << cli.out;
}

TEST_F(StatefulTest, DeleteAndRedeployDiscardSuspendedInstances) {
    deploy_counter("gone");
    EXPECT_EQ(count("gone"), "count 1\n");
    ASSERT_TRUE(eventually([&] { return suspended_only("gone", 1); }, 8000));
    EXPECT_EQ(suspended_files().size(), 2u);  // the file and its seal

    // A new generation (its program's arguments change): a fresh start.
    deploy_counter("gone", {{"args", json::array({"8080"})}});
    EXPECT_TRUE(suspended_files().empty());
    EXPECT_EQ(count("gone"), "count 1\n");
    ASSERT_TRUE(eventually([&] { return suspended_only("gone", 1); }, 8000));

    ASSERT_EQ(d_->api("DELETE", "/v1/services/gone").status, 204);
    EXPECT_TRUE(suspended_files().empty());
}

TEST_F(StatefulTest, DamagedSuspendedSnapshotGivesAFreshStart) {
    deploy_counter("damaged");
    EXPECT_EQ(count("damaged"), "count 1\n");
    EXPECT_EQ(count("damaged"), "count 2\n");
    ASSERT_TRUE(eventually([&] { return suspended_only("damaged", 1); }, 8000));
    std::string file;
    for (const auto& f : suspended_files())
        if (f.size() > 5 && f.substr(f.size() - 5) == ".susp") file = f;
    ASSERT_FALSE(file.empty());
    FILE* fp = std::fopen((d_->data_dir() + "/suspended/" + file).c_str(), "r+b");
    ASSERT_NE(fp, nullptr);
    std::fseek(fp, 5000, SEEK_SET);
    std::fputs("garbage", fp);
    std::fclose(fp);

    // The state is lost, the request is served, emberd carries on.
    EXPECT_EQ(count("damaged"), "count 1\n");
    EXPECT_TRUE(suspended_files().empty());
    auto logs = d_->api("GET", "/v1/services/damaged/logs?tail=50");
    EXPECT_NE(logs.body.find("could not be resumed"), std::string::npos) << logs.body;
    EXPECT_EQ(count("damaged"), "count 2\n");
}

TEST_F(StatefulTest, MinOneKeepsOneSuspendedInstance) {
    deploy_counter("kept", {{"min_instances", 1}});
    // The minimum starts an instance, which is suspended once idle.
    ASSERT_TRUE(eventually([&] { return suspended_only("kept", 1); }, 8000))
        << d_->instances("kept").dump();
    EXPECT_EQ(count("kept"), "count 1\n");
    ASSERT_TRUE(eventually([&] { return suspended_only("kept", 1); }, 8000));
    EXPECT_EQ(count("kept"), "count 2\n");
}

// Resident anonymous memory of a process, in KiB (RssAnon: the guest pages
// its VMs copied on write; not the snapshots' page cache), or -1.
long rss_anon_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("RssAnon:", 0) == 0) return std::atol(line.c_str() + 8);
    return -1;
}

class StatefulVmsTest : public StatefulTest {
  protected:
    // No VMs created ahead: the worker's VMs are its instances and the reset
    // ones it keeps (--warm-vms, default 4 per service).
    std::vector<std::string> daemon_args() override { return {"--vm-pool", "0"}; }
};

// Suspended instances cost their files only: the worker's VMs go with them
// (none kept reset for the service either) and its memory falls; each one
// then resumes with its own count.
TEST_F(StatefulVmsTest, SuspendedInstancesHoldNoVmAndResumeWithTheirMemory) {
    constexpr int kN = 4;
    auto name = [](int i) { return "s" + std::to_string(i); };
    for (int i = 0; i < kN; ++i) deploy_counter(name(i), {{"idle_timeout_ms", 600000}});
    for (int i = 0; i < kN; ++i) EXPECT_EQ(count(name(i), "/dirty/2"), "count 1\n");
    const pid_t w = helper_pid(d_->pid(), "worker");
    ASSERT_GT(w, 0);
    const int vms_running = kvm_vms(w);
    const long rss_running = rss_anon_kib(w);
    if (vms_running >= 0) {
        EXPECT_EQ(vms_running, kN);
    }

    for (int i = 0; i < kN; ++i)
        ASSERT_EQ(d_->api("PATCH", "/v1/services/" + name(i), R"({"idle_timeout_ms": 200})").status,
                  200);
    for (int i = 0; i < kN; ++i)
        ASSERT_TRUE(eventually([&] { return suspended_only(name(i), 1); }, 8000))
            << d_->instances(name(i)).dump();
    if (vms_running >= 0) {
        EXPECT_TRUE(eventually([&] { return kvm_vms(w) == 0; }, 5000))
            << kvm_vms(w) << " KVM VMs left in the worker";
    }
    // Each instance had dirtied 2 MiB of its guest memory: gone with its VM.
    long rss = -1;
    EXPECT_TRUE(eventually(
        [&] {
            rss = rss_anon_kib(w);
            return rss_running - rss >= kN * 1536;
        },
        5000))
        << "worker RssAnon " << rss_running << " KiB running, " << rss << " KiB suspended";

    for (int i = 0; i < kN; ++i) EXPECT_EQ(count(name(i)), "count 2\n") << name(i);
}

TEST_F(StatefulTest, StatefulWithPerRequestIsolationIsRefused) {
    auto r = d_->deploy("both", example_path("counter"),
                        {{"scale_to_zero", "stateful"}, {"isolation", "request"}});
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("cannot be combined with isolation"), std::string::npos) << r.body;
    auto cli = run_cli(*d_, {"deploy", example_path("counter"), "--name", "both2",
                             "--scale-to-zero", "stateful", "--isolation", "request"});
    EXPECT_NE(cli.status, 0);
    EXPECT_NE(cli.err.find("cannot be combined with isolation"), std::string::npos) << cli.err;
}

}  // namespace
}  // namespace ember::e2e
