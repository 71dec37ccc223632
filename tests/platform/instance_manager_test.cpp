// The instance manager's scheduling against fake guests (no KVM): scale from
// zero, scale out, queueing and its limits, scale to zero, warm minimum,
// per-request isolation, generations, crashes, restore failures, timeouts.
#include "platform/instance_manager.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <thread>

namespace ember::platform {
namespace {

struct FakeWorld {
    std::mutex mu;
    std::condition_variable cv;
    int restores = 0;
    int live = 0;
    bool fail_restore = false;
    std::vector<class FakeGuest*> guests;
};

class FakeGuest : public Guest {
  public:
    explicit FakeGuest(FakeWorld& w) : w_(w) {
        std::lock_guard lock(w_.mu);
        ++w_.live;
        w_.guests.push_back(this);
    }
    ~FakeGuest() override {
        std::lock_guard lock(w_.mu);
        for (int fd : fds_) ::close(fd);
        --w_.live;
        std::erase(w_.guests, this);
    }
    void adopt(int fd, uint16_t) override { take(fd); }
    void post(int fd, uint16_t) override { take(fd); }
    void stop() override {
        std::lock_guard lock(w_.mu);
        stopped_ = true;
        w_.cv.notify_all();
    }
    void crash() {
        std::lock_guard lock(w_.mu);
        crashed_ = true;
        w_.cv.notify_all();
    }
    InstanceEnd run() override {
        std::unique_lock lock(w_.mu);
        w_.cv.wait(lock, [&] { return stopped_ || crashed_; });
        return InstanceEnd{!crashed_, crashed_ ? "crashed: test" : "stopped"};
    }

  private:
    void take(int fd) {
        std::lock_guard lock(w_.mu);
        fds_.push_back(fd);
    }
    FakeWorld& w_;
    std::vector<int> fds_;
    bool stopped_ = false, crashed_ = false;
};

class FakePrepared : public Prepared {
  public:
    std::string describe() const override { return "fake"; }
    uint64_t memory_bytes() const override { return 64 << 20; }
};

class FakeFactory : public GuestFactory {
  public:
    explicit FakeFactory(FakeWorld& w) : w_(w) {}
    Result<std::shared_ptr<const Prepared>> prepare(const ServiceSpec&, const std::string&,
                                                    const ConsoleFn&) override {
        return std::shared_ptr<const Prepared>(std::make_shared<FakePrepared>());
    }
    Result<std::shared_ptr<const Prepared>> open(const ServiceSpec&, const std::string&) override {
        return std::shared_ptr<const Prepared>(std::make_shared<FakePrepared>());
    }
    Result<std::unique_ptr<Guest>> restore(const std::shared_ptr<const Prepared>&,
                                           const ConsoleFn&) override {
        {
            std::lock_guard lock(w_.mu);
            ++w_.restores;
            if (w_.fail_restore) return Status::unavailable("no KVM today");
        }
        return std::unique_ptr<Guest>(std::make_unique<FakeGuest>(w_));
    }

