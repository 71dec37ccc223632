// The suspended-snapshot reader (src/vmm/suspended.h) against damaged and
// hostile files: every defect is an error naming it, never a crash.
#include "vmm/suspended.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "abi/ember_abi.h"

namespace ember::snapshot {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kMem = 64 * kPage;
// Header layout (suspended.cpp): field offsets used to forge files whose
// checksums are right but whose contents are not.
constexpr size_t kOffNpages = 64, kOffDataOffset = 72, kOffListCrc = 84, kOffHeaderCrc = 92;

class SuspendedReaderTest : public ::testing::Test {
  protected:
    void SetUp() override {
        mem_.assign(kMem, 0);
        for (uint64_t p : pages_)
            std::memset(mem_.data() + p * kPage, static_cast<int>(p + 1), kPage);
        base_ = {kMem, 10, 0x1234, 0x5678};
        vmm_.ready_call = EMBER_HC_WAIT;
        vmm_.ready_arg = 0x3000;
        vmm_.listeners[1] = 8080;
        path_ = testing::TempDir() + "/ember_susp_unit_" + std::to_string(getpid());
        const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_TRUE(write_suspended(fd, base_, mem_.data(), kMem, pages_, vcpu_, vmm_).is_ok());
        ::close(fd);
        file_ = read_file();
    }
    void TearDown() override { ::unlink(path_.c_str()); }

    std::vector<uint8_t> read_file() {
        std::vector<uint8_t> b;
        const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
        uint8_t buf[65536];
        ssize_t r;
        while ((r = ::read(fd, buf, sizeof buf)) > 0) b.insert(b.end(), buf, buf + r);
        ::close(fd);
        return b;
    }
    void write_file(const std::vector<uint8_t>& b) {
        const int fd = ::open(path_.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
        ASSERT_EQ(::write(fd, b.data(), b.size()), static_cast<ssize_t>(b.size()));
        ::close(fd);
    }
    Result<std::unique_ptr<const Suspended>> open() {
        return Suspended::open_fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC), "t", base_);
    }
    // The file with header field `off` (u64) set to v and the header CRC redone.
    std::vector<uint8_t> with_u64(size_t off, uint64_t v) {
        std::vector<uint8_t> b = file_;
        std::memcpy(b.data() + off, &v, 8);
        reseal_header(&b);
        return b;
    }
    static void reseal_header(std::vector<uint8_t>* b) {
        const uint32_t crc = crc32c(0, b->data(), kOffHeaderCrc);
        std::memcpy(b->data() + kOffHeaderCrc, &crc, 4);
    }
    std::string error_of(const std::vector<uint8_t>& b) {
        write_file(b);
        auto s = open();
        return s.is_ok() ? "" : s.message();
    }

    std::vector<uint8_t> mem_;
    std::vector<uint64_t> pages_ = {0, 1, 2, 7, 40};
    BaseId base_;
    VcpuState vcpu_;
    VmmState vmm_;
    std::string path_;
    std::vector<uint8_t> file_;
};

TEST_F(SuspendedReaderTest, ValidFileRoundTrips) {
    auto s = open();
    ASSERT_TRUE(s.is_ok()) << s.message();
    EXPECT_EQ((*s)->pages(), pages_);
    for (size_t i = 0; i < pages_.size(); ++i)
        EXPECT_EQ(std::memcmp((*s)->page_data(i), mem_.data() + pages_[i] * kPage, kPage), 0);
    EXPECT_EQ((*s)->vmm().ready_arg, 0x3000u);
    EXPECT_EQ((*s)->vmm().listeners.at(1), 8080);
}

TEST_F(SuspendedReaderTest, EmptyFileIsTruncated) {
    EXPECT_NE(error_of({}).find("truncated"), std::string::npos);
}

TEST_F(SuspendedReaderTest, BadMagicIsRefused) {
    auto b = file_;
    b[0] = 'X';
    EXPECT_NE(error_of(b).find("bad magic"), std::string::npos);
}

