// SQLite on a volume under write load, crashed: a kill -9 of emberd and a
// kill -9 of the instance's VM worker in the middle of writes leave a
// database that passes PRAGMA integrity_check and holds every write that
// was acknowledged (examples/vol_sqlite_svc answers only after its commit
// is fsync'ed).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "e2e_test.h"

namespace ember::e2e {
namespace {

using nlohmann::json;

class VolumeCrashTest : public E2eTest {
  protected:
    void SetUp() override {
        E2eTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        prog_ = example_path("vol_sqlite_svc");
        if (::access(prog_.c_str(), X_OK) != 0) GTEST_SKIP() << "no static libsqlite3: " << prog_;
        ASSERT_EQ(d_->api("POST", "/v1/volumes", R"({"name": "db", "size": "64M"})").status, 201);
        auto r = d_->deploy("sql", prog_,
                            {{"idle_timeout_ms", 60000},
                             {"volumes", json::array({{{"name", "db"}, {"path", "/data"}}})}});
        ASSERT_TRUE(r.status == 200 || r.status == 201) << r.status << " " << r.body << r.error;
    }

    // Three clients write keys from next_ on, one request each, until
    // stop_ (so several writes are in flight at a kill); the keys
    // acknowledged with "ok K" go to acked_.
    void start_load() {
        stop_ = false;
        for (int c = 0; c < 3; ++c)
            load_.emplace_back([this] {
                while (!stop_) {
                    const long k = next_++;
                    auto r = d_->get("sql", "/put/" + std::to_string(k), 5000);
                    if (r.status == 200 && r.body == "ok " + std::to_string(k) + "\n") {
                        std::lock_guard<std::mutex> l(mu_);
                        acked_.push_back(k);
                    } else {
                        std::this_thread::sleep_for(std::chrono::milliseconds(20));
                    }
                }
            });
    }
    void stop_load() {
        stop_ = true;
        for (auto& t : load_) t.join();
        load_.clear();
    }
    size_t acked() {
        std::lock_guard<std::mutex> l(mu_);
        return acked_.size();
    }
    void TearDown() override {
        stop_load();
        E2eTest::TearDown();
    }

    // integrity_check is ok and every acknowledged key is in the table.
    void expect_intact() {
        HttpResponse check;
        ASSERT_TRUE(eventually(
            [&] {
                check = d_->get("sql", "/check", 10000);
                return check.status == 200;
            },
            20000))
            << check.status << check.body << check.error;
        EXPECT_EQ(check.body.rfind("integrity ok\ncount ", 0), 0u) << check.body;
        auto keys = d_->get("sql", "/keys", 10000);
        ASSERT_EQ(keys.status, 200) << keys.body;
        std::set<long> have;
        std::istringstream in(keys.body);
        for (long k; in >> k;) have.insert(k);
        size_t missing = 0;
        for (long k : acked_) missing += have.count(k) ? 0 : 1;
        EXPECT_EQ(missing, 0u) << "of " << acked_.size() << " acknowledged writes";
        // For the log: how many were in flight (rows never acknowledged).
        std::printf("%zu acknowledged writes, %zu rows, %s", acked_.size(), have.size(),
                    check.body.c_str());
    }

    std::string prog_;
    std::vector<std::thread> load_;
    std::atomic<bool> stop_{false};
    std::atomic<long> next_{1};
    std::mutex mu_;
    std::vector<long> acked_;
};

TEST_F(VolumeCrashTest, Kill9OfEmberdMidLoadKeepsEveryAcknowledgedWrite) {
    start_load();
    ASSERT_TRUE(eventually([&] { return acked() >= 60; }, 30000)) << acked();
    d_->kill9();  // requests in flight now were never acknowledged
    stop_load();
    ASSERT_EQ(d_->start(), "");
    expect_intact();

    // Writes go on after the restart.
    start_load();
    const size_t before = acked();
    EXPECT_TRUE(eventually([&] { return acked() >= before + 5; }, 30000));
    stop_load();
    expect_intact();
}

TEST_F(VolumeCrashTest, Kill9OfTheVmWorkerMidLoadKeepsEveryAcknowledgedWrite) {
    start_load();
    ASSERT_TRUE(eventually([&] { return acked() >= 60; }, 30000)) << acked();
    // Every VM worker: the one running the instance is among them.
    const auto workers = helper_pids(d_->pid(), "worker");
    ASSERT_FALSE(workers.empty());
    for (pid_t w : workers) ASSERT_EQ(::kill(w, SIGKILL), 0);
    // A new worker serves the writes that follow.
    const size_t before = acked();
    EXPECT_TRUE(eventually([&] { return acked() >= before + 10; }, 30000)) << acked();
    stop_load();
    expect_intact();
}

}  // namespace
}  // namespace ember::e2e
