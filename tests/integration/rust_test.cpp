// Rust programs (rustc, static glibc: -C target-feature=+crt-static,
// examples/rust) under ember-vm at the default --mem give the same stdout
// and exit status as the same binary run natively, patched and trapped.
// Skips, loudly, when rustc was not installed at configure time.
#include <sys/stat.h>

#include <string>

#include "test_env.h"

namespace ember::test {
namespace {

std::string rust_example(const std::string& name) {
    return std::string(EMBER_EXAMPLES_RUST_DIR) + "/" + name;
}

class RustTest : public EmberTest {
  protected:
    void SetUp() override {
        EmberTest::SetUp();
        if (IsSkipped()) return;
        struct stat st {};
        if (!EMBER_HAVE_RUST || ::stat(rust_example("threads").c_str(), &st) != 0)
            GTEST_SKIP() << "SKIPPED: rustc was not found at configure time (install rustc, "
                            "scripts/deps.sh does); the Rust examples were not built";
    }
};

// std::thread, Mutex, mpsc, thread::scope, catch_unwind, a panicking thread
// seen by join, std::fs on /tmp, exit status.
TEST_F(RustTest, ThreadsChannelsPanicsFilesAsNatively) {
    for (const char* code : {"0", "3"}) {
        RunResult native = run_native({rust_example("threads"), code});
        ASSERT_TRUE(native.exited) << describe(native);
        EXPECT_EQ(native.exit_code, std::stoi(code));
        for (bool patch : {true, false}) {
            std::vector<std::string> args = {"run", "--timeout", "60s"};
            if (!patch) args.push_back("--no-syscall-patch");
            args.insert(args.end(), {rust_example("threads"), "--", code});
            RunResult r = run_ember(args);
            EXPECT_TRUE(r.exited) << describe(r);
            EXPECT_EQ(r.exit_code, native.exit_code) << r.err;
            EXPECT_EQ(r.out, native.out) << (patch ? "patched" : "trapped") << "\n" << r.err;
        }
    }
}

}  // namespace
}  // namespace ember::test
