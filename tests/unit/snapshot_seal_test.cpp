// Snapshot seals: what SealedGuestFactory prepares opens again; any change
// to the file outside emberd (a byte, a page written into a hole, a
// truncation, another snapshot copied in with its seal), a missing seal and
// the wrong key are refused before the inner factory sees the file.
#include "platform/snapshot_seal.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace ember::platform {
namespace {

class TempDir {
  public:
    TempDir() {
        const char* t = getenv("TMPDIR");
        std::string tmpl = std::string(t && *t ? t : "/tmp") + "/ember-seal-test.XXXXXX";
        if (mkdtemp(tmpl.data())) path_ = tmpl;
    }
    ~TempDir() {
        if (!path_.empty()) (void)!system(("rm -rf '" + path_ + "'").c_str());
    }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

struct FakePrepared : Prepared {
    std::string describe() const override { return "fake"; }
    uint64_t memory_bytes() const override { return 0; }
};

// Writes a sparse "snapshot": a header page, a hole, data pages, a hole at
// the end. Counts open() calls that reach it.
class FakeInner : public GuestFactory {
  public:
    Result<std::shared_ptr<const Prepared>> prepare(const ServiceSpec&, const std::string& path,
                                                    const ConsoleFn&) override {
        if (fail) return Status::aborted("the program exited");
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0) return Status::from_errno("open");
        std::string page(4096, 'h');
        bool ok = ::pwrite(fd, page.data(), page.size(), 0) == 4096;
        for (int i = 0; i < 4; ++i) {
            page.assign(4096, static_cast<char>('a' + i));
            ok = ok && ::pwrite(fd, page.data(), page.size(), (16 + i) * 4096) == 4096;
        }
        ok = ok && ::ftruncate(fd, 64 * 4096) == 0;
        ::close(fd);
        if (!ok) return Status::io_error("write");
        return std::shared_ptr<const Prepared>(std::make_shared<FakePrepared>());
    }
    Result<std::shared_ptr<const Prepared>> open(const ServiceSpec&, const std::string&) override {
        ++opened;
        return std::shared_ptr<const Prepared>(std::make_shared<FakePrepared>());
    }
    Result<std::unique_ptr<Guest>> restore(const std::shared_ptr<const Prepared>&,
                                           const ConsoleFn&) override {
        return Status::unsupported("fake");
    }
    bool fail = false;
    int opened = 0;
};

void patch(const std::string& path, off_t off, const std::string& bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), off), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
}

class SealedWithKey : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_FALSE(dir_.path().empty());
        auto k = load_or_create_seal_key(seal_key_path(dir_.path()));
        ASSERT_TRUE(k) << k.message();
        key_ = *k;
        factory_ = std::make_unique<SealedGuestFactory>(inner_, key_);
        snap_ = dir_.path() + "/svc.1.snap";
        ASSERT_TRUE(factory_->prepare(spec_, snap_, nullptr));
    }
    Status open(const std::string& path) {
        auto p = factory_->open(spec_, path);
        return p ? Status::ok() : p.status();
    }

    TempDir dir_;
    SealKey key_{};
    FakeInner inner_;
    std::unique_ptr<SealedGuestFactory> factory_;
    ServiceSpec spec_;
    std::string snap_;
};