TEST_F(SuspendedReaderTest, FlippedHeaderByteFailsTheHeaderChecksum) {
    auto b = file_;
    b[20] ^= 1;
    EXPECT_NE(error_of(b).find("header checksum"), std::string::npos);
}

TEST_F(SuspendedReaderTest, OtherBaseIsRefused) {
    base_.state_crc ^= 1;
    EXPECT_NE(error_of(file_).find("another snapshot"), std::string::npos);
}

TEST_F(SuspendedReaderTest, TruncatedDataIsRefused) {
    auto b = file_;
    b.resize(b.size() - kPage);
    EXPECT_NE(error_of(b).find("its header says"), std::string::npos);
}

TEST_F(SuspendedReaderTest, HugePageCountIsRefusedBeforeAnyAllocation) {
    EXPECT_NE(error_of(with_u64(kOffNpages, ~0ull)).find("section bounds"), std::string::npos);
    EXPECT_NE(error_of(with_u64(kOffNpages, kMem / kPage + 1)).find("section bounds"),
              std::string::npos);
}

TEST_F(SuspendedReaderTest, MisalignedOrOverlappingDataOffsetIsRefused) {
    uint64_t off;
    std::memcpy(&off, file_.data() + kOffDataOffset, 8);
    EXPECT_NE(error_of(with_u64(kOffDataOffset, off + 1)).find("section bounds"),
              std::string::npos);
    EXPECT_NE(error_of(with_u64(kOffDataOffset, 0)).find("section bounds"), std::string::npos);
}

TEST_F(SuspendedReaderTest, FlippedPageByteFailsThePageChecksum) {
    auto b = file_;
    b[b.size() - 1] ^= 0xff;
    EXPECT_NE(error_of(b).find("page checksum"), std::string::npos);
}

TEST_F(SuspendedReaderTest, FlippedStateByteFailsTheStateChecksum) {
    auto b = file_;
    b[kHeaderSize + 3] ^= 1;
    EXPECT_NE(error_of(b).find("state checksum"), std::string::npos);
}

// A page list that passes its checksum but repeats a page or points past
// guest memory.
TEST_F(SuspendedReaderTest, PageListOutOfOrderOrOutOfRangeIsRefused) {
    uint64_t state_size, list_off;
    std::memcpy(&state_size, file_.data() + 48, 8);
    std::memcpy(&list_off, file_.data() + 56, 8);
    for (uint64_t bad : {uint64_t{1}, kMem / kPage, ~uint64_t{0}}) {
        auto b = file_;
        std::memcpy(b.data() + list_off + 8 * 2, &bad, 8);  // third entry (was 2)
        const uint32_t crc = crc32c(0, b.data() + list_off, pages_.size() * 8);
        std::memcpy(b.data() + kOffListCrc, &crc, 4);
        reseal_header(&b);
        EXPECT_NE(error_of(b).find("page list"), std::string::npos) << bad;
    }
}

TEST_F(SuspendedReaderTest, WriterRefusesAnUnsortedPageList) {
    const int fd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
    EXPECT_FALSE(write_suspended(fd, base_, mem_.data(), kMem, {3, 2}, vcpu_, vmm_).is_ok());
    EXPECT_FALSE(
        write_suspended(fd, base_, mem_.data(), kMem, {kMem / kPage}, vcpu_, vmm_).is_ok());
    ::close(fd);
}

// Every single-byte truncation point and a flipped bit at every header
// byte: errors, never a crash or a success.
TEST_F(SuspendedReaderTest, EveryTruncationAndHeaderBitFlipIsAnError) {
    for (size_t n = 0; n < file_.size(); n += 509) {
        std::vector<uint8_t> b(file_.begin(), file_.begin() + static_cast<long>(n));
        EXPECT_NE(error_of(b), "") << n;
    }
    for (size_t i = 0; i < kOffHeaderCrc + 4; ++i) {
        auto b = file_;
        b[i] ^= 0x10;
        EXPECT_NE(error_of(b), "") << i;
    }
}

}  // namespace
}  // namespace ember::snapshot
