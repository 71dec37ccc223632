// The VMM's hypercall handling against a hostile guest: every malformed call
// gets an error status (or ends that VM), and never touches host memory
// outside guest RAM.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "abi/ember_abi.h"
#include "vmm/hypercalls.h"

namespace ember {
namespace {

class HypercallTest : public ::testing::Test {
  protected:
    HypercallTest() : buf_(16 << 20, 0), mem_(GuestMemory::wrap(buf_.data(), buf_.size())) {
        cfg_.console = [this](int fd, const char* d, size_t n) { out_[fd].append(d, n); };
        cfg_.log = [this](const std::string& l) { logs_.push_back(l); };
    }
    HypercallAction call(uint32_t nr, uint64_t arg) {
        StreamHost net(mem_, cfg_.net, cfg_.log);
        HypercallContext hc(mem_, cfg_, stats_, 0, -1, net);
        return hc.dispatch(nr, arg);
    }
    int64_t status() const {
        int64_t s;
        std::memcpy(&s, buf_.data() + EMBER_GPA_BOOT_INFO + offsetof(ember_boot_info, hc_status),
                    8);
        return s;
    }
    template <typename T>
    void put(uint64_t gpa, const T& v) {
        std::memcpy(buf_.data() + gpa, &v, sizeof v);
    }
    void console_record(uint64_t pos, uint16_t len, uint8_t fd, const char* data) {
        const uint64_t cap = EMBER_CONSOLE_SIZE - EMBER_RING_DATA;
        uint8_t* ring = buf_.data() + EMBER_GPA_CONSOLE + EMBER_RING_DATA;
        const uint8_t hdr[4] = {static_cast<uint8_t>(len), static_cast<uint8_t>(len >> 8), fd, 0};
        for (int i = 0; i < 4; ++i) ring[(pos + i) % cap] = hdr[i];
        for (uint16_t i = 0; i < len; ++i)
            ring[(pos + 4 + i) % cap] = static_cast<uint8_t>(data[i]);
    }