TEST_F(SealedWithKey, PreparedSnapshotOpensWithItsSeal) {
    struct stat st;
    ASSERT_EQ(::stat(seal_path(snap_).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_TRUE(open(snap_));
    EXPECT_EQ(inner_.opened, 1);
}

TEST_F(SealedWithKey, TamperedByteIsRefused) {
    patch(snap_, 17 * 4096 + 100, "X");
    const Status st = open(snap_);
    EXPECT_EQ(st.code(), Code::kCorruption);
    EXPECT_EQ(st.message(), "snapshot seal does not match: the file was changed outside emberd");
    EXPECT_EQ(inner_.opened, 0);
}

TEST_F(SealedWithKey, PageWrittenIntoAHoleIsRefused) {
    patch(snap_, 40 * 4096, "X");
    EXPECT_EQ(open(snap_).code(), Code::kCorruption);
    EXPECT_EQ(inner_.opened, 0);
}

TEST_F(SealedWithKey, TruncatedFileIsRefused) {
    ASSERT_EQ(::truncate(snap_.c_str(), 63 * 4096), 0);
    EXPECT_EQ(open(snap_).code(), Code::kCorruption);
    EXPECT_EQ(inner_.opened, 0);
}

TEST_F(SealedWithKey, MissingSealIsRefused) {
    ASSERT_EQ(::unlink(seal_path(snap_).c_str()), 0);
    const Status st = open(snap_);
    EXPECT_EQ(st.code(), Code::kCorruption);
    EXPECT_NE(st.message().find("no seal"), std::string::npos) << st.message();
    EXPECT_EQ(inner_.opened, 0);
}

TEST_F(SealedWithKey, GarbledSealIsRefused) {
    patch(seal_path(snap_), 3, "zz");
    EXPECT_EQ(open(snap_).code(), Code::kCorruption);
    EXPECT_EQ(inner_.opened, 0);
}

TEST_F(SealedWithKey, WrongKeyIsRefused) {
    SealKey other = key_;
    other[0] ^= 1;
    SealedGuestFactory f(inner_, other);
    auto p = f.open(spec_, snap_);
    EXPECT_FALSE(p);
    EXPECT_EQ(p.code(), Code::kCorruption);
    EXPECT_EQ(inner_.opened, 0);
}

TEST_F(SealedWithKey, AnotherServicesSnapshotCopiedWithItsSealIsRefused) {
    const std::string other = dir_.path() + "/other.1.snap";
    ASSERT_EQ(system(("cp '" + snap_ + "' '" + other + "' && cp '" + seal_path(snap_) + "' '" +
                      seal_path(other) + "'")
                         .c_str()),
              0);
    EXPECT_EQ(open(other).code(), Code::kCorruption);
    EXPECT_EQ(inner_.opened, 0);
}

TEST_F(SealedWithKey, DenseCopyOfTheSameBytesKeepsItsSeal) {
    const std::string dense = snap_ + ".dense";
    ASSERT_EQ(system(("cp --sparse=never '" + snap_ + "' '" + dense + "' && mv '" + dense + "' '" +
                      snap_ + "'")
                         .c_str()),
              0);
    EXPECT_TRUE(open(snap_));
}

TEST_F(SealedWithKey, FailedPrepareLeavesNoSeal) {
    inner_.fail = true;
    EXPECT_FALSE(factory_->prepare(spec_, snap_, nullptr));
    struct stat st;
    EXPECT_NE(::stat(seal_path(snap_).c_str(), &st), 0);
}

TEST(SealKeyFile, IsCreatedPrivateAndReadBackTheSame) {
    TempDir d;
    const std::string path = seal_key_path(d.path());
    auto a = load_or_create_seal_key(path);
    ASSERT_TRUE(a) << a.message();
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto b = load_or_create_seal_key(path);
    ASSERT_TRUE(b);
    EXPECT_EQ(*a, *b);
    ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
    EXPECT_FALSE(load_or_create_seal_key(path));
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
    FILE* f = std::fopen(path.c_str(), "w");
    std::fputs("not-hex-not-hex-not-hex\n", f);
    std::fclose(f);
    EXPECT_FALSE(load_or_create_seal_key(path));
}

// The seal's cost on a dense 64 MiB snapshot (the pages of a 64 MiB guest,
// all present): EMBER_SEAL_BENCH=1 to run.
TEST(SealCost, Dense64MiBSnapshot) {
    if (!getenv("EMBER_SEAL_BENCH")) GTEST_SKIP() << "set EMBER_SEAL_BENCH=1 to measure";
    TempDir d;
    const std::string path = d.path() + "/big.1.snap";
    {
        std::vector<char> buf(1 << 20);
        for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<char>(i * 31 + 7);
        FILE* f = std::fopen(path.c_str(), "wb");
        ASSERT_NE(f, nullptr);
        for (int i = 0; i < 64; ++i) std::fwrite(buf.data(), 1, buf.size(), f);
        std::fclose(f);
    }
    SealKey key{};
    // Wall time suffers on a shared host; the thread's CPU time is the cost.
    auto cpu_ms = [] {
        timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
    };
    for (int round = 0; round < 3; ++round) {
        const auto t0 = std::chrono::steady_clock::now();
        const double c0 = cpu_ms();
        ASSERT_TRUE(write_seal(key, path));
        const auto t1 = std::chrono::steady_clock::now();
        const double c1 = cpu_ms();
        ASSERT_TRUE(verify_seal(key, path));
        const auto t2 = std::chrono::steady_clock::now();
        const double c2 = cpu_ms();
        std::printf(
            "64 MiB dense snapshot (page cache warm): seal %.1f ms (CPU %.1f ms), verify %.1f ms "
            "(CPU %.1f ms)\n",
            std::chrono::duration<double, std::milli>(t1 - t0).count(), c1 - c0,
            std::chrono::duration<double, std::milli>(t2 - t1).count(), c2 - c1);
    }
}

}  // namespace
}  // namespace ember::platform
