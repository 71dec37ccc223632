// A VM worker that stays alive but stops answering (docs/security.md):
// emberd's heartbeat finds it, kills it, and it ends like a dead worker.
// SIGSTOP is a real hang from emberd's side: the process is there, its
// channel open, nothing answers. A guest spinning in its vCPU is not one.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "e2e_test.h"

namespace ember::e2e {
namespace {

class WorkerHangTest : public E2eTest {
  protected:
    std::vector<std::string> daemon_args() override { return {"--worker-timeout", "2s"}; }
    void TearDown() override {
        // A stopped worker left behind would outlive the test.
        if (stopped_ > 0) ::kill(stopped_, SIGKILL);
        E2eTest::TearDown();
    }
    pid_t stopped_ = -1;
};

TEST_F(WorkerHangTest, StoppedWorkerIsKilledAndReplacedAndItsRequestGets502) {
    deploy_app("frozen", {{"idle_timeout_ms", 60000}});
    ASSERT_EQ(d_->get("frozen", "/count").body, "1\n");
    const pid_t old_worker = helper_pid(d_->pid(), "worker");
    ASSERT_GT(old_worker, 0);

    // A request in flight when the worker stops answering: 502 once the
    // heartbeat gives up on it (2 s), not the request's own 30 s timeout.
    HttpResponse in_flight;
    std::thread t([&] { in_flight = d_->get("frozen", "/sleep/1000", 20000); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ASSERT_EQ(::kill(old_worker, SIGSTOP), 0);
    stopped_ = old_worker;
    t.join();
    EXPECT_EQ(in_flight.status, 502) << in_flight.body << in_flight.error;
    EXPECT_LT(in_flight.ms, 6000);
    EXPECT_GE(in_flight.ms, 1500) << "killed only after the timeout";

    // The log says why, for the daemon and for the service.
    EXPECT_TRUE(eventually(
        [&] {
            return d_->output().find("hung: no answer to emberd's heartbeat") != std::string::npos;
        },
        3000))
        << d_->output();
    EXPECT_TRUE(eventually([&] { return d_->instances("frozen").empty(); }, 3000));
    auto logs = d_->api("GET", "/v1/services/frozen/logs");
    EXPECT_NE(logs.body.find("VM worker hung"), std::string::npos) << logs.body;

    // The next request is served by a new worker, from the snapshot.
    auto after = d_->get("frozen", "/count");
    EXPECT_EQ(after.status, 200) << after.body << after.error;
    EXPECT_EQ(after.body, "1\n");
    const pid_t new_worker = helper_pid(d_->pid(), "worker");
    EXPECT_GT(new_worker, 0);
    EXPECT_NE(new_worker, old_worker);
    EXPECT_EQ(d_->api("GET", "/v1/services").status, 200);
}

// A guest that spins for longer than the worker timeout keeps its worker:
// the worker answers the heartbeat from a thread no guest runs on.
TEST_F(WorkerHangTest, SpinningGuestDoesNotMakeItsWorkerLookHung) {
    deploy_app("spinner", {{"timeout_ms", 5000}, {"idle_timeout_ms", 60000}});
    deploy_app("neighbour", {{"idle_timeout_ms", 60000}});
    ASSERT_EQ(d_->get("neighbour", "/count").body, "1\n");
    const pid_t worker = helper_pid(d_->pid(), "worker");
    auto spin = d_->get("spinner", "/spin", 20000);
    EXPECT_EQ(spin.status, 504) << "its own timeout, not a dead worker: " << spin.body;
    EXPECT_EQ(helper_pid(d_->pid(), "worker"), worker);
    EXPECT_EQ(d_->output().find("hung"), std::string::npos) << d_->output();
    EXPECT_EQ(d_->get("neighbour", "/count").body, "2\n") << "its instance lived on";
}

}  // namespace
}  // namespace ember::e2e
