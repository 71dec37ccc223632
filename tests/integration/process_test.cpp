// process_test.cpp - several processes in one instance: fork, exec, wait,
// pipes, signals between processes (examples/fork_exec.c, both libcs), and
// Debian's busybox shell running pipelines, redirections, command
// substitution, background jobs, xargs and find -exec, each compared with
// a native run of the same binary.
#include <string>

#include "test_env.h"

namespace ember::test {
namespace {

class ProcessTest : public EmberTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(ProcessTest, ForkExecWaitPipesAndSignalsAsNatively) {
    expect_as_native({example_path(GetParam(), "fork_exec")});
}

INSTANTIATE_TEST_SUITE_P(Libc, ProcessTest, ::testing::Values("gcc", "musl"));

// busybox sh over a root fs that holds busybox itself at /bin/busybox (the
// shell re-executes /proc/self/exe for applets in a child) and a few files.
class ShellTest : public EmberTest {
  protected:
    static void SetUpTestSuite() {
        root_ = new TempDir();
        const TempDir& d = *root_;
        write_file(d / "data/a.txt", "one\ntwo\nthree\nfour\n");
        write_file(d / "data/b.txt", "pear\napple\nfig\n");
        write_file(d / "data/sub/c.txt", "nested\n");
        write_file(d / "bin/busybox", read_file(busybox_path()), 0755);
        write_file(d / "data/run.sh", "#!/bin/busybox sh\necho script \"$@\"\nexit 4\n", 0755);
    }
    static void TearDownTestSuite() {
        delete root_;
        root_ = nullptr;
    }

    void ExpectShellAsNative(const std::string& script) {
        auto native = run_native({busybox_path(), "sh", "-c", script}, root_->path(), {"TZ=UTC0"});
        ASSERT_TRUE(native.exited) << describe(native);
        auto r = run_ember({"run", "--rootfs", root_->path(), "--env", "TZ=UTC0",
                            *root_ / "bin/busybox", "--", "sh", "-c", script});
        ASSERT_TRUE(r.exited) << describe(r);
        EXPECT_EQ(r.exit_code, native.exit_code) << script << "\n" << describe(r);
        EXPECT_EQ(r.out, native.out) << script << "\nnative:\n"
                                     << native.out << "\nember:\n"
                                     << describe(r);
    }

    static TempDir* root_;
};

TempDir* ShellTest::root_ = nullptr;

TEST_F(ShellTest, PipelineOfTwoApplets) { ExpectShellAsNative("cat data/a.txt | wc -l"); }

TEST_F(ShellTest, PipelineOfThreeAndExitStatus) {
    ExpectShellAsNative("cat data/b.txt | sort | head -n 2; false | true; echo status $?");
}

TEST_F(ShellTest, RedirectionsAndCommandSubstitution) {
    ExpectShellAsNative(
        "f=/tmp/ember-process-test.$$; echo hello > $f; cat data/a.txt >> $f; wc -l < $f; "
        "n=$(cat $f | wc -l); rm $f; echo lines=$n; echo $(echo nested $(echo deep))");
}

TEST_F(ShellTest, BackgroundJobsAndWait) {
    ExpectShellAsNative("(sleep 0.05; echo late) & echo early; wait; echo done $?");
}

TEST_F(ShellTest, XargsAndFindExec) {
    ExpectShellAsNative(
        "echo data/a.txt data/b.txt | xargs wc -l; "
        "find data -name '*.txt' -exec wc -c {} \\; | sort");
}

TEST_F(ShellTest, ScriptWithShebangAndExitCodes) {
    ExpectShellAsNative(
        "./data/run.sh a b; echo code $?; sh -c 'exit 3'; echo code $?; "
        "sh -c 'kill -9 $$'; echo code $?");
}

}  // namespace
}  // namespace ember::test
