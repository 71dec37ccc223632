// process_test.cpp - several processes in one instance: fork, exec, wait,
// pipes, signals between processes (examples/fork_exec.c, both libcs), and
// Debian's busybox shell running pipelines, redirections, command
// substitution, background jobs, xargs and find -exec, each compared with
// a native run of the same binary.
#include <unistd.h>

#include <string>
#include <vector>

#include "test_env.h"

namespace ember::test {
namespace {

constexpr const char* kBashStatic = "/bin/bash-static";

class ProcessTest : public EmberTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(ProcessTest, ForkExecWaitPipesAndSignalsAsNatively) {
    expect_as_native({example_path(GetParam(), "fork_exec")});
}

// A root service dropping its ids as nginx's workers do (setgroups,
// setresgid, setresuid, dumpability), then fork and exec.
TEST_P(ProcessTest, CredentialsDroppedAsARootServiceDoesAsNatively) {
    if (geteuid() != 0) GTEST_SKIP() << "SKIPPED: the native run needs root";
    expect_as_native({example_path(GetParam(), "creds")});
}

// /proc/<pid> of a parent and its fork child: /proc/self, status and stat
// (ids after setresuid), cmdline, exe, fd/, maps, task/, a zombie, ENOENT
// once reaped.
TEST_P(ProcessTest, ProcPidDirectoriesOfEveryProcessAsNatively) {
    if (geteuid() != 0) GTEST_SKIP() << "SKIPPED: the native run needs root";
    expect_as_native({example_path(GetParam(), "proc_pids")});
}

// Job control: SIGSTOP/SIGTSTP stop every thread of a child, SIGCONT
// resumes it (and runs its handler), WUNTRACED/WCONTINUED and waitid's
// WSTOPPED/WCONTINUED, SIGCHLD's CLD_STOPPED/CLD_CONTINUED and SA_NOCLDSTOP,
// SIGKILL of a stopped child, SIGTSTP in an orphaned process group.
TEST_P(ProcessTest, StopAndContinueAsNatively) {
    expect_as_native({example_path(GetParam(), "job_control")});
}

// Timers per process: a fork child inherits none, parent and child each get
// only their own SIGALRM and POSIX timer signals, exec keeps the interval
// timer and drops the POSIX timers.
TEST_P(ProcessTest, TimersBelongToTheProcessThatMadeThemAsNatively) {
    expect_as_native({example_path(GetParam(), "proc_timers")});
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
        // busybox tar runs "gzip" through PATH.
        write_file(d / "bin/gzip", read_file(busybox_path()), 0755);
        if (access(kBashStatic, X_OK) == 0)
            write_file(d / "bin/bash", read_file(kBashStatic), 0755);
        write_file(d / "data/run.sh", "#!/bin/busybox sh\necho script \"$@\"\nexit 4\n", 0755);
    }
    static void TearDownTestSuite() {
        delete root_;
        root_ = nullptr;
    }

    // busybox sh (or bash-static with bash = true) -c script, natively and in
    // a microVM over the same root fs.
    void ExpectShellAsNative(const std::string& script, bool bash = false) {
        const std::vector<std::string> native_argv =
            bash ? std::vector<std::string>{kBashStatic, "-c", script}
                 : std::vector<std::string>{busybox_path(), "sh", "-c", script};
        auto native = run_native(native_argv, root_->path(), {"TZ=UTC0"});
        ASSERT_TRUE(native.exited) << describe(native);
        std::vector<std::string> vm{"run", "--rootfs", root_->path(), "--env", "TZ=UTC0"};
        if (bash)
            vm.insert(vm.end(), {*root_ / "bin/bash", "--", "-c", script});
        else
            vm.insert(vm.end(), {*root_ / "bin/busybox", "--", "sh", "-c", script});
        auto r = run_ember(vm);
        ASSERT_TRUE(r.exited) << describe(r);
        EXPECT_EQ(r.exit_code, native.exit_code) << script << "\n" << describe(r);
        EXPECT_EQ(r.out, native.out) << script << "\nnative:\n"
                                     << native.out << "\nember:\n"
                                     << describe(r);
    }

    static TempDir* root_;
};

TempDir* ShellTest::root_ = nullptr;

// Debian's bash-static (scripts/deps.sh): loops, pipelines into a
// subshell, command substitution, functions, arrays, another program.
TEST_F(ShellTest, BashStaticScriptAsNatively) {
    if (access(kBashStatic, X_OK) != 0) GTEST_SKIP() << kBashStatic << " missing: scripts/deps.sh";
    ExpectShellAsNative(
        "for i in 1 2 3; do echo $((i*i)); done | while read x; do echo sq $x; done; "
        "y=$(echo sub); echo $y ${#y}; f() { return 3; }; f; echo rc $?; (exit 5); echo $?; "
        "/bin/busybox wc -l < data/a.txt; arr=(a b c); echo ${arr[1]} ${#arr[@]}; "
        "/bin/busybox ls data | /bin/busybox sort -r",
        true);
}

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

TEST_F(ShellTest, TarCreateAndExtractThroughGzip) {
    ExpectShellAsNative(
        "f=/tmp/ember-tar-test.$$; mkdir $f && tar -czf $f/x.tgz data && "
        "tar -xzf $f/x.tgz -C $f && find $f/data -type f | sed \"s|$f||\" | sort; "
        "cat $f/data/sub/c.txt; rm -r $f");
}

TEST_F(ShellTest, ScriptWithShebangAndExitCodes) {
    ExpectShellAsNative(
        "./data/run.sh a b; echo code $?; sh -c 'exit 3'; echo code $?; "
        "sh -c 'kill -9 $$'; echo code $?");
}

}  // namespace
}  // namespace ember::test
