// The gateway's kept-alive streams to instances (gateway_pool.h): which
// stream a request takes, what is dropped, the bounds.
#include "platform/gateway_pool.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

namespace ember::platform {
namespace {

class PoolTest : public ::testing::Test {
  protected:
    ~PoolTest() override {
        for (int fd : peers_) ::close(fd);
    }
    // The gateway's end of a new stream; the instance's end stays here.
    int stream() {
        int sv[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        peers_.push_back(sv[1]);
        return sv[0];
    }
    static bool is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }
    std::vector<int> peers_;
    UpstreamPool pool_;
};

TEST_F(PoolTest, TakesOneStreamPerInstanceNewestFirst) {
    const int a1 = stream(), a2 = stream(), b1 = stream();
    pool_.put("svc", 1, a1);
    pool_.put("svc", 2, b1);
    pool_.put("svc", 1, a2);
    pool_.put("other", 3, stream());
    auto got = pool_.take("svc", 16);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].instance_id, 1u);
    EXPECT_EQ(got[0].fd, a2);
    EXPECT_EQ(got[1].instance_id, 2u);
    EXPECT_EQ(got[1].fd, b1);
    EXPECT_EQ(pool_.idle(), 2u);  // a1 and other's
    for (const auto& s : got) ::close(s.fd);
    auto again = pool_.take("svc", 16);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].fd, a1);
    ::close(a1);
    EXPECT_TRUE(pool_.take("nobody", 16).empty());
}

TEST_F(PoolTest, StreamsTheInstanceClosedOrWroteToAreDropped) {
    const int closed = stream();
    ::close(peers_.back());
    peers_.pop_back();
    const int chatty = stream();
    ASSERT_EQ(::send(peers_.back(), "x", 1, 0), 1);
    const int good = stream();
    pool_.put("svc", 1, good);
    pool_.put("svc", 2, chatty);
    pool_.put("svc", 3, closed);
    auto got = pool_.take("svc", 16);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].fd, good);
    EXPECT_FALSE(is_open(closed));
    EXPECT_FALSE(is_open(chatty));
    EXPECT_EQ(pool_.idle(), 0u);
    ::close(good);
}

TEST_F(PoolTest, BoundedPerInstanceAndInAll) {
    std::vector<int> fds;
    for (size_t i = 0; i < UpstreamPool::kPerInstance + 3; ++i) {
        fds.push_back(stream());
        pool_.put("svc", 1, fds.back());
    }
    EXPECT_EQ(pool_.idle(), UpstreamPool::kPerInstance);
    EXPECT_FALSE(is_open(fds.back())) << "over the bound: closed";
    for (uint64_t id = 2; pool_.idle() < UpstreamPool::kTotal; ++id) pool_.put("svc", id, stream());
    const int newest = stream();
    pool_.put("svc", 999999, newest);
    EXPECT_EQ(pool_.idle(), UpstreamPool::kTotal);
    EXPECT_FALSE(is_open(fds.front())) << "the oldest went first";
    EXPECT_TRUE(is_open(newest));
}

TEST_F(PoolTest, DisabledInstanceLosesItsStreamsAndGetsNoMore) {
    const int a = stream(), b = stream(), c = stream();
    pool_.put("svc", 1, a);
    pool_.put("svc", 2, b);
    EXPECT_TRUE(pool_.has_idle(1));
    pool_.disable(1);
    EXPECT_FALSE(is_open(a));
    EXPECT_FALSE(pool_.has_idle(1));
    EXPECT_TRUE(pool_.disabled(1));
    pool_.put("svc", 1, c);
    EXPECT_FALSE(is_open(c));
    pool_.drop_instance(2);
    EXPECT_FALSE(is_open(b));
    EXPECT_EQ(pool_.idle(), 0u);
    EXPECT_FALSE(pool_.disabled(2));
}

}  // namespace
}  // namespace ember::platform
