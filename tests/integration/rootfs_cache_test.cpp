// ember-vm's cache of built root filesystems (vmm/rootfs_cache.h): a second
// run with the same inputs maps the cached archive instead of building it,
// with the same output; a changed input builds it again.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
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

namespace ember::test {
namespace {

// A snapshot refers to the cached archive instead of holding it: a 16 MiB
// file in the root filesystem adds nothing to the snapshot, restore maps
// the archive again and reads the file; a changed or missing archive is a
// clear error.
class SnapshotRootfsTest : public EmberTest {
  protected:
    void SetUp() override {
        EmberTest::SetUp();
        if (IsSkipped()) return;
        setenv("EMBER_CACHE_DIR", (cache_ / "cache").c_str(), 1);
    }
    TempDir cache_;
};

TEST_F(SnapshotRootfsTest, SnapshotRefersToTheArchiveAndRestoreMapsIt) {
    TempDir d;
    std::string big(16 << 20, '\0');
    uint64_t x = 88172645463325252ull;
    for (auto& c : big) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        c = static_cast<char>(x);
    }
    write_file(d / "big.bin", big);
    const std::string snap = d / "s.snap";
    const RunResult made =
        run_ember({"run", "--snapshot-out", snap, "--file", d / "big.bin" + ":/big.bin",
                   busybox_path(), "--", "sh", "-c", "read x; md5sum /big.bin; echo $x"});
    ASSERT_TRUE(made.exited && made.exit_code == 0) << describe(made);
    struct stat st;
    ASSERT_EQ(stat(snap.c_str(), &st), 0);
    EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 8ull << 20)
        << "the snapshot holds the root filesystem";
    write_file(d / "in", "hello\n");
    const RunResult r = run_ember({"restore", "--stdin", d / "in", snap});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    const RunResult native = run_native({"/usr/bin/md5sum", d / "big.bin"});
    EXPECT_EQ(r.out, native.out.substr(0, 32) + "  /big.bin\nhello\n");

    // The archive changes (here only its mtime): restoring is refused.
    std::string archive;
    for (const auto& e : std::filesystem::directory_iterator(cache_ / "cache"))
        if (e.path().extension() == ".cpio") archive = e.path();
    ASSERT_FALSE(archive.empty());
    set_mtime(archive, 1000000);
    const RunResult changed = run_ember({"restore", "--stdin", d / "in", snap});
    EXPECT_TRUE(RejectedWithOneLine(changed, {126})) << describe(changed);
    EXPECT_NE(changed.err.find("changed since the snapshot"), std::string::npos) << changed.err;
    ::unlink(archive.c_str());
    const RunResult missing = run_ember({"restore", "--stdin", d / "in", snap});
    EXPECT_TRUE(RejectedWithOneLine(missing, {126})) << describe(missing);
    EXPECT_NE(missing.err.find("is missing"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace ember::test
