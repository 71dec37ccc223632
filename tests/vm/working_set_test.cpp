// The working set learnt from a snapshot's first instance is bounded: a
// hostile first instance (examples/ws_hog.c) that reads and writes far more
// of the snapshot's memory than a request needs, and allocates new memory,
// leaves at most kMaxWorkingSetPages pages, all present in the snapshot, for
// later restores to populate.
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "vmm/cpio_writer.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

namespace ember {
namespace {

std::vector<uint8_t> read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)),
                                std::istreambuf_iterator<char>());
}

class WorkingSetTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (access("/dev/kvm", R_OK | W_OK) != 0)
            GTEST_SKIP() << "*** /dev/kvm is not available: VM test skipped ***";
        path_ = testing::TempDir() + "/ember_ws_" + std::to_string(getpid()) + ".snap";
        VmConfig cfg;
        cfg.program = read_all(std::string(EMBER_EXAMPLES_GCC_DIR) + "/ws_hog");
        ASSERT_FALSE(cfg.program.empty());
        cfg.guest_path = "/bin/app";
        cfg.argv = {"app"};
        cfg.mem_size = 128ull << 20;
        cpio::Writer w;
        ASSERT_TRUE(w.add_dir("tmp", 01777));
        ASSERT_TRUE(w.add_file("bin/app", cfg.program, 0755));
        cfg.rootfs = w.finish();
        cfg.snapshot_out = path_;
        auto r = run_vm(std::move(cfg));
        ASSERT_TRUE(r.is_ok()) << r.message();
        ASSERT_EQ(r->outcome, Outcome::kSnapshotted) << r->message;
        auto s = snapshot::Snapshot::open(path_);
        ASSERT_TRUE(s.is_ok()) << s.message();
        snap_ = *s;
    }
    void TearDown() override {
        if (!path_.empty()) unlink(path_.c_str());
    }
    // Restores an instance, feeds it `input` on stdin until EOF; its stdout.
    // *restore_cpu_us: the CPU time Vm::restore took (populating the working
    // set happens in it, on this thread); CPU time, as wall time on a shared
    // host measures the other load.
    std::string run(const std::string& input, double* restore_cpu_us = nullptr) {
        int p[2];
        EXPECT_EQ(pipe(p), 0);
        EXPECT_EQ(write(p[1], input.data(), input.size()), static_cast<ssize_t>(input.size()));
        close(p[1]);
        VmConfig cfg;
        cfg.stdin_fd = p[0];
        cfg.timeout_ns = 30ull * 1000000000;
        std::string out;
        cfg.console = [&out](int fd, const char* d, size_t n) {
            if (fd == 1) out.append(d, n);
        };
        auto cpu_us = [] {
            timespec ts;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
            return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
        };
        const double t0 = cpu_us();
        auto vm = Vm::restore(snap_, std::move(cfg));
        if (restore_cpu_us) *restore_cpu_us = cpu_us() - t0;
        EXPECT_TRUE(vm.is_ok()) << (vm.is_ok() ? "" : vm.message());
        if (!vm.is_ok()) return "";
        RunReport r = (*vm)->run();
        EXPECT_EQ(r.outcome, Outcome::kExited) << r.message;
        EXPECT_EQ(r.exit_status, 0);
        return out;
    }
    std::string path_;
    std::shared_ptr<const snapshot::Snapshot> snap_;
};

TEST_F(WorkingSetTest, HostileFirstInstanceLeavesABoundedSetOfSnapshotPages) {
    ASSERT_GT(snap_->pages_present(), 6144u) << "the 24 MiB table is in the snapshot";
    double first_us = 0;
    EXPECT_EQ(run("touch\ndirty\ngrow 16\n", &first_us), "ok\nok\nok\n");
    auto ws = snap_->working_set();
    ASSERT_NE(ws, nullptr) << "nothing learnt from the first instance";
    // It wrote all 6144 table pages: the cap, not the instance, sets the size
    // (without the cap: ~10600 pages, 4096 of them absent from the snapshot).
    EXPECT_EQ(ws->written.size() + ws->read.size(), snapshot::kMaxWorkingSetPages);
    EXPECT_EQ(ws->written.size(), snapshot::kMaxWorkingSetPages) << "written pages go first";
    for (const auto* pages : {&ws->written, &ws->read})
        for (uint64_t p : *pages) ASSERT_TRUE(snap_->page_present(p)) << "page " << p;
    // Later instances populate it and still see the snapshot's contents.
    double later_us = 0;
    EXPECT_EQ(run("get 7\n", &later_us), "7=" + std::to_string(7u * 2654435761u + 1) + "\n");
    std::printf("restore CPU time: %.0f us with no working set, %.0f us populating %llu pages\n",
                first_us, later_us, static_cast<unsigned long long>(snapshot::kMaxWorkingSetPages));
}

TEST_F(WorkingSetTest, BenignFirstInstanceKeepsItsWholeWorkingSet) {
    EXPECT_EQ(run("get 5\n"), "5=" + std::to_string(5u * 2654435761u + 1) + "\n");
    auto ws = snap_->working_set();
    ASSERT_NE(ws, nullptr);
    const size_t n = ws->written.size() + ws->read.size();
    EXPECT_GT(n, 0u);
    std::printf("a get request's working set: %zu written + %zu read pages\n", ws->written.size(),
                ws->read.size());
    EXPECT_LT(n, snapshot::kMaxWorkingSetPages) << "cut short by the cap";
}

TEST_F(WorkingSetTest, PagesAbsentFromTheSnapshotAreNotRecorded) {
    EXPECT_EQ(run("grow 32\n"), "ok\n");
    auto ws = snap_->working_set();
    ASSERT_NE(ws, nullptr);
    // A request touches ~400 pages; the 32 MiB it allocated are 8192 more.
    EXPECT_LT(ws->written.size() + ws->read.size(), 2048u);
    for (const auto* pages : {&ws->written, &ws->read})
        for (uint64_t p : *pages) ASSERT_TRUE(snap_->page_present(p)) << "page " << p;
}

}  // namespace
}  // namespace ember
