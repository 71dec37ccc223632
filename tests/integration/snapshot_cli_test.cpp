// ember-vm run --snapshot-out / ember-vm restore, from the command line.
#include <fstream>
#include <string>

#include "test_env.h"

namespace ember::test {
namespace {

class SnapshotCliTest : public EmberTest {};

TEST_F(SnapshotCliTest, SnapshotThenRestoreAnswersFromTheInitialisedState) {
    TempDir dir;
    const std::string snap = dir / "kv.snap";
    RunResult made = run_ember({"run", "--snapshot-out", snap, example_path("gcc", "kvstore")});
    ASSERT_TRUE(made.exited && made.exit_code == 0) << describe(made);
    EXPECT_NE(made.err.find("kvstore: initialised"), std::string::npos) << made.err;
    for (int k : {3, 99}) {
        write_file(dir / "in", "get " + std::to_string(k) + "\ninfo\n");
        RunResult r = run_ember({"restore", "--stdin", dir / "in", snap});
        ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
        EXPECT_EQ(r.out, std::to_string(k) + "=" + std::to_string(unsigned(k) * 2654435761u) +
                             "\nserved=2 inits=1\n");
        // Initialisation ran once, before the snapshot: not again.
        EXPECT_EQ(r.err.find("initialised"), std::string::npos) << r.err;
    }
}

TEST_F(SnapshotCliTest, ContinueKeepsRunningAfterTheSnapshot) {
    TempDir dir;
    const std::string snap = dir / "kv.snap";
    write_file(dir / "in", "get 1\n");
    RunResult r = run_ember({"run", "--snapshot-out", snap, "--continue", "--stdin", dir / "in",
                             example_path("musl", "kvstore")});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_EQ(r.out, "1=2654435761\n");
    std::ifstream f(snap);
    EXPECT_TRUE(f.good()) << "no snapshot written";
}

TEST_F(SnapshotCliTest, ProgramThatExitsBeforeReadyWritesNoSnapshot) {
    TempDir dir;
    const std::string snap = dir / "hello.snap";
    RunResult r = run_ember({"run", "--snapshot-out", snap, example_path("gcc", "hello")});
    EXPECT_TRUE(r.exited && r.exit_code != 0) << describe(r);
    EXPECT_NE(r.err.find("before it was READY"), std::string::npos) << r.err;
    std::ifstream f(snap);
    EXPECT_FALSE(f.good());
}

TEST_F(SnapshotCliTest, RestoringAFileThatIsNotASnapshotFailsWithOneLine) {
    TempDir dir;
    write_file(dir / "bogus.snap", std::string(8192, 'x'));
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"restore", dir / "bogus.snap"}), {126}));
}

TEST_F(SnapshotCliTest, RestoringATruncatedSnapshotFailsWithOneLine) {
    TempDir dir;
    const std::string snap = dir / "kv.snap";
    RunResult made = run_ember({"run", "--snapshot-out", snap, example_path("gcc", "kvstore")});
    ASSERT_TRUE(made.exited && made.exit_code == 0) << describe(made);
    const std::string bytes = read_file(snap);
    write_file(snap, bytes.substr(0, bytes.size() / 2));
    RunResult r = run_ember({"restore", snap});
    EXPECT_TRUE(RejectedWithOneLine(r, {126}));
    EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
}

TEST_F(SnapshotCliTest, RestoringAMissingFileFailsWithOneLine) {
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"restore", "/nonexistent/x.snap"}), {126}));
}

}  // namespace
}  // namespace ember::test
