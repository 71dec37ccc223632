// WarmCap (src/platform/warm_cap.h): how many reset VMs a worker keeps per
// snapshot follows the load, between the floor and kMaxWarm.
#include "platform/warm_cap.h"

#include <gtest/gtest.h>

namespace ember::platform {
namespace {

using std::chrono::seconds;

TEST(WarmCap, QuietServiceKeepsTheFloor) {
    WarmCap c(4);
    const auto t = WarmCap::Clock::time_point{} + seconds(100);
    EXPECT_EQ(c.cap(t), 4u);
    c.taken(t);
    c.returned(t);
    EXPECT_EQ(c.cap(t), 4u);
}

TEST(WarmCap, FollowsThePeakInUseAndFallsTwoWindowsAfterTheLoad) {
    WarmCap c(4);
    auto t = WarmCap::Clock::time_point{} + seconds(100);
    for (int i = 0; i < 40; ++i) c.taken(t);
    EXPECT_EQ(c.in_use(), 40u);
    for (int i = 0; i < 40; ++i) c.returned(t + seconds(1));
    // The VMs coming back are kept: the load needed 40 at once.
    EXPECT_EQ(c.cap(t + seconds(2)), 40u);
    // Next window: the previous window's peak still counts.
    EXPECT_EQ(c.cap(t + seconds(12)), 40u);
    // Two quiet windows later only the floor is left.
    EXPECT_EQ(c.cap(t + seconds(23)), 4u);
}

TEST(WarmCap, ALongIdleGapForgetsTheOldPeakAtOnce) {
    WarmCap c(2);
    auto t = WarmCap::Clock::time_point{} + seconds(100);
    for (int i = 0; i < 10; ++i) c.taken(t);
    for (int i = 0; i < 10; ++i) c.returned(t);
    EXPECT_EQ(c.cap(t + seconds(5)), 10u);
    EXPECT_EQ(c.cap(t + seconds(600)), 2u);
}

TEST(WarmCap, NeverAboveTheMaximumNorBelowTheFloor) {
    WarmCap c(1000);  // a floor above the maximum is the maximum
    const auto t = WarmCap::Clock::time_point{} + seconds(100);
    EXPECT_EQ(c.cap(t), WarmCap::kMaxWarm);
    WarmCap d(0);
    for (size_t i = 0; i < 3 * WarmCap::kMaxWarm; ++i) d.taken(t);
    EXPECT_EQ(d.cap(t), WarmCap::kMaxWarm);
    // More returns than takes do not underflow.
    WarmCap e(3);
    e.returned(t);
    EXPECT_EQ(e.in_use(), 0u);
    EXPECT_EQ(e.cap(t), 3u);
}

}  // namespace
}  // namespace ember::platform
