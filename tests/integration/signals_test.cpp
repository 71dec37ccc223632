// Signal syscalls against a native run of the same binary.
#include <string>

#include "test_env.h"

namespace ember::test {
namespace {

class SignalsTest : public EmberTest, public ::testing::WithParamInterface<const char*> {};

// rt_sigaction and rt_sigprocmask with one pointer for the new and the old
// value: Linux reads the new value first, so the call both takes effect and
// returns the old value; a bad new-value pointer leaves the old one unwritten.
TEST_P(SignalsTest, SamePointerForNewAndOldValueBehavesAsNatively) {
    const std::string prog = example_path(GetParam(), "signal_alias");
    RunResult native = run_native({prog});
    ASSERT_TRUE(native.exited && native.exit_code == 0) << describe(native);
    ASSERT_NE(native.out.find("done\n"), std::string::npos) << native.out;
    RunResult ember = run_ember({"run", prog});
    EXPECT_TRUE(ember.exited && ember.exit_code == 0) << describe(ember);
    EXPECT_EQ(ember.out, native.out);
}

INSTANTIATE_TEST_SUITE_P(Libc, SignalsTest, ::testing::Values("gcc", "musl"));

}  // namespace
}  // namespace ember::test
