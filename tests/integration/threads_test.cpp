// Threads in the guest kernel: pthread, C++ std::thread and raw futex
// programs give the same output and exit status as natively, with either
// libc, patched syscall sites or not; a program with several threads
// snapshots at READY and its restores carry every thread; a spinning thread
// is preempted at the end of its time slice.
#include <string>

#include "ember_stats.h"
#include "test_env.h"

namespace ember::test {
namespace {

class ThreadsTest : public EmberTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(ThreadsTest, PthreadsCreateJoinCondvarPipeYieldAsNatively) {
    expect_as_native({example_path(GetParam(), "threads")});
}

TEST_P(ThreadsTest, FutexOperationsAndErrorsAsNatively) {
    expect_as_native({example_path(GetParam(), "futex")});
}

TEST_P(ThreadsTest, ExitOfOneThreadVersusExitGroupAsNatively) {
    for (const char* mode : {"group", "leader", "last"})
        expect_as_native({example_path(GetParam(), "thread_exit"), mode});
}

// 40 threads with the default stack size alive at once at the default --mem:
// glibc's default (RLIMIT_STACK) scales with --mem (6 fitted with 8 MiB).
TEST_P(ThreadsTest, FortyDefaultThreadsFitTheDefaultMemory) {
    expect_as_native({example_path(GetParam(), "many_threads"), "40"});
}

TEST_F(ThreadsTest, CxxStdThreadAndAsyncAsNatively) {
    expect_as_native({example_path("gcc", "cxx_threads")});
}

TEST_P(ThreadsTest, SnapshotWithThreeThreadsRestoresEveryThread) {
    TempDir dir;
    const std::string snap = dir / "t.snap";
    RunResult made =
        run_ember({"run", "--snapshot-out", snap, example_path(GetParam(), "thread_stdin")});
    ASSERT_TRUE(made.exited && made.exit_code == 0) << describe(made);
    for (const std::string input : {"abc\nxyz\n", "one\n"}) {
        write_file(dir / "in", input);
        RunResult r = run_ember({"restore", "--stdin", dir / "in", snap});
        ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
        std::string want;
        int n = 0;
        for (const std::string& l : split_lines(input)) {
            std::string up = l;
            for (char& c : up) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
            want += "answer " + std::to_string(++n) + ": " + up + "\n";
        }
        want += "answered " + std::to_string(n) + "\n";
        EXPECT_EQ(r.out, want) << r.err;
    }
}

// Preemption: a thread spinning in userspace does not keep the others from
// running (the VMM ends its time slice), as natively: a thread that ends the
// process, two spinners that each wait to see the other count, and a
// sleeper whose deadline passes while the only runnable thread spins.
TEST_P(ThreadsTest, SpinningThreadDoesNotStarveTheOthers) {
    for (const char* mode : {"spin", "pair", "sleep"}) {
        RunResult native = run_native({example_path(GetParam(), "thread_spin"), mode});
        ASSERT_TRUE(native.exited && native.exit_code == 0) << describe(native);
        RunResult r = run_ember({"run", "--timeout", "20s", "--stats",
                                 example_path(GetParam(), "thread_spin"), "--", mode});
        EXPECT_TRUE(r.exited && r.exit_code == 0) << mode << " " << describe(r);
        EXPECT_EQ(r.out, native.out) << r.err;
        EXPECT_NE(r.err.find(" preemptions="), std::string::npos) << r.err;
    }
}

// A single busy thread costs nothing: no kick, no preemption.
TEST_P(ThreadsTest, SingleBusyThreadIsNeverPreempted) {
    RunResult r = run_ember({"run", "--timeout", "20s", "--stats",
                             example_path(GetParam(), "thread_spin"), "--", "busy"});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_EQ(r.out, "busy done\n");
    EXPECT_NE(r.err.find("ember-vm: stats:"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("preemptions="), std::string::npos) << r.err;
}

// glibc's pthread create+join takes one trap per pair (the exiting
// thread's `exit` site, which no window covers): its rt_sigprocmask sites
// are patched, and the madvise of its cached stack reloads no CR3 (the
// pages it never wrote need nothing). Main's kernel took three traps.
TEST_F(ThreadsTest, GlibcCreateJoinTrapsOncePerPairWithoutCr3Loads) {
    constexpr int kPairs = 200;
    RunResult r = run_ember({"run", "--stats", example_path("gcc", "thread_bench"), "--",
                             std::to_string(kPairs), "10"});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    auto stats = parse_stats(r.err);
    const double traps = stats["syscalls"] - stats["fast_syscalls"];
    EXPECT_LE(traps, kPairs + 60) << r.err;     // start-up and the warm-up pair: ~34
    EXPECT_LE(stats["cr3_loads"], 1) << r.err;  // the move to its own tables
}

INSTANTIATE_TEST_SUITE_P(Libc, ThreadsTest, ::testing::Values("gcc", "musl"));

}  // namespace
}  // namespace ember::test