  private:
    FakeWorld& w_;
};

bool eventually(const std::function<bool()>& cond, int ms = 3000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < deadline) {
        if (cond()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return cond();
}

class ManagerTest : public ::testing::Test {
  protected:
    ManagerTest() : factory_(world_), mgr_(factory_, logs_, metrics_) {}
    ~ManagerTest() override {
        mgr_.shutdown();
        for (int fd : fds_) ::close(fd);
    }

    ServiceRecord record(const std::string& name, uint64_t gen,
                         const std::function<void(ServiceSpec&)>& edit = {}) {
        ServiceRecord r;
        r.spec.name = name;
        r.spec.image = std::string(64, 'a');
        r.spec.idle_timeout_ms = 60000;
        if (edit) edit(r.spec);
        r.generation = gen;
        return r;
    }
    void deploy(const std::string& name, const std::function<void(ServiceSpec&)>& edit = {},
                uint64_t gen = 1) {
        mgr_.deploy(record(name, gen, edit), std::make_shared<FakePrepared>());
    }
    TicketPtr acquire(const std::string& name) {
        int sv[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        fds_.push_back(sv[0]);
        last_fd_ = sv[0];
        return mgr_.acquire(name, sv[1]);
    }
    TicketInfo info(const TicketPtr& t) { return mgr_.ticket_info(t); }
    bool reaches(const TicketPtr& t, TicketState s, int ms = 3000) {
        return eventually([&] { return info(t).state == s; }, ms);
    }
    // True when the peer of our end of the stream pair was closed.
    static bool peer_closed(int fd) {
        char c;
        return ::recv(fd, &c, 1, MSG_DONTWAIT) == 0;
    }
    size_t live() {
        std::lock_guard lock(world_.mu);
        return static_cast<size_t>(world_.live);
    }

    FakeWorld world_;
    FakeFactory factory_;
    LogHub logs_;
    Metrics metrics_;
    InstanceManager mgr_;
    std::vector<int> fds_;
    int last_fd_ = -1;
};

TEST_F(ManagerTest, UnknownServiceIsRejectedAndItsStreamClosed) {
    auto t = acquire("nobody");
    EXPECT_EQ(info(t).state, TicketState::kRejected);
    EXPECT_EQ(info(t).reason, RejectReason::kNoService);
    EXPECT_TRUE(peer_closed(last_fd_));
}

TEST_F(ManagerTest, FirstRequestRestoresAnInstanceAndHandsItTheStream) {
    deploy("svc");
    EXPECT_TRUE(mgr_.instances("svc").empty());
    auto t = acquire("svc");
    ASSERT_TRUE(reaches(t, TicketState::kHanded));
    auto i = info(t);
    EXPECT_TRUE(i.cold);
    EXPECT_NE(i.instance_id, 0u);
    EXPECT_EQ(world_.restores, 1);
    EXPECT_EQ(mgr_.instances("svc").size(), 1u);
    mgr_.finish(t, FinishKind::kCompleted);
    auto t2 = acquire("svc");
    ASSERT_EQ(info(t2).state, TicketState::kHanded) << "a warm instance takes it at once";
    EXPECT_FALSE(info(t2).cold);
    EXPECT_EQ(info(t2).instance_id, i.instance_id);
    EXPECT_EQ(world_.restores, 1);
}

TEST_F(ManagerTest, RequestsShareAnInstanceUpToItsConcurrency) {
    deploy("svc", [](ServiceSpec& s) { s.concurrency = 2; });
    auto a = acquire("svc"), b = acquire("svc"), c = acquire("svc");
    for (auto& t : {a, b, c}) ASSERT_TRUE(reaches(t, TicketState::kHanded));
    EXPECT_EQ(info(a).instance_id, info(b).instance_id);
    EXPECT_NE(info(c).instance_id, info(a).instance_id);
    EXPECT_EQ(mgr_.instances("svc").size(), 2u);
}

TEST_F(ManagerTest, AtMaxRequestsQueueAndRunWhenASlotFrees) {
    deploy("svc", [](ServiceSpec& s) {
        s.concurrency = 1;
        s.max_instances = 1;
    });
    auto a = acquire("svc");
    ASSERT_TRUE(reaches(a, TicketState::kHanded));
    auto b = acquire("svc");
    EXPECT_EQ(info(b).state, TicketState::kQueued);
    EXPECT_EQ(mgr_.status("svc").queued, 1u);
    mgr_.finish(a, FinishKind::kCompleted);
    ASSERT_TRUE(reaches(b, TicketState::kHanded));
    EXPECT_EQ(info(b).instance_id, info(a).instance_id);
    EXPECT_EQ(world_.restores, 1);
}

TEST_F(ManagerTest, FullQueueRejectsAtOnce) {
    deploy("svc", [](ServiceSpec& s) {
        s.concurrency = 1;
        s.max_instances = 1;
        s.queue_size = 1;
    });
    auto a = acquire("svc");
    auto b = acquire("svc");
    auto c = acquire("svc");
    EXPECT_EQ(info(b).state, TicketState::kQueued);
    EXPECT_EQ(info(c).state, TicketState::kRejected);
    EXPECT_EQ(info(c).reason, RejectReason::kQueueFull);
    EXPECT_TRUE(peer_closed(last_fd_));
}

TEST_F(ManagerTest, QueueDeadlineRejectsAndClosesTheStream) {
    deploy("svc", [](ServiceSpec& s) {
        s.concurrency = 1;
        s.max_instances = 1;
        s.queue_timeout_ms = 50;
    });
    auto a = acquire("svc");
    auto b = acquire("svc");
    const int b_fd = last_fd_;
    ASSERT_TRUE(reaches(b, TicketState::kRejected, 2000));
    EXPECT_EQ(info(b).reason, RejectReason::kQueueTimeout);
    EXPECT_TRUE(peer_closed(b_fd));
    EXPECT_NE(metrics_.render().find(
                  "ember_queue_rejections_total{service=\"svc\",reason=\"timeout\"} 1"),
              std::string::npos);
}

TEST_F(ManagerTest, ClientGoneWhileQueuedLeavesTheQueue) {
    deploy("svc", [](ServiceSpec& s) {
        s.concurrency = 1;
        s.max_instances = 1;
    });
    auto a = acquire("svc");
    auto b = acquire("svc");
    mgr_.finish(b, FinishKind::kClientGone);
    EXPECT_EQ(mgr_.status("svc").queued, 0u);
    mgr_.finish(a, FinishKind::kCompleted);
    auto c = acquire("svc");
    ASSERT_TRUE(reaches(c, TicketState::kHanded));
}

TEST_F(ManagerTest, IdleInstanceIsStoppedAfterTheIdleTimeout) {
    deploy("svc", [](ServiceSpec& s) { s.idle_timeout_ms = 50; });
    auto a = acquire("svc");
    ASSERT_TRUE(reaches(a, TicketState::kHanded));
    mgr_.finish(a, FinishKind::kCompleted);
    ASSERT_TRUE(eventually([&] { return mgr_.instances("svc").empty() && live() == 0; }));
    EXPECT_EQ(mgr_.status("svc").state, "standby");
    EXPECT_NE(metrics_.render().find("ember_instance_crashes_total{service=\"svc\"} 0"),
              std::string::npos);
}

TEST_F(ManagerTest, BusyInstanceIsNotStoppedWhenIdleTimeoutPasses) {
    deploy("svc", [](ServiceSpec& s) { s.idle_timeout_ms = 20; });
    auto a = acquire("svc");
    ASSERT_TRUE(reaches(a, TicketState::kHanded));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    EXPECT_EQ(mgr_.instances("svc").size(), 1u);
    EXPECT_EQ(mgr_.instances("svc")[0].state, "busy");
}

TEST_F(ManagerTest, MinInstancesAreStartedAndKeptWarm) {
    deploy("svc", [](ServiceSpec& s) {
        s.min_instances = 2;
        s.idle_timeout_ms = 10;
    });
    ASSERT_TRUE(eventually([&] { return mgr_.instances("svc").size() == 2; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(mgr_.instances("svc").size(), 2u);
    auto a = acquire("svc");
    EXPECT_EQ(info(a).state, TicketState::kHanded);
    EXPECT_FALSE(info(a).cold);
}

TEST_F(ManagerTest, RequestIsolationUsesAFreshInstanceEveryTime) {
    deploy("svc", [](ServiceSpec& s) { s.isolation = Isolation::kRequest; });
    auto a = acquire("svc");
    ASSERT_TRUE(reaches(a, TicketState::kHanded));
    mgr_.finish(a, FinishKind::kCompleted);
    auto b = acquire("svc");
    ASSERT_TRUE(reaches(b, TicketState::kHanded));
    EXPECT_NE(info(a).instance_id, info(b).instance_id);
    EXPECT_TRUE(info(b).cold);
    mgr_.finish(b, FinishKind::kCompleted);
    ASSERT_TRUE(eventually([&] { return live() == 0; })) << "per-request instances are discarded";
    EXPECT_EQ(world_.restores, 2);
}

TEST_F(ManagerTest, SpareInstanceTakesTheNextRequestAndIsReplaced) {
    deploy("svc", [](ServiceSpec& s) {
        s.isolation = Isolation::kRequest;
        s.spare_instances = 1;
        s.idle_timeout_ms = 300;
    });
    EXPECT_TRUE(mgr_.instances("svc").empty()) << "no spares before the first request";
    auto a = acquire("svc");
    ASSERT_TRUE(reaches(a, TicketState::kHanded));
    EXPECT_TRUE(info(a).cold);
    ASSERT_TRUE(eventually([&] {
        for (const auto& i : mgr_.instances("svc"))
            if (i.state == "spare") return true;
        return false;
    }));
    mgr_.finish(a, FinishKind::kCompleted);
    auto b = acquire("svc");
    EXPECT_EQ(info(b).state, TicketState::kHanded) << "the ready spare takes it at once";
    EXPECT_FALSE(info(b).cold);
    EXPECT_NE(info(b).instance_id, info(a).instance_id);
    mgr_.finish(b, FinishKind::kCompleted);
    EXPECT_TRUE(eventually([&] {
        std::lock_guard lock(world_.mu);
        return world_.restores == 3;
    })) << "a's instance, the spare b got, and b's replacement";
    // Without traffic, the spare goes too (scale to zero).
    ASSERT_TRUE(eventually([&] { return mgr_.instances("svc").empty() && live() == 0; }));
}

TEST_F(ManagerTest, ANewGenerationTakesNewRequestsWhileTheOldOneDrains) {
    deploy("svc");
    auto a = acquire("svc");
    ASSERT_TRUE(reaches(a, TicketState::kHanded));
    deploy("svc", {}, 2);
    auto b = acquire("svc");
    ASSERT_TRUE(reaches(b, TicketState::kHanded));
    EXPECT_NE(info(b).instance_id, info(a).instance_id);
    auto list = mgr_.instances("svc");
    ASSERT_EQ(list.size(), 2u);
    mgr_.finish(a, FinishKind::kCompleted);
    ASSERT_TRUE(eventually([&] {
        auto l = mgr_.instances("svc");
        return l.size() == 1 && l[0].generation == 2;
    }));
}

TEST_F(ManagerTest, CrashedInstanceIsRemovedCountedAndReplacedOnDemand) {
    deploy("svc");
    auto a = acquire("svc");
    ASSERT_TRUE(reaches(a, TicketState::kHanded));
    {
        std::lock_guard lock(world_.mu);
        ASSERT_EQ(world_.guests.size(), 1u);
    }
    world_.guests[0]->crash();
    ASSERT_TRUE(eventually([&] { return mgr_.instances("svc").empty(); }));
    EXPECT_TRUE(eventually([&] { return peer_closed(fds_[0]); }))
        << "the crashed instance's streams must close";
    mgr_.finish(a, FinishKind::kFailed);
    EXPECT_NE(metrics_.render().find("ember_instance_crashes_total{service=\"svc\"} 1"),
              std::string::npos);
    auto logs = logs_.read("svc", 0, 100);
    ASSERT_FALSE(logs.empty());
    EXPECT_NE(logs.back().text.find("ended unexpectedly: crashed: test"), std::string::npos);
    auto b = acquire("svc");
    ASSERT_TRUE(reaches(b, TicketState::kHanded));
    EXPECT_EQ(world_.restores, 2);
}

TEST_F(ManagerTest, RestoreFailureRejectsTheWaitingRequests) {
    world_.fail_restore = true;
    deploy("svc");
    auto a = acquire("svc");
    ASSERT_TRUE(reaches(a, TicketState::kRejected));
    EXPECT_EQ(info(a).reason, RejectReason::kInstanceFailed);
    EXPECT_NE(info(a).message.find("no KVM today"), std::string::npos);
    EXPECT_TRUE(mgr_.instances("svc").empty());
    world_.fail_restore = false;
    auto b = acquire("svc");
    EXPECT_TRUE(reaches(b, TicketState::kHanded));
}

TEST_F(ManagerTest, TimedOutRequestRetiresItsInstance) {
    deploy("svc");
    auto a = acquire("svc");
    ASSERT_TRUE(reaches(a, TicketState::kHanded));
    const uint64_t first = info(a).instance_id;
    mgr_.finish(a, FinishKind::kTimedOut);
    auto b = acquire("svc");
    ASSERT_TRUE(reaches(b, TicketState::kHanded));
    EXPECT_NE(info(b).instance_id, first);
    ASSERT_TRUE(eventually([&] { return mgr_.instances("svc").size() == 1; }));
}

TEST_F(ManagerTest, ServiceWithoutSnapshotQueuesUntilPrepared) {
    mgr_.deploy(record("svc", 1), nullptr);
    EXPECT_EQ(mgr_.status("svc").state, "preparing");
    auto a = acquire("svc");
    EXPECT_EQ(info(a).state, TicketState::kQueued);
    mgr_.deploy(record("svc", 1), std::make_shared<FakePrepared>());
    EXPECT_TRUE(reaches(a, TicketState::kHanded));
}

TEST_F(ManagerTest, FailedPreparationRejectsWithTheReason) {
    mgr_.deploy(record("svc", 1), nullptr);
    auto a = acquire("svc");
    mgr_.set_failed("svc", 1, "the program exited");
    EXPECT_EQ(info(a).state, TicketState::kRejected);
    EXPECT_EQ(info(a).reason, RejectReason::kUnavailable);
    auto b = acquire("svc");
    EXPECT_EQ(info(b).reason, RejectReason::kUnavailable);
    EXPECT_EQ(info(b).message, "the program exited");
    EXPECT_EQ(mgr_.status("svc").state, "failed");
}

TEST_F(ManagerTest, RemoveRejectsQueuedRequestsAndStopsInstances) {
    deploy("svc", [](ServiceSpec& s) {
        s.concurrency = 1;
        s.max_instances = 1;
    });
    auto a = acquire("svc");
    ASSERT_TRUE(reaches(a, TicketState::kHanded));
    auto b = acquire("svc");
    mgr_.remove("svc");
    EXPECT_EQ(info(b).state, TicketState::kRejected);
    EXPECT_EQ(info(b).reason, RejectReason::kNoService);
    ASSERT_TRUE(eventually([&] { return live() == 0; }));
    mgr_.finish(a, FinishKind::kFailed);
    EXPECT_FALSE(mgr_.status("svc").exists);
}

TEST_F(ManagerTest, ShutdownStopsEveryInstanceAndRejectsNewRequests) {
    deploy("svc", [](ServiceSpec& s) { s.min_instances = 3; });
    ASSERT_TRUE(eventually([&] { return live() == 3; }));
    mgr_.shutdown();
    EXPECT_EQ(live(), 0u);
    auto a = acquire("svc");
    EXPECT_EQ(info(a).reason, RejectReason::kShuttingDown);
}

// Keep-alive: a request on a stream the gateway kept open after an earlier
// response (acquire_on).
TEST_F(ManagerTest, KeptAliveStreamTakesARequestWithoutANewStream) {
    deploy("svc", [](ServiceSpec& s) { s.concurrency = 2; });
    auto a = acquire("svc");
    ASSERT_TRUE(reaches(a, TicketState::kHanded));
    const uint64_t id = info(a).instance_id;
    EXPECT_TRUE(info(a).reusable);
    std::vector<uint64_t> stale;
    auto b = mgr_.acquire_on("svc", {id}, &stale);
    ASSERT_TRUE(b);
    EXPECT_TRUE(stale.empty());
    EXPECT_EQ(info(b).state, TicketState::kHanded);
    EXPECT_EQ(info(b).instance_id, id);
    EXPECT_FALSE(info(b).cold);
    EXPECT_EQ(mgr_.instances("svc")[0].active, 2u);
    EXPECT_FALSE(mgr_.acquire_on("svc", {id}, &stale)) << "no free slot";
    EXPECT_TRUE(stale.empty()) << "full is not stale";
    mgr_.finish(b, FinishKind::kCompleted);
    mgr_.finish(a, FinishKind::kCompleted);
    EXPECT_EQ(mgr_.instances("svc")[0].active, 0u);
    EXPECT_EQ(mgr_.instances("svc")[0].served, 2u);
    EXPECT_EQ(world_.restores, 1);
}

TEST_F(ManagerTest, KeptAliveStreamsPickTheBusiestInstanceAndNameTheStaleOnes) {
    deploy("svc", [](ServiceSpec& s) { s.concurrency = 3; });
    auto a = acquire("svc"), b = acquire("svc"), c = acquire("svc"), e = acquire("svc");
    for (auto& t : {a, b, c, e}) ASSERT_TRUE(reaches(t, TicketState::kHanded));
    const uint64_t busy = info(a).instance_id, quiet = info(e).instance_id;
    ASSERT_NE(busy, quiet);
    mgr_.finish(c, FinishKind::kCompleted);  // busy: 2 of 3, quiet: 1 of 3
    std::vector<uint64_t> stale;
    auto d = mgr_.acquire_on("svc", {quiet, 424242, busy}, &stale);
    ASSERT_TRUE(d);
    EXPECT_EQ(info(d).instance_id, busy) << "packed onto the busiest, as acquire()";
    EXPECT_EQ(stale, std::vector<uint64_t>{424242});
    stale.clear();
    EXPECT_FALSE(mgr_.acquire_on("nobody", {busy}, &stale));
    EXPECT_EQ(stale, std::vector<uint64_t>{busy});
}

TEST_F(ManagerTest, KeptAliveStreamsNeverReachSingleUseOrOldInstances) {
    deploy("iso", [](ServiceSpec& s) { s.isolation = Isolation::kRequest; });
    auto a = acquire("iso");
    ASSERT_TRUE(reaches(a, TicketState::kHanded));
    EXPECT_FALSE(info(a).reusable);
    std::vector<uint64_t> stale;
    EXPECT_FALSE(mgr_.acquire_on("iso", {info(a).instance_id}, &stale));
    EXPECT_EQ(stale.size(), 1u);

    deploy("svc");
    auto b = acquire("svc");
    ASSERT_TRUE(reaches(b, TicketState::kHanded));
    mgr_.finish(b, FinishKind::kCompleted);
    deploy("svc", {}, 2);
    stale.clear();
    EXPECT_FALSE(mgr_.acquire_on("svc", {info(b).instance_id}, &stale)) << "an old generation";
    EXPECT_EQ(stale.size(), 1u);
}

// An instance started before isolation was PATCHed to request takes no more
// requests on its kept-alive streams: each request gets a fresh instance.
TEST_F(ManagerTest, KeptAliveStreamsStopReachingAnInstanceOnceIsolationIsRequest) {
    deploy("svc");
    auto a = acquire("svc");
    ASSERT_TRUE(reaches(a, TicketState::kHanded));
    mgr_.finish(a, FinishKind::kCompleted);
    mgr_.update(record("svc", 1, [](ServiceSpec& s) { s.isolation = Isolation::kRequest; }).spec);
    std::vector<uint64_t> stale;
    EXPECT_FALSE(mgr_.acquire_on("svc", {info(a).instance_id}, &stale));
    EXPECT_EQ(stale, std::vector<uint64_t>{info(a).instance_id});
}

}  // namespace
}  // namespace ember::platform
