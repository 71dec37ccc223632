// The host side of volumes (src/vmm/volume_host.h) driven as a hostile
// guest would: paths that climb out, symlinks to the outside, bad struct
// fields, a read-only volume, the quota. Nothing outside the volume's
// directory may be read, written or created.
#include "vmm/volume_host.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "abi/ember_abi.h"

namespace ember {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMem = 1 << 20;
constexpr uint64_t kPathGpa = 0x1000, kPath2Gpa = 0x3000, kBufGpa = 0x10000;

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

class VolumeHostTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ember-volume-test-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        top_ = tmpl;
        fs::create_directory(top_ / "vol");
        std::ofstream(top_ / "secret") << "SECRET";
        fd_ = ::open((top_ / "vol").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
        ASSERT_GE(fd_, 0);
        ram_.assign(kMem, 0);
        mem_ = GuestMemory::wrap(ram_.data(), ram_.size());
    }
    void TearDown() override {
        ::close(fd_);
        fs::remove_all(top_);
    }
    VolumeHost host(bool readonly = false, uint64_t quota = 0) {
        return VolumeHost({VolumeMount{fd_, "/data", readonly, quota}});
    }
    // One call; returns the result (the errno as a negative number).
    int64_t call(VolumeHost& h, uint32_t op, const std::string& path, const std::string& data = "",
                 uint64_t offset = 0, uint32_t flags = 0, const std::string& path2 = "",
                 uint64_t len = 0) {
        std::memcpy(ram_.data() + kPathGpa, path.data(), path.size());
        std::memcpy(ram_.data() + kPath2Gpa, path2.data(), path2.size());
        std::memcpy(ram_.data() + kBufGpa, data.data(), data.size());
        ember_hc_volume a{};
        a.op = op;
        a.path = kPathGpa;
        a.path_len = static_cast<uint32_t>(path.size());
        a.path2 = kPath2Gpa;
        a.path2_len = static_cast<uint32_t>(path2.size());
        a.buf = kBufGpa;
        a.len = len ? len : data.size();
        a.offset = offset;
        a.flags = flags;
        a.mode = 0644;
        EXPECT_EQ(h.handle(mem_, &a), EMBER_OK);
        last_ = a;
        return a.result;
    }
    std::string buf(size_t n) const {
        return std::string(reinterpret_cast<const char*>(ram_.data() + kBufGpa), n);
    }
    fs::path top_;
    int fd_ = -1;
    std::vector<uint8_t> ram_;
    GuestMemory mem_;
    ember_hc_volume last_{};
};

TEST_F(VolumeHostTest, PathsThatAreNotNormalisedAreRefused) {
    VolumeHost h = host();
    using namespace std::string_literals;
    for (const std::string& p : {".."s, "../secret"s, "a/../../secret"s, "./x"s, "/etc/passwd"s,
                                 "a//b"s, "a/"s, "/"s, "a/."s, "x\0y"s})
        EXPECT_EQ(call(h, EMBER_VOL_STAT, p), -EINVAL) << p;
    EXPECT_EQ(call(h, EMBER_VOL_CREATE, "../escaped"), -EINVAL);
    EXPECT_FALSE(fs::exists(top_ / "escaped"));
}

TEST_F(VolumeHostTest, SymlinksToTheOutsideAreNeverFollowed) {
    fs::create_symlink("../secret", top_ / "vol" / "rel");
    fs::create_symlink(top_ / "secret", top_ / "vol" / "abs");
    fs::create_symlink(top_, top_ / "vol" / "dirlink");
    fs::create_symlink("/proc/self/root", top_ / "vol" / "magic");
    VolumeHost h = host();
    for (const char* p : {"rel", "abs"}) {
        EXPECT_LT(call(h, EMBER_VOL_READ, p, "", 0, 0, "", 64), 0) << p;
        EXPECT_LT(call(h, EMBER_VOL_WRITE, p, "pwned"), 0) << p;
        EXPECT_LT(call(h, EMBER_VOL_TRUNCATE, p), 0) << p;
        EXPECT_LT(call(h, EMBER_VOL_FSYNC, p), 0) << p;
    }
    for (const char* p : {"dirlink/secret", "magic/etc/passwd", "dirlink/vol/x"}) {
        EXPECT_LT(call(h, EMBER_VOL_STAT, p), 0) << p;
        EXPECT_LT(call(h, EMBER_VOL_READ, p, "", 0, 0, "", 64), 0) << p;
        EXPECT_LT(call(h, EMBER_VOL_CREATE, p), 0) << p;
        EXPECT_LT(call(h, EMBER_VOL_MKDIR, p), 0) << p;
        EXPECT_LT(call(h, EMBER_VOL_UNLINK, p), 0) << p;
        EXPECT_LT(call(h, EMBER_VOL_RENAME, "rel", "", 0, 0, p), 0) << p;
    }
    EXPECT_LT(call(h, EMBER_VOL_READDIR, "dirlink", "", 0, 0, "", 4096), 0);
    // The links themselves are the guest's to see, read and remove.
    ASSERT_EQ(call(h, EMBER_VOL_STAT, "abs"), 0);
    EXPECT_TRUE(S_ISLNK(last_.st.mode));
    ASSERT_EQ(call(h, EMBER_VOL_READLINK, "rel", "", 0, 0, "", 64), 9);
    EXPECT_EQ(buf(9), "../secret");
    EXPECT_EQ(call(h, EMBER_VOL_UNLINK, "abs"), 0);
    EXPECT_EQ(slurp(top_ / "secret"), "SECRET");
    EXPECT_TRUE(fs::exists(top_ / "secret"));
}

