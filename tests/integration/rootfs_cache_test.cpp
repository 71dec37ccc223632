// ember-vm's cache of built root filesystems (vmm/rootfs_cache.h): a second
// run with the same inputs maps the cached archive instead of building it,
// with the same output; a changed input builds it again.
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "test_env.h"

namespace ember::test {
namespace {

class RootfsCacheCliTest : public EmberTest {
  protected:
    void SetUp() override {
        EmberTest::SetUp();
        if (IsSkipped()) return;
        saved_ = getenv("EMBER_CACHE_DIR") ? getenv("EMBER_CACHE_DIR") : "";
        setenv("EMBER_CACHE_DIR", (cache_ / "cache").c_str(), 1);
    }
    void TearDown() override {
        if (!saved_.empty()) setenv("EMBER_CACHE_DIR", saved_.c_str(), 1);
    }
    // The run's root filesystem line of --stats: "built" or "from the cache".
    static std::string source(const RunResult& r) {
        if (r.err.find("root filesystem: from the cache") != std::string::npos) return "cache";
        if (r.err.find("root filesystem: built") != std::string::npos) return "built";
        return "?";
    }
    TempDir cache_;
    std::string saved_;
};

TEST_F(RootfsCacheCliTest, SecondRunMapsTheCachedArchiveAndAChangedFileRebuildsIt) {
    TempDir d;
    write_file(d / "data.txt", "first contents\n");
    const std::vector<std::string> args = {
        "run", "--stats",  "--file", d / "data.txt" + ":/data.txt", example_path("gcc", "files"),
        "--",  "/data.txt"};
    const RunResult a = run_ember(args);
    ASSERT_TRUE(a.exited && a.exit_code == 0) << a.err;
    EXPECT_EQ(source(a), "built") << a.err;
    const RunResult b = run_ember(args);
    ASSERT_TRUE(b.exited && b.exit_code == 0) << b.err;
    EXPECT_EQ(source(b), "cache") << b.err;
    EXPECT_EQ(a.out, b.out);
    write_file(d / "data.txt", "second, longer contents\n");
    const RunResult c = run_ember(args);
    ASSERT_TRUE(c.exited && c.exit_code == 0) << c.err;
    EXPECT_EQ(source(c), "built") << c.err;
    EXPECT_NE(c.out, a.out);
    EXPECT_NE(c.out.find("size=24"), std::string::npos) << c.out;
}

TEST_F(RootfsCacheCliTest, DynamicProgramFromTheCacheGetsItsInterpreterAndArgs) {
    const std::string prog = example_path("gcc", "hello-dynamic");
    const RunResult a = run_ember({"run", "--stats", prog});
    ASSERT_TRUE(a.exited && a.exit_code == 0) << a.err;
    const RunResult b = run_ember({"run", "--stats", prog, "--", "x", "y"});
    ASSERT_TRUE(b.exited) << b.err;
    EXPECT_EQ(source(b), "cache") << b.err;
    const RunResult native = run_native({prog, "x", "y"});
    EXPECT_EQ(b.out, native.out);
    EXPECT_EQ(b.exit_code, native.exit_code);
}

TEST_F(RootfsCacheCliTest, UnwritableCacheStillRuns) {
    TempDir d;
    write_file(d / "not-a-dir", "x");
    setenv("EMBER_CACHE_DIR", (d / "not-a-dir/cache").c_str(), 1);
    const RunResult r = run_ember({"run", "--stats", example_path("gcc", "hello")});
    ASSERT_TRUE(r.exited) << r.err;
    EXPECT_EQ(r.exit_code, run_native({example_path("gcc", "hello")}).exit_code) << r.err;
    EXPECT_EQ(source(r), "built");
}

}  // namespace
}  // namespace ember::test
