// The host cache of built root filesystems (vmm/rootfs_cache.h): hits,
// misses when an input changed, LRU eviction, damaged entries, and the
// memfd fallback when the cache cannot be written.
#include "vmm/rootfs_cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/fd_io.h"

namespace ember {
namespace {

namespace fs = std::filesystem;

class RootfsCacheTest : public testing::Test {
  protected:
    void SetUp() override {
        dir_ = testing::TempDir() + "/ember_rootfs_cache_" + std::to_string(getpid()) + "_" +
               testing::UnitTest::GetInstance()->current_test_info()->name();
        fs::remove_all(dir_);
        input_ = dir_ + ".input";
        write(input_, "v1");
    }
    void TearDown() override {
        fs::remove_all(dir_);
        fs::remove(input_);
    }
    static void write(const std::string& path, const std::string& text) {
        std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    }
    static std::string contents(const RootfsEntry& e) {
        std::string s(e.size, '\0');
        EXPECT_TRUE(pread_all(e.fd.get(), s.data(), s.size(), 0));
        return s;
    }
    static std::span<const uint8_t> bytes(const std::string& s) {
        return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
    }
    size_t archives() const {
        size_t n = 0;
        for (const auto& e : fs::directory_iterator(dir_)) n += e.path().extension() == ".cpio";
        return n;
    }
    std::string dir_, input_;
};

TEST_F(RootfsCacheTest, StoredArchiveIsFoundWithItsMeta) {
    RootfsCache cache(dir_);
    EXPECT_FALSE(cache.lookup("k").has_value());
    auto s = cache.store("k", bytes("archive bytes"), "meta", {input_});
    ASSERT_TRUE(s.is_ok()) << s.message();
    EXPECT_FALSE(s->hit);
    EXPECT_EQ(contents(*s), "archive bytes");
    auto e = cache.lookup("k");
    ASSERT_TRUE(e.has_value());
    EXPECT_TRUE(e->hit);
    EXPECT_EQ(e->meta, "meta");
    EXPECT_EQ(contents(*e), "archive bytes");
    EXPECT_FALSE(cache.lookup("other key").has_value());
}

TEST_F(RootfsCacheTest, ChangedInputIsAMiss) {
    RootfsCache cache(dir_);
    ASSERT_TRUE(cache.store("k", bytes("a"), "", {input_}).is_ok());
    ASSERT_TRUE(cache.lookup("k").has_value());
    write(input_, "v2 is longer");
    EXPECT_FALSE(cache.lookup("k").has_value());
    fs::remove(input_);
    EXPECT_FALSE(cache.lookup("k").has_value());
}

TEST_F(RootfsCacheTest, ChangedTreeIsAMiss) {
    const std::string tree = dir_ + ".tree";
    fs::create_directories(tree + "/sub");
    write(tree + "/sub/f", "x");
    RootfsCache cache(dir_);
    ASSERT_TRUE(cache.store("k", bytes("a"), "", {"dir:" + tree}).is_ok());
    EXPECT_TRUE(cache.lookup("k").has_value());
    write(tree + "/sub/g", "new file");
    EXPECT_FALSE(cache.lookup("k").has_value());
    fs::remove_all(tree);
}

TEST_F(RootfsCacheTest, StoringAgainReplacesTheEntryAndItsArchive) {
    RootfsCache cache(dir_);
    ASSERT_TRUE(cache.store("k", bytes("first"), "1", {}).is_ok());
    ASSERT_TRUE(cache.store("k", bytes("second"), "2", {}).is_ok());
    auto e = cache.lookup("k");
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(contents(*e), "second");
    EXPECT_EQ(e->meta, "2");
    EXPECT_EQ(archives(), 1u);
}

TEST_F(RootfsCacheTest, LeastRecentlyUsedEntriesAreEvictedBeyondTheBound) {
    RootfsCache cache(dir_, 250);
    const std::string hundred(100, 'x');
    ASSERT_TRUE(cache.store("a", bytes(hundred), "", {}).is_ok());
    ASSERT_TRUE(cache.store("b", bytes(hundred), "", {}).is_ok());
    // Make "a" the most recently used, then a third entry evicts "b".
    for (const auto& e : fs::directory_iterator(dir_))
        if (e.path().extension() == ".cpio")
            fs::last_write_time(e.path(), fs::last_write_time(e.path()) - std::chrono::hours(1));
    ASSERT_TRUE(cache.lookup("a").has_value());
    ASSERT_TRUE(cache.store("c", bytes(hundred), "", {}).is_ok());
    EXPECT_TRUE(cache.lookup("a").has_value());
    EXPECT_FALSE(cache.lookup("b").has_value());
    EXPECT_TRUE(cache.lookup("c").has_value());
    EXPECT_EQ(archives(), 2u);
}

TEST_F(RootfsCacheTest, DamagedMetaIsAMiss) {
    RootfsCache cache(dir_);
    ASSERT_TRUE(cache.store("k", bytes("a"), "m", {}).is_ok());
    for (const auto& e : fs::directory_iterator(dir_))
        if (e.path().extension() == ".meta") write(e.path(), "12\nnot a meta\n");
    EXPECT_FALSE(cache.lookup("k").has_value());
}

TEST_F(RootfsCacheTest, TruncatedArchiveIsAMiss) {
    RootfsCache cache(dir_);
    ASSERT_TRUE(cache.store("k", bytes("abcdef"), "", {}).is_ok());
    for (const auto& e : fs::directory_iterator(dir_))
        if (e.path().extension() == ".cpio") fs::resize_file(e.path(), 3);
    EXPECT_FALSE(cache.lookup("k").has_value());
}

TEST_F(RootfsCacheTest, UnwritableCacheFallsBackToAMemfd) {
    write(dir_, "a file where the directory should be");
    RootfsCache cache(dir_ + "/sub");
    auto s = cache.store("k", bytes("in memory"), "m", {});
    ASSERT_TRUE(s.is_ok()) << s.message();
    EXPECT_EQ(contents(*s), "in memory");
    EXPECT_FALSE(cache.lookup("k").has_value());
    fs::remove(dir_);
}

TEST(RootfsCacheDir, EnvironmentPicksTheDirectory) {
    const char* saved[3] = {getenv("EMBER_CACHE_DIR"), getenv("XDG_CACHE_HOME"), getenv("HOME")};
    const std::string keep[3] = {saved[0] ? saved[0] : "", saved[1] ? saved[1] : "",
                                 saved[2] ? saved[2] : ""};
    setenv("EMBER_CACHE_DIR", "/e", 1);
    setenv("XDG_CACHE_HOME", "/x", 1);
    setenv("HOME", "/h", 1);
    EXPECT_EQ(rootfs_cache_dir(), "/e");
    unsetenv("EMBER_CACHE_DIR");
    EXPECT_EQ(rootfs_cache_dir(), "/x/ember");
    unsetenv("XDG_CACHE_HOME");
    EXPECT_EQ(rootfs_cache_dir(), "/h/.cache/ember");
    const char* names[3] = {"EMBER_CACHE_DIR", "XDG_CACHE_HOME", "HOME"};
    for (int i = 0; i < 3; ++i)
        if (saved[i])
            setenv(names[i], keep[i].c_str(), 1);
        else
            unsetenv(names[i]);
}

TEST(RootfsCacheFields, RoundTripAndRejectDamage) {
    const std::vector<std::string> f = {"", "a\nb", std::string(3, '\0'), "x"};
    std::vector<std::string> out;
    ASSERT_TRUE(decode_fields(encode_fields(f), &out));
    EXPECT_EQ(out, f);
    std::string enc = encode_fields(f);
    EXPECT_FALSE(decode_fields(enc.substr(0, enc.size() - 2), &out));
    EXPECT_FALSE(decode_fields("99999999999\n", &out));
    EXPECT_FALSE(decode_fields(enc + "junk", &out));
}

}  // namespace
}  // namespace ember
