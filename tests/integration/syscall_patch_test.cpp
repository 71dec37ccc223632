// Patched syscall sites: after its first trap a `syscall` instruction is
// replaced by a call through the sled in page 0; results must not change.
#include <string>

#include "test_env.h"

namespace ember::test {
namespace {

class SyscallPatchTest : public EmberTest, public ::testing::WithParamInterface<const char*> {};

long cycles(const RunResult& r) {
    const auto p = r.err.find("cycles_per_call=");
    return p == std::string::npos ? -1 : std::stol(r.err.substr(p + 16));
}

TEST_P(SyscallPatchTest, PatchedAndTrappedSyscallsGiveTheSameResults) {
    const std::string prog = example_path(GetParam(), "syscall_loop");
    RunResult patched = run_ember({"run", prog, "--", "20000"});
    RunResult trapped = run_ember({"run", "--no-syscall-patch", prog, "--", "20000"});
    ASSERT_TRUE(patched.exited && patched.exit_code == 0) << describe(patched);
    ASSERT_TRUE(trapped.exited && trapped.exit_code == 0) << describe(trapped);
    // getppid() is 0 in the guest: sum = calls.
    EXPECT_EQ(patched.out, "calls=20000 sum=20000\n");
    EXPECT_EQ(trapped.out, patched.out);
    // The patched site takes no trap: far cheaper than a trapped syscall.
    EXPECT_GT(cycles(trapped), 4 * cycles(patched))
        << "patched " << cycles(patched) << " vs trapped " << cycles(trapped);
}

TEST_P(SyscallPatchTest, CallThroughNullFunctionPointerIsReportedNotRunAsASyscall) {
    RunResult r = run_ember({"run", example_path(GetParam(), "nullcall")});
    EXPECT_TRUE(r.exited) << describe(r);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.out.find("still alive"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("null function pointer"), std::string::npos) << r.err;
}

TEST_P(SyscallPatchTest, NullCallWithoutPatchingIsAPageFault) {
    RunResult r = run_ember({"run", "--no-syscall-patch", example_path(GetParam(), "nullcall")});
    EXPECT_TRUE(r.exited && r.exit_code == 139) << describe(r);
    EXPECT_NE(r.err.find("guest crashed"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Libc, SyscallPatchTest, ::testing::Values("gcc", "musl"));

}  // namespace
}  // namespace ember::test