    std::vector<uint8_t> buf_;
    GuestMemory mem_;
    VmConfig cfg_;
    VmStats stats_;
    std::string out_[3];
    std::vector<std::string> logs_;
};

TEST_F(HypercallTest, UnknownHypercallNumberGetsEnosys) {
    EXPECT_FALSE(call(EMBER_HC_COUNT + 7, EMBER_HC_SLOT_LOG).done);
    EXPECT_EQ(status(), EMBER_ENOSYS);
    EXPECT_EQ(stats_.bad_hypercalls, 1u);
}

TEST_F(HypercallTest, Cr2WithArgumentOutsideMemoryGetsEfault) {
    EXPECT_FALSE(call(EMBER_HC_CR2, buf_.size() - 4).done);
    EXPECT_EQ(status(), EMBER_EFAULT);
    EXPECT_EQ(stats_.bad_hypercalls, 1u);
}

TEST_F(HypercallTest, RandomWithArgumentOutsideMemoryGetsEfault) {
    EXPECT_FALSE(call(EMBER_HC_RANDOM, 0xffffffffull).done);
    EXPECT_EQ(status(), EMBER_EFAULT);
}

TEST_F(HypercallTest, RandomIntoBufferOutsideMemoryGetsEfault) {
    put(EMBER_HC_SLOT_RANDOM, ember_hc_random{buf_.size() - 8, 64});
    call(EMBER_HC_RANDOM, EMBER_HC_SLOT_RANDOM);
    EXPECT_EQ(status(), EMBER_EFAULT);
    put(EMBER_HC_SLOT_RANDOM, ember_hc_random{~0ull - 8, 16});  // wraps around
    call(EMBER_HC_RANDOM, EMBER_HC_SLOT_RANDOM);
    EXPECT_EQ(status(), EMBER_EFAULT);
}

TEST_F(HypercallTest, RandomWithOversizeLengthGetsEinval) {
    put(EMBER_HC_SLOT_RANDOM, ember_hc_random{0x100000, EMBER_RANDOM_MAX + 1});
    call(EMBER_HC_RANDOM, EMBER_HC_SLOT_RANDOM);
    EXPECT_EQ(status(), EMBER_EINVAL);
}

TEST_F(HypercallTest, RandomFillsTheBuffer) {
    put(EMBER_HC_SLOT_RANDOM, ember_hc_random{0x100000, 64});
    call(EMBER_HC_RANDOM, EMBER_HC_SLOT_RANDOM);
    EXPECT_EQ(status(), EMBER_OK);
    int nonzero = 0;
    for (int i = 0; i < 64; ++i) nonzero += buf_[0x100000 + i] != 0;
    EXPECT_GT(nonzero, 32);
}

TEST_F(HypercallTest, LogWithOversizeLengthGetsEinval) {
    ember_hc_log l{};
    l.len = EMBER_LOG_MAX + 1000;
    put(EMBER_HC_SLOT_LOG, l);
    call(EMBER_HC_LOG, EMBER_HC_SLOT_LOG);
    EXPECT_EQ(status(), EMBER_EINVAL);
    EXPECT_TRUE(logs_.empty());
}

TEST_F(HypercallTest, LogStripsControlCharacters) {
    ember_hc_log l{};
    const char msg[] = "hi\x1b[31m\n";
    std::memcpy(l.msg, msg, sizeof msg);
    l.len = sizeof msg - 1;
    put(EMBER_HC_SLOT_LOG, l);
    call(EMBER_HC_LOG, EMBER_HC_SLOT_LOG);
    ASSERT_EQ(logs_.size(), 1u);
    EXPECT_EQ(logs_[0], "hi?[31m?");
}

TEST_F(HypercallTest, ExitWithArgumentOutsideMemoryEndsTheVmAsError) {
    HypercallAction o = call(EMBER_HC_EXIT, buf_.size());
    EXPECT_TRUE(o.done);
    EXPECT_EQ(o.outcome, Outcome::kVmError);
}

TEST_F(HypercallTest, ExitStatusIsTruncatedToEightBits) {
    put(EMBER_HC_SLOT_EXIT, ember_hc_exit{0x1234, 0});
    HypercallAction o = call(EMBER_HC_EXIT, EMBER_HC_SLOT_EXIT);
    EXPECT_TRUE(o.done);
    EXPECT_EQ(o.outcome, Outcome::kExited);
    EXPECT_EQ(o.exit_status, 0x34);
}

TEST_F(HypercallTest, CrashReportWithUnterminatedMessageIsBounded) {
    ember_hc_crash c{};
    c.kind = EMBER_CRASH_KERNEL;
    std::memset(c.message, 'A', sizeof c.message);  // no NUL
    put(EMBER_HC_SLOT_CRASH, c);
    HypercallAction o = call(EMBER_HC_CRASH, EMBER_HC_SLOT_CRASH);
    EXPECT_TRUE(o.done);
    EXPECT_EQ(o.outcome, Outcome::kKernelPanic);
    EXPECT_LE(o.message.size(), 200u);
}

TEST_F(HypercallTest, ClockRefreshNeverMovesMonotonicTimeBack) {
    ember_boot_info b{};
    b.tsc_khz = 1000000;  // 1 GHz: 1 tick = 1 ns
    b.tsc_base = __builtin_ia32_rdtsc();
    b.mono_base_ns = 1ll << 62;  // far ahead of the host's monotonic clock
    b.wall_base_ns = 5;
    put(EMBER_GPA_BOOT_INFO, b);
    call(EMBER_HC_CLOCK, 0);
    EXPECT_EQ(status(), EMBER_OK);
    ember_boot_info after;
    std::memcpy(&after, buf_.data() + EMBER_GPA_BOOT_INFO, sizeof after);
    EXPECT_GE(after.mono_base_ns, 1ll << 62);
    EXPECT_GT(after.wall_base_ns, 1600000000ll * 1000000000ll);  // now, not 5
    EXPECT_GE(after.tsc_base, b.tsc_base);
}

TEST_F(HypercallTest, ClockRefreshWithoutTscRateIsRefused) {
    call(EMBER_HC_CLOCK, 0);  // boot info all zero
    EXPECT_EQ(status(), EMBER_EINVAL);
}

TEST_F(HypercallTest, WaitForNothingForeverIsReportedAsDeadlock) {
    put(EMBER_HC_SLOT_WAIT, ember_hc_wait{0, 0, 0});
    HypercallAction o = call(EMBER_HC_WAIT, EMBER_HC_SLOT_WAIT);
    EXPECT_TRUE(o.done);
    EXPECT_EQ(o.outcome, Outcome::kDeadlock);
}

TEST_F(HypercallTest, WaitOnStdinWithoutInputReportsEof) {
    put(EMBER_HC_SLOT_WAIT, ember_hc_wait{0, EMBER_WAIT_STDIN, 0});
    EXPECT_FALSE(call(EMBER_HC_WAIT, EMBER_HC_SLOT_WAIT).done);
    ember_ring r;
    std::memcpy(&r, buf_.data() + EMBER_GPA_STDIN, sizeof r);
    EXPECT_TRUE(r.flags & EMBER_RING_EOF);
    ember_hc_wait w;
    std::memcpy(&w, buf_.data() + EMBER_HC_SLOT_WAIT, sizeof w);
    EXPECT_EQ(w.ready, EMBER_WAIT_STDIN);
}

TEST_F(HypercallTest, ConsoleRecordsReachTheirFileDescriptors) {
    console_record(0, 5, 1, "hello");
    console_record(9, 3, 2, "err");
    put(EMBER_GPA_CONSOLE, ember_ring{16, 0, 0, 0});
    call(EMBER_HC_CONSOLE, 0);
    EXPECT_EQ(status(), EMBER_OK);
    EXPECT_EQ(out_[1], "hello");
    EXPECT_EQ(out_[2], "err");
}

TEST_F(HypercallTest, ConsoleRecordWrappingTheRingIsReassembled) {
    const uint64_t cap = EMBER_CONSOLE_SIZE - EMBER_RING_DATA;
    const uint64_t start = 10 * cap - 6;  // free-running counters
    console_record(start, 8, 1, "wrapping");
    put(EMBER_GPA_CONSOLE, ember_ring{start + 12, start, 0, 0});
    call(EMBER_HC_CONSOLE, 0);
    EXPECT_EQ(out_[1], "wrapping");
}

TEST_F(HypercallTest, ConsoleRingWithHeadFarAheadOfTailIsDropped) {
    put(EMBER_GPA_CONSOLE, ember_ring{1ull << 40, 0, 0, 0});
    call(EMBER_HC_CONSOLE, 0);
    EXPECT_TRUE(out_[1].empty());
    EXPECT_EQ(logs_.size(), 1u);
    ember_ring r;
    std::memcpy(&r, buf_.data() + EMBER_GPA_CONSOLE, sizeof r);
    EXPECT_EQ(r.tail, r.head);  // resynchronised
}

TEST_F(HypercallTest, ConsoleRecordLongerThanTheRingDataIsDropped) {
    console_record(0, 4000, 1, std::string(4000, 'x').c_str());
    put(EMBER_GPA_CONSOLE, ember_ring{100, 0, 0, 0});  // claims less than the record
    call(EMBER_HC_CONSOLE, 0);
    EXPECT_TRUE(out_[1].empty());
    EXPECT_FALSE(logs_.empty());
}

TEST_F(HypercallTest, ConsoleRecordForUnknownFdIsDropped) {
    console_record(0, 3, 7, "abc");
    put(EMBER_GPA_CONSOLE, ember_ring{7, 0, 0, 0});
    call(EMBER_HC_CONSOLE, 0);
    EXPECT_TRUE(out_[1].empty() && out_[2].empty());
    EXPECT_FALSE(logs_.empty());
}

}  // namespace
}  // namespace ember