// chmod, utimes and link act on the file itself, never through a symlink
// to the outside, and a link of a symlink links the symlink.
TEST_F(VolumeHostTest, MetadataAndLinksStayInTheVolume) {
    fs::create_symlink(top_ / "secret", top_ / "vol" / "abs");
    fs::create_symlink(top_, top_ / "vol" / "dirlink");
    ::chmod((top_ / "secret").c_str(), 0600);
    std::ofstream(top_ / "vol" / "f") << "f";
    VolumeHost h = host();
    const int64_t times[2] = {-1, 1'000'000'000'000'000'000};
    const std::string ts(reinterpret_cast<const char*>(times), sizeof times);
    for (const char* p : {"abs", "dirlink/secret"}) {
        EXPECT_LT(call(h, EMBER_VOL_CHMOD, p), 0) << p;
        EXPECT_LT(call(h, EMBER_VOL_UTIMES, p, ts), 0) << p;
    }
    struct stat st {};
    ASSERT_EQ(::stat((top_ / "secret").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_NE(st.st_mtim.tv_sec, 1'000'000'000);
    EXPECT_LT(call(h, EMBER_VOL_LINK, "dirlink/secret", "", 0, 0, "stolen"), 0);
    EXPECT_FALSE(fs::exists(top_ / "vol" / "stolen"));
    ASSERT_EQ(call(h, EMBER_VOL_LINK, "abs", "", 0, 0, "abs2"), 0);
    EXPECT_TRUE(fs::is_symlink(top_ / "vol" / "abs2"));
    EXPECT_EQ(call(h, EMBER_VOL_LINK, "f", "", 0, 0, "../outside"), -EINVAL);
    EXPECT_FALSE(fs::exists(top_ / "outside"));
    // The file itself: mode 0644 from the call, the given mtime, one more link.
    EXPECT_EQ(call(h, EMBER_VOL_CHMOD, "f"), 0);
    EXPECT_EQ(call(h, EMBER_VOL_UTIMES, "f", ts), 0);
    EXPECT_EQ(call(h, EMBER_VOL_UTIMES, "f", "short"), -EINVAL);
    EXPECT_EQ(call(h, EMBER_VOL_LINK, "f", "", 0, 0, "g"), 0);
    ASSERT_EQ(::stat((top_ / "vol" / "f").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
    EXPECT_EQ(st.st_mtim.tv_sec, 1'000'000'000);
    EXPECT_EQ(st.st_nlink, 2u);
    VolumeHost ro = host(true);
    EXPECT_EQ(call(ro, EMBER_VOL_CHMOD, "f"), -EROFS);
    EXPECT_EQ(call(ro, EMBER_VOL_UTIMES, "f", ts), -EROFS);
    EXPECT_EQ(call(ro, EMBER_VOL_LINK, "f", "", 0, 0, "h"), -EROFS);
}

TEST_F(VolumeHostTest, BadStructFieldsAreErrorsNotCrashes) {
    VolumeHost h = host();
    ember_hc_volume a{};
    a.op = EMBER_VOL_STAT;
    a.volume = 1;  // only one volume
    EXPECT_EQ(h.handle(mem_, &a), EMBER_EINVAL);
    a.volume = 0;
    a.path = kMem - 2;
    a.path_len = 8;  // runs past guest memory
    EXPECT_EQ(h.handle(mem_, &a), EMBER_EFAULT);
    a.path_len = EMBER_VOLUME_PATH_MAX;
    EXPECT_EQ(h.handle(mem_, &a), EMBER_EINVAL);
    a.path_len = 0;
    a.op = EMBER_VOL_READ;
    a.len = EMBER_VOLUME_IO_MAX + 1;
    EXPECT_EQ(h.handle(mem_, &a), EMBER_EINVAL);
    a.len = 4096;
    a.buf = kMem - 100;
    EXPECT_EQ(h.handle(mem_, &a), EMBER_EFAULT);
    a.buf = kBufGpa;
    a.op = 999;
    EXPECT_EQ(h.handle(mem_, &a), EMBER_OK);
    EXPECT_EQ(a.result, -ENOSYS);
}

TEST_F(VolumeHostTest, ReadOnlyVolumeRefusesEveryChange) {
    std::ofstream(top_ / "vol" / "f") << "data";
    VolumeHost h = host(/*readonly=*/true);
    EXPECT_EQ(call(h, EMBER_VOL_WRITE, "f", "x"), -EROFS);
    EXPECT_EQ(call(h, EMBER_VOL_CREATE, "g"), -EROFS);
    EXPECT_EQ(call(h, EMBER_VOL_TRUNCATE, "f"), -EROFS);
    EXPECT_EQ(call(h, EMBER_VOL_UNLINK, "f"), -EROFS);
    EXPECT_EQ(call(h, EMBER_VOL_MKDIR, "d"), -EROFS);
    EXPECT_EQ(call(h, EMBER_VOL_SYMLINK, "l", "f"), -EROFS);
    EXPECT_EQ(call(h, EMBER_VOL_RENAME, "f", "", 0, 0, "g"), -EROFS);
    EXPECT_EQ(call(h, EMBER_VOL_READ, "f", "", 0, 0, "", 64), 4);
    EXPECT_EQ(buf(4), "data");
    EXPECT_EQ(slurp(top_ / "vol" / "f"), "data");
}

TEST_F(VolumeHostTest, WritesStopAtTheQuota) {
    VolumeHost h = host(false, 16 * 1024);
    ASSERT_EQ(call(h, EMBER_VOL_CREATE, "f"), 0);
    const std::string chunk(10 * 1024, 'x');
    EXPECT_EQ(call(h, EMBER_VOL_WRITE, "f", chunk, 0), 10 * 1024);
    // 16 KiB in all: the next 10 KiB are cut at 16 KiB, then nothing fits.
    EXPECT_EQ(call(h, EMBER_VOL_WRITE, "f", chunk, 10 * 1024), 6 * 1024);
    EXPECT_EQ(call(h, EMBER_VOL_WRITE, "f", chunk, 16 * 1024), -ENOSPC);
    EXPECT_EQ(call(h, EMBER_VOL_MKDIR, "d"), -ENOSPC);
    EXPECT_EQ(call(h, EMBER_VOL_CREATE, "g"), -ENOSPC);
    EXPECT_EQ(call(h, EMBER_VOL_TRUNCATE, "f", "", 1 << 20), -ENOSPC);
    EXPECT_EQ(fs::file_size(top_ / "vol" / "f"), 16u * 1024);
    // Overwriting in place costs nothing; shrinking gives room back.
    EXPECT_EQ(call(h, EMBER_VOL_WRITE, "f", chunk, 0), 10 * 1024);
    EXPECT_EQ(call(h, EMBER_VOL_TRUNCATE, "f", "", 4096), 0);
    EXPECT_EQ(call(h, EMBER_VOL_MKDIR, "d"), 0);
    EXPECT_EQ(h.usage(0), 8u * 1024);
    EXPECT_EQ(call(h, EMBER_VOL_UNLINK, "f"), 0);
    EXPECT_EQ(h.usage(0), 4u * 1024);
}

TEST_F(VolumeHostTest, QuotaCountsWhatIsAlreadyThere) {
    std::ofstream(top_ / "vol" / "old") << std::string(12 * 1024, 'o');
    fs::create_directory(top_ / "vol" / "sub");
    VolumeHost h = host(false, 20 * 1024);
    ASSERT_EQ(call(h, EMBER_VOL_CREATE, "f"), 0);
    EXPECT_EQ(h.usage(0), 20u * 1024);
    // f's first 4 KiB are counted from its creation; not a byte more.
    EXPECT_EQ(call(h, EMBER_VOL_WRITE, "f", std::string(4097, 'x')), 4096);
    EXPECT_EQ(call(h, EMBER_VOL_WRITE, "f", "y", 4096), -ENOSPC);
}

TEST_F(VolumeHostTest, MountPointsMustBeAbsoluteAndOutsideTheKernelsTrees) {
    for (const char* ok : {"/data", "/var/lib/app", "/srv/x"})
        EXPECT_TRUE(valid_volume_mount_point(ok)) << ok;
    for (const char* bad : {"", "/", "data", "/data/", "/a/../b", "/proc", "/proc/x", "/tmp",
                            "/dev/shm", "/sys/fs", "/a//b"})
        EXPECT_FALSE(valid_volume_mount_point(bad)) << bad;
}

}  // namespace
}  // namespace ember
