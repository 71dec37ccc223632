// Go programs (Debian's golang-go, CGO_ENABLED=0, examples/go) under ember-vm
// give the same stdout and exit status as the same binary run natively,
// with patched syscall sites or trapped ones: the runtime's threads, futexes,
// timers, signals (SIGURG preemption, SIGSEGV turned into a panic) and its
// large address-space reservations. Skips, loudly, when go was not installed
// at configure time.
#include <sys/stat.h>

#include <string>

#include "test_env.h"

namespace ember::test {
namespace {

// Every Go example runs at ember-vm's default --mem (64M): the Go
// runtime's PROT_NONE reservations (64 MiB arenas at its address hints,
// ~600 MiB of page summaries) take address space above the identity map,
// not guest memory (docs/architecture.md, "Virtual memory"). Go 1.19 still
// needs 58M (hello): it maps its 32 MiB arena index read-write, and read-write
// mappings are committed when made.
constexpr const char* kGoMem = "64M";

std::string go_example(const std::string& name) {
    return std::string(EMBER_EXAMPLES_GO_DIR) + "/" + name;
}

class GoTest : public EmberTest {
  protected:
    void SetUp() override {
        EmberTest::SetUp();
        if (IsSkipped()) return;
        struct stat st {};
        if (!EMBER_HAVE_GO || ::stat(go_example("hello").c_str(), &st) != 0)
            GTEST_SKIP() << "SKIPPED: go was not found at configure time (install golang-go, "
                            "scripts/deps.sh does); the Go examples were not built";
    }
};

// Runs argv natively with env, then under ember-vm (patched and trapped) with
// the same environment; stdout and exit status must match. Returns the
// native result.
RunResult go_as_native(const std::vector<std::string>& argv,
                       const std::vector<std::string>& env = {}) {
    RunResult native = run_native(argv, "", env);
    EXPECT_TRUE(native.exited) << describe(native);
    for (bool patch : {true, false}) {
        std::vector<std::string> args = {"run", "--mem", kGoMem, "--timeout", "60s"};
        if (!patch) args.push_back("--no-syscall-patch");
        for (const std::string& e : env) {
            args.push_back("--env");
            args.push_back(e);
        }
        args.push_back(argv[0]);
        if (argv.size() > 1) {
            args.push_back("--");
            args.insert(args.end(), argv.begin() + 1, argv.end());
        }
        RunResult r = run_ember(args);
        EXPECT_TRUE(r.exited) << describe(r);
        EXPECT_EQ(r.exit_code, native.exit_code) << (patch ? "patched" : "trapped") << "\n"
                                                 << r.err;
        EXPECT_EQ(r.out, native.out) << (patch ? "patched" : "trapped") << "\n" << r.err;
    }
    return native;
}

TEST_F(GoTest, HelloGoroutinesChannelsTimersArgsEnvAsNatively) {
    RunResult n = go_as_native({go_example("hello"), "one", "two words"}, {"GO_GREETING=hi there"});
    EXPECT_EQ(n.exit_code, 0);
    EXPECT_NE(n.out.find("mutex total: 16000\n"), std::string::npos) << n.out;
}

TEST_F(GoTest, ExitStatusAsNatively) {
    RunResult n = go_as_native({go_example("hello")}, {"GO_EXIT=7"});
    EXPECT_EQ(n.exit_code, 7);
}

// A goroutine spinning without function calls on the only P: main makes
// progress only through Go's asynchronous preemption (SIGURG by tgkill).
TEST_F(GoTest, AsyncPreemptionOfASpinningGoroutineAsNatively) {
    RunResult n = go_as_native({go_example("preempt")});
    EXPECT_EQ(n.exit_code, 0);
}

// The same program with Go's asynchronous preemption turned off never ends
// (natively too): the test above can only pass through SIGURG preemption.
TEST_F(GoTest, WithoutAsyncPreemptionTheSpinnerStarvesMain) {
    RunResult r = run_ember({"run", "--mem", kGoMem, "--timeout", "3s", "--env",
                             "GODEBUG=asyncpreemptoff=1", go_example("preempt")});
    EXPECT_TRUE(r.exited && r.exit_code == 124) << describe(r);
    EXPECT_EQ(r.out, "");
}

TEST_F(GoTest, NilDereferencePanicsAndIsRecoveredAsNatively) {
    RunResult n = go_as_native({go_example("crash")});
    EXPECT_EQ(n.exit_code, 0);
    EXPECT_NE(n.out.find("nil deref: recovered: runtime error: invalid memory address"),
              std::string::npos)
        << n.out;
}

// An unrecovered nil dereference: Go's exit status 2 and its report of the
// SIGSEGV (code SEGV_MAPERR, the faulting address) on stderr, as natively.
TEST_F(GoTest, UnrecoveredNilDereferenceExitsTwoWithGoReport) {
    RunResult n = go_as_native({go_example("crash"), "fatal"});
    EXPECT_EQ(n.exit_code, 2);
    RunResult r =
        run_ember({"run", "--mem", kGoMem, "--timeout", "60s", go_example("crash"), "--", "fatal"});
    EXPECT_NE(r.err.find("[signal SIGSEGV: segmentation violation code=0x1 addr=0x8 pc="),
              std::string::npos)
        << r.err;
}

}  // namespace
}  // namespace ember::test
