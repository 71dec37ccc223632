// Patched syscall sites: after its first trap a `mov $nr,%eax; syscall` window
// jumps to the kernel through a slot and a trampoline; results must not change.
#include <string>

#include "ember_stats.h"
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

TEST_P(SyscallPatchTest, NullCallIsAPageFaultWithOrWithoutPatching) {
    for (bool patch : {true, false}) {
        std::vector<std::string> args = {"run"};
        if (!patch) args.push_back("--no-syscall-patch");
        args.push_back(example_path(GetParam(), "nullcall"));
        RunResult r = run_ember(args);
        EXPECT_TRUE(r.exited && r.exit_code == 139) << describe(r);
        EXPECT_EQ(r.out.find("still alive"), std::string::npos) << r.out;
        EXPECT_NE(r.err.find("guest crashed"), std::string::npos) << r.err;
    }
}

// Red-zone data across a syscall, syscall numbers Linux does not know (up to
// -1), a window also reached by a jump with other rax values, and copies of
// patched code: the same output and status as natively, patched or not, and
// the patched run really took the fast path.
TEST_P(SyscallPatchTest, EdgeCasesBehaveAsNatively) {
    const std::string prog = example_path(GetParam(), "syscall_edge");
    RunResult native = run_native({prog});
    ASSERT_TRUE(native.exited && native.exit_code == 0) << describe(native);
    ASSERT_NE(native.out.find("done\n"), std::string::npos) << native.out;
    RunResult patched = run_ember({"run", "--stats", prog});
    RunResult trapped = run_ember({"run", "--stats", "--no-syscall-patch", prog});
    EXPECT_TRUE(patched.exited && patched.exit_code == 0) << describe(patched);
    EXPECT_TRUE(trapped.exited && trapped.exit_code == 0) << describe(trapped);
    EXPECT_EQ(patched.out, native.out);
    EXPECT_EQ(trapped.out, native.out);
    // Repeat runs of a patched window in syscall_edge: red zone 3, big
    // numbers 4 x 2, the window of sys_multi 2, sys_write_at 3, the copy 3;
    // windows with register moves before the syscall: sys_lea_multi 8
    // (its jump to the replaced lea included), sys_lea_rip 2, sys_mov5 2.
    EXPECT_GE(parse_stats(patched.err)["fast_syscalls"], 31) << patched.err;
    EXPECT_EQ(parse_stats(trapped.err)["fast_syscalls"], 0) << trapped.err;
}

// 300 execs in a row, each patching its sites afresh in a new address
// space (more than the 1,024 slots in all): the slots of the address spaces
// that are gone are used again, so every level's 100 getppid calls but the
// first take the fast path.
TEST_P(SyscallPatchTest, ExecChainReusesTheSlotsOfAddressSpacesThatAreGone) {
    const std::string prog = example_path(GetParam(), "exec_chain");
    RunResult native = run_native({prog, "300"});
    ASSERT_TRUE(native.exited && native.exit_code == 0) << describe(native);
    RunResult patched = run_ember({"run", "--stats", prog, "--", "300"});
    EXPECT_TRUE(patched.exited && patched.exit_code == 0) << describe(patched);
    EXPECT_EQ(patched.out, native.out);
    EXPECT_GE(parse_stats(patched.err)["fast_syscalls"], 301 * 99) << patched.err;
}

INSTANTIATE_TEST_SUITE_P(Libc, SyscallPatchTest, ::testing::Values("gcc", "musl"));

}  // namespace
}  // namespace ember::test
