// Stateful scale to zero through the VMM's API: an instance of a snapshot is
// suspended (Vm::suspend) and resumed (Vm::resume_from) in another VM with
// its memory intact; examples/counter.c keeps its state only in memory.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "counter_vm.h"
#include "vmm/suspended.h"
#include "vmm/vm.h"

namespace ember {
namespace {

bool have_kvm() { return access("/dev/kvm", R_OK | W_OK) == 0; }
#define REQUIRE_KVM()                                                                          \
    do {                                                                                       \
        if (!have_kvm()) GTEST_SKIP() << "*** /dev/kvm is not available: VM test skipped ***"; \
    } while (0)

std::string temp_path(const std::string& name) {
    return testing::TempDir() + "/ember_susp_" + std::to_string(getpid()) + "_" + name;
}

std::shared_ptr<const snapshot::Snapshot> counter_snapshot(const std::string& path) {
    auto r = run_vm(testing_vm::counter_snapshot_config(path));
    EXPECT_TRUE(r.is_ok() && r->outcome == Outcome::kSnapshotted);
    auto s = snapshot::Snapshot::open(path);
    EXPECT_TRUE(s.is_ok()) << (s ? "" : s.message());
    return s ? *s : nullptr;
}

using testing_vm::http_get;

VmConfig instance_config() {
    VmConfig cfg;
    cfg.reusable = true;
    cfg.timeout_ns = 60ull * 1000000000;
    return cfg;
}

class SuspendTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!have_kvm()) return;
        snap_ = counter_snapshot(snap_path_);
    }
    void TearDown() override {
        ::unlink(snap_path_.c_str());
        ::unlink(susp_path_.c_str());
    }
    // Runs vm on a thread; `body` talks to it; then suspends it into
    // susp_path_ and returns the run's report.
    RunReport run_then_suspend(Vm& vm, const std::function<void()>& body) {
        RunReport report;
        std::thread t([&] { report = vm.run(); });
        body();
        const int fd = ::open(susp_path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        EXPECT_GE(fd, 0);
        vm.suspend(fd);
        t.join();
        ::close(fd);
        return report;
    }
    Result<std::unique_ptr<const snapshot::Suspended>> open_suspended() {
        const int fd = ::open(susp_path_.c_str(), O_RDONLY | O_CLOEXEC);
        return snapshot::Suspended::open_fd(fd, susp_path_, snapshot::BaseId::of(snap_->header()));
    }

    std::string snap_path_ = temp_path("counter.snap");
    std::string susp_path_ = temp_path("counter.susp");
    std::shared_ptr<const snapshot::Snapshot> snap_;
};

TEST_F(SuspendTest, ResumedInstanceKeepsItsMemory) {
    REQUIRE_KVM();
    ASSERT_TRUE(snap_);
    auto vm = Vm::restore(snap_, instance_config());
    ASSERT_TRUE(vm.is_ok()) << vm.message();
    const RunReport r = run_then_suspend(**vm, [&] {
        EXPECT_EQ(http_get(**vm, "/"), "count 1\n");
        EXPECT_EQ(http_get(**vm, "/dirty/4"), "count 2\n");
        EXPECT_EQ(http_get(**vm, "/"), "count 3\n");
    });
    ASSERT_EQ(r.outcome, Outcome::kSnapshotted) << r.message;
    // 4 MiB written by the guest, plus a few pages of its stack, kernel and rings.
    EXPECT_GE(r.stats.suspend_pages, 1024u);
    EXPECT_LT(r.stats.suspend_pages, 1024u + 256);
    struct stat st;
    ASSERT_EQ(stat(susp_path_.c_str(), &st), 0);
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), r.stats.suspend_bytes);

    auto s = open_suspended();
    ASSERT_TRUE(s.is_ok()) << s.message();
    auto vm2 = Vm::restore(snap_, instance_config());
    ASSERT_TRUE(vm2.is_ok()) << vm2.message();
    ASSERT_TRUE((*vm2)->resume_from(**s).is_ok());
    const RunReport r2 = run_then_suspend(**vm2, [&] {
        EXPECT_EQ(http_get(**vm2, "/"), "count 4\n");
        // 4 MiB of the byte 2 % 251.
        EXPECT_EQ(http_get(**vm2, "/sum"),
                  "count 5 sum " + std::to_string(2ull * (4 << 20)) + "\n");
    });
    EXPECT_EQ(r2.outcome, Outcome::kSnapshotted) << r2.message;

    // A VM reset to the snapshot takes a suspended instance too, and a reset
    // after it gives a fresh instance again.
    ASSERT_TRUE((*vm)->reset(instance_config()).is_ok());
    auto s2 = open_suspended();
    ASSERT_TRUE(s2.is_ok()) << s2.message();
    ASSERT_TRUE((*vm)->resume_from(**s2).is_ok());
    RunReport r3 = run_then_suspend(**vm, [&] { EXPECT_EQ(http_get(**vm, "/"), "count 6\n"); });
    EXPECT_EQ(r3.outcome, Outcome::kSnapshotted) << r3.message;
    ASSERT_TRUE((*vm)->reset(instance_config()).is_ok());
    r3 = run_then_suspend(**vm, [&] { EXPECT_EQ(http_get(**vm, "/sum"), "count 1 sum 0\n"); });
    EXPECT_EQ(r3.outcome, Outcome::kSnapshotted) << r3.message;
}

TEST_F(SuspendTest, OpenConnectionsGetEndOfFileFirst) {
    REQUIRE_KVM();
    ASSERT_TRUE(snap_);
    auto vm = Vm::restore(snap_, instance_config());
    ASSERT_TRUE(vm.is_ok()) << vm.message();
    int sv[2] = {-1, -1};
    const RunReport r = run_then_suspend(**vm, [&] {
        EXPECT_EQ(http_get(**vm, "/"), "count 1\n");
        // A connection left open (the guest blocks reading it): the suspend
        // ends it as a client that went away would.
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        (*vm)->post_connection(sv[1], 8080);
        usleep(50000);
    });
    ASSERT_EQ(r.outcome, Outcome::kSnapshotted) << r.message;
    char c;
    EXPECT_EQ(read(sv[0], &c, 1), 0);  // EOF, not a reset
    close(sv[0]);
}

TEST_F(SuspendTest, SuspendedSnapshotOfAnotherBaseIsRefused) {
    REQUIRE_KVM();
    ASSERT_TRUE(snap_);
    auto vm = Vm::restore(snap_, instance_config());
    ASSERT_TRUE(vm.is_ok()) << vm.message();
    ASSERT_EQ(run_then_suspend(**vm, [&] { http_get(**vm, "/"); }).outcome, Outcome::kSnapshotted);
    snapshot::BaseId other = snapshot::BaseId::of(snap_->header());
    other.mem_crc ^= 1;
    auto s = snapshot::Suspended::open_fd(::open(susp_path_.c_str(), O_RDONLY | O_CLOEXEC),
                                          susp_path_, other);
    ASSERT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("another snapshot"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace ember
