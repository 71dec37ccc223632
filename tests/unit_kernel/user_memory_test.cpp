// user_memory_test.cpp - the guest kernel reaches user memory only through
// copy_to_user / copy_from_user / user_buffer (src/kernel/kernel.h): a bad
// pointer comes back as -EFAULT, the argument checks that Linux makes first
// still win, and outputs Linux ignores stay ignored. The shim's user_ok
// rejects everything below shim::kUserMin, so fstest::kBadPtr is "unmapped".
#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "net_test_util.h"

namespace nettest {
namespace {

using fstest::kBadPtr;
using fstest::P;

class UserMemoryTest : public NetTest {
  protected:
    void SetUp() override {
        NetTest::SetUp();
        shim::time_boot();
    }
};

TEST_F(UserMemoryTest, ClockGettimeWritesAGoodPointerAndFaultsOnABadOne) {
    timespec ts{};
    ASSERT_EQ(sys(SYS_clock_gettime, CLOCK_REALTIME, P(&ts)), 0);
    EXPECT_EQ(ts.tv_sec, shim::clock_ns() / 1000000000);
    EXPECT_EQ(sys(SYS_clock_gettime, CLOCK_MONOTONIC, kBadPtr), -EFAULT);
    EXPECT_EQ(sys(SYS_clock_gettime, 99, kBadPtr), -EINVAL);  // the clock id is checked first
}

TEST_F(UserMemoryTest, AStructThatStartsBelowUserMemoryFaultsEvenIfItEndsInside) {
    EXPECT_EQ(sys(SYS_clock_gettime, CLOCK_MONOTONIC, shim::kUserMin - 8), -EFAULT);
}

TEST_F(UserMemoryTest, ClockGetresAcceptsNullAndFaultsOnABadPointer) {
    timespec ts{};
    EXPECT_EQ(sys(SYS_clock_getres, CLOCK_MONOTONIC, 0), 0);
    ASSERT_EQ(sys(SYS_clock_getres, CLOCK_MONOTONIC, P(&ts)), 0);
    EXPECT_EQ(ts.tv_sec, 0);
    EXPECT_EQ(ts.tv_nsec, 1);
    EXPECT_EQ(sys(SYS_clock_getres, CLOCK_MONOTONIC, kBadPtr), -EFAULT);
}

TEST_F(UserMemoryTest, GettimeofdayFaultsOnABadTimevalOrTimezone) {
    timeval tv{};
    struct {
        int minuteswest = 7, dsttime = 7;
    } tz;
    ASSERT_EQ(sys(SYS_gettimeofday, P(&tv), P(&tz)), 0);
    EXPECT_GT(tv.tv_sec, 0);
    EXPECT_EQ(tz.minuteswest, 0);
    EXPECT_EQ(tz.dsttime, 0);
    EXPECT_EQ(sys(SYS_gettimeofday, kBadPtr, 0), -EFAULT);
    EXPECT_EQ(sys(SYS_gettimeofday, P(&tv), kBadPtr), -EFAULT);
}

TEST_F(UserMemoryTest, TimeReturnsSecondsAndFaultsOnABadPointer) {
    int64_t t = 0;
    const int64_t r = sys(SYS_time, P(&t));
    EXPECT_GT(r, 0);
    EXPECT_EQ(t, r);
    EXPECT_EQ(sys(SYS_time, kBadPtr), -EFAULT);
}

TEST_F(UserMemoryTest, NanosleepFaultsOnABadRequestAndIgnoresABadRemainder) {
    EXPECT_EQ(sys(SYS_nanosleep, kBadPtr, 0), -EFAULT);
    const timespec req{0, 5000};
    const int64_t before = shim::clock_ns();
    EXPECT_EQ(sys(SYS_nanosleep, P(&req), kBadPtr), 0);  // as Linux: the sleep completed
    EXPECT_GE(shim::clock_ns() - before, 5000);
    timespec rem{9, 9};
    EXPECT_EQ(sys(SYS_nanosleep, P(&req), P(&rem)), 0);
    EXPECT_EQ(rem.tv_sec, 0);
    EXPECT_EQ(rem.tv_nsec, 0);
}

TEST_F(UserMemoryTest, EpollWaitIntoABadEventArrayFaults) {
    const int64_t ep = sys(SYS_epoll_create1, 0);
    ASSERT_GE(ep, 0);
    EXPECT_EQ(sys(SYS_epoll_wait, static_cast<uint64_t>(ep), kBadPtr, 4, 0), -EFAULT);
}

TEST_F(UserMemoryTest, RecvIntoABadBufferFaultsAndLeavesTheDataQueued) {
    uint32_t s;
    const int64_t fd = accepted(&s);
    host().push(EMBER_NET_DATA, s, 0, "kept");
    EXPECT_EQ(sys(SYS_recvfrom, static_cast<uint64_t>(fd), kBadPtr, 4, 0, 0, 0), -EFAULT);
    EXPECT_EQ(sys(SYS_sendto, static_cast<uint64_t>(fd), kBadPtr, 4, 0, 0, 0), -EFAULT);
    EXPECT_EQ(recv(fd, 4), "kept");
}

TEST_F(UserMemoryTest, RecvWithMsgTruncNeverTouchesTheBuffer) {
    uint32_t s;
    const int64_t fd = accepted(&s);
    host().push(EMBER_NET_DATA, s, 0, "dropped");
    EXPECT_EQ(sys(SYS_recvfrom, static_cast<uint64_t>(fd), kBadPtr, 7, MSG_TRUNC, 0, 0), 7);
}

}  // namespace
}  // namespace nettest
