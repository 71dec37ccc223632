// net_readiness_test.cpp - poll, select, epoll (level, edge, one-shot),
// eventfd and timerfd in the guest kernel, against the fake VMM.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include <set>

#include "net_test_util.h"

namespace nettest {
namespace {

using fstest::P;

class ReadinessTest : public NetTest {
  protected:
    static int64_t epoll() { return sys(SYS_epoll_create1, EPOLL_CLOEXEC); }
    static int64_t ctl(int64_t ep, int op, int64_t fd, uint32_t events, uint64_t data = 0) {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = data ? data : static_cast<uint64_t>(fd);
        return sys(SYS_epoll_ctl, static_cast<uint64_t>(ep), static_cast<uint64_t>(op),
                   static_cast<uint64_t>(fd), P(&ev));
    }
    // epoll_wait with room for 16 events; returns "fd:events" pairs.
    static std::vector<std::pair<uint64_t, uint32_t>> wait(int64_t ep, int timeout_ms = 0,
                                                           int max = 16) {
        epoll_event ev[16];
        int64_t n = sys(SYS_epoll_wait, static_cast<uint64_t>(ep), P(ev),
                        static_cast<uint64_t>(max), static_cast<uint64_t>(timeout_ms));
        std::vector<std::pair<uint64_t, uint32_t>> out;
        if (n < 0) {
            out.push_back({~0ull, static_cast<uint32_t>(n)});
            return out;
        }
        for (int64_t i = 0; i < n; i++) {
            const uint64_t data = ev[i].data.u64;
            const uint32_t events = ev[i].events;
            out.push_back({data, events});
        }
        return out;
    }
    using Events = std::vector<std::pair<uint64_t, uint32_t>>;
};

// ---- poll and select ------------------------------------------------------------------------

TEST_F(ReadinessTest, PollReportsEveryKindOfFd) {
    uint32_t s;
    int64_t sock = accepted(&s);
    int pfd[2];
    ASSERT_EQ(sys(SYS_pipe2, P(pfd), 0), 0);
    int64_t file = open("/etc/hostname", O_RDONLY);
    fstest::g_stdin = "typed";
    fstest::g_stdin_eof = false;
    pollfd p[6] = {
        {static_cast<int>(sock), POLLIN | POLLOUT, 0}, {pfd[0], POLLIN, 0}, {pfd[1], POLLOUT, 0},
        {static_cast<int>(file), POLLIN, 0},           {0, POLLIN, 0},      {900, POLLIN, 0}};
    EXPECT_EQ(sys(SYS_poll, P(p), 6, 0), 5);
    EXPECT_EQ(p[0].revents, POLLOUT);
    EXPECT_EQ(p[1].revents, 0);  // an empty pipe
    EXPECT_EQ(p[2].revents, POLLOUT);
    EXPECT_EQ(p[3].revents, POLLIN);
    EXPECT_EQ(p[4].revents, POLLIN);
    EXPECT_EQ(p[5].revents, POLLNVAL);
}

TEST_F(ReadinessTest, PollCountsOnlyReadyEntriesAndIgnoresNegativeFds) {
    int pfd[2];
    ASSERT_EQ(sys(SYS_pipe2, P(pfd), 0), 0);
    pollfd p[3] = {{pfd[0], POLLIN, 0}, {-1, POLLIN, 0}, {pfd[1], POLLOUT, 0}};
    EXPECT_EQ(sys(SYS_poll, P(p), 3, 0), 1);
    EXPECT_EQ(p[0].revents, 0);
    EXPECT_EQ(p[1].revents, 0);
    EXPECT_EQ(p[2].revents, POLLOUT);
    ASSERT_EQ(write(pfd[1], "x", 1), 1);
    EXPECT_EQ(sys(SYS_poll, P(p), 3, 0), 2);
    EXPECT_EQ(p[0].revents, POLLIN);
    EXPECT_EQ(sys(SYS_poll, P(p), 2000, 0), -EINVAL);
    EXPECT_EQ(sys(SYS_poll, fstest::kBadPtr, 1, 0), -EFAULT);
}

TEST_F(ReadinessTest, PollBlocksUntilTheHostDeliversData) {
    uint32_t s;
    int64_t sock = accepted(&s);
    host().later(EMBER_NET_DATA, s, 0, "wake up");
    EXPECT_EQ(poll1(sock, POLLIN, -1), static_cast<uint32_t>(POLLIN));
    EXPECT_TRUE(host().last_events & EMBER_WAIT_NET);
    EXPECT_EQ(recv(sock, 100), "wake up");
}

TEST_F(ReadinessTest, PollTimeoutWaitsForTheDeadlineThenReturnsZero) {
    uint32_t s;
    int64_t sock = accepted(&s);
    const int64_t t0 = shim::clock_ns();
    EXPECT_EQ(poll1(sock, POLLIN, 250), 0u);
    EXPECT_GE(shim::clock_ns() - t0, 250000000);
    EXPECT_NE(host().last_deadline, 0u);
}

TEST_F(ReadinessTest, ZeroTimeoutPollLetsTheHostDeliverOnce) {
    uint32_t s;
    int64_t sock = accepted(&s);
    host().later(EMBER_NET_DATA, s, 0, "queued at the host");
    EXPECT_EQ(poll1(sock, POLLIN, 0), static_cast<uint32_t>(POLLIN));
    EXPECT_EQ(host().waits, 1);
    EXPECT_EQ(poll1(sock, POLLOUT, 0), static_cast<uint32_t>(POLLOUT));
    EXPECT_EQ(host().waits, 1);  // something was ready: no exit
}

TEST_F(ReadinessTest, PollingOnlyPipesForeverIsADeadlockNotAHang) {
    int pfd[2];
    ASSERT_EQ(sys(SYS_pipe2, P(pfd), 0), 0);
    pollfd p{pfd[0], POLLIN, 0};
    EXPECT_EQ(sys(SYS_poll, P(&p), 1, static_cast<uint64_t>(-1)), -EDEADLK);
    EXPECT_EQ(host().waits, 0);
    // With a timeout the same poll simply times out.
    EXPECT_EQ(sys(SYS_poll, P(&p), 1, 10), 0);
}

TEST_F(ReadinessTest, PpollUpdatesTheRemainingTime) {
    int pfd[2];
    ASSERT_EQ(sys(SYS_pipe2, P(pfd), 0), 0);
    pollfd p{pfd[1], POLLOUT, 0};
    timespec ts{5, 0};
    EXPECT_EQ(sys(SYS_ppoll, P(&p), 1, P(&ts), 0, 8), 1);
    EXPECT_GT(ts.tv_sec * 1000000000ll + ts.tv_nsec, 4000000000ll);
    timespec bad{0, 1000000000};
    EXPECT_EQ(sys(SYS_ppoll, P(&p), 1, P(&bad), 0, 8), -EINVAL);
}

TEST_F(ReadinessTest, SelectReportsReadableAndWritableSets) {
    uint32_t s;
    int64_t sock = accepted(&s);
    int pfd[2];
    ASSERT_EQ(sys(SYS_pipe2, P(pfd), 0), 0);
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_SET(static_cast<int>(sock), &rd);
    FD_SET(pfd[0], &rd);
    FD_SET(static_cast<int>(sock), &wr);
    timeval tv{0, 0};
    int nfds = std::max(static_cast<int>(sock), pfd[0]) + 1;
    host().push(EMBER_NET_DATA, s, 0, "x");
    EXPECT_EQ(sys(SYS_select, static_cast<uint64_t>(nfds), P(&rd), P(&wr), 0, P(&tv)), 2);
    EXPECT_TRUE(FD_ISSET(static_cast<int>(sock), &rd));
    EXPECT_FALSE(FD_ISSET(pfd[0], &rd));
    EXPECT_TRUE(FD_ISSET(static_cast<int>(sock), &wr));
    FD_ZERO(&rd);
    FD_SET(700, &rd);
    EXPECT_EQ(sys(SYS_select, 701, P(&rd), 0, 0, P(&tv)), -EBADF);
    // pselect6 with a timeout and nothing ready times out.
    FD_ZERO(&rd);
    FD_SET(pfd[0], &rd);
    timespec ts{0, 1000000};
    EXPECT_EQ(sys(SYS_pselect6, static_cast<uint64_t>(pfd[0] + 1), P(&rd), 0, 0, P(&ts), 0), 0);
    EXPECT_FALSE(FD_ISSET(pfd[0], &rd));
}

// ---- epoll --------------------------------------------------------------------------------

TEST_F(ReadinessTest, EpollCtlValidatesItsArguments) {
    int64_t ep = epoll();
    ASSERT_GE(ep, 0);
    uint32_t s;
    int64_t sock = accepted(&s);
    int64_t file = open("/etc/hostname", O_RDONLY);
    EXPECT_EQ(ctl(ep, EPOLL_CTL_ADD, sock, EPOLLIN), 0);
    EXPECT_EQ(ctl(ep, EPOLL_CTL_ADD, sock, EPOLLIN), -EEXIST);
    EXPECT_EQ(ctl(ep, EPOLL_CTL_MOD, file, EPOLLIN), -EPERM);
    EXPECT_EQ(ctl(ep, EPOLL_CTL_ADD, file, EPOLLIN), -EPERM);
    EXPECT_EQ(ctl(ep, EPOLL_CTL_ADD, ep, EPOLLIN), -EINVAL);
    EXPECT_EQ(ctl(ep, EPOLL_CTL_ADD, 777, EPOLLIN), -EBADF);
    EXPECT_EQ(ctl(file, EPOLL_CTL_ADD, sock, EPOLLIN), -EINVAL);
    EXPECT_EQ(ctl(ep, 99, sock, EPOLLIN), -EINVAL);
    int64_t other = socket4();
    EXPECT_EQ(ctl(ep, EPOLL_CTL_MOD, other, EPOLLIN), -ENOENT);
    EXPECT_EQ(ctl(ep, EPOLL_CTL_DEL, other, 0), -ENOENT);
    EXPECT_EQ(ctl(ep, EPOLL_CTL_DEL, sock, 0), 0);
    EXPECT_EQ(sys(SYS_epoll_create, 0), -EINVAL);
    EXPECT_EQ(sys(SYS_epoll_create1, 1), -EINVAL);
    epoll_event ev[1];
    EXPECT_EQ(sys(SYS_epoll_wait, static_cast<uint64_t>(ep), P(ev), 0, 0), -EINVAL);
    EXPECT_EQ(sys(SYS_epoll_wait, static_cast<uint64_t>(file), P(ev), 1, 0), -EINVAL);
    // Loops of epolls are refused.
    int64_t ep2 = epoll();
    EXPECT_EQ(ctl(ep, EPOLL_CTL_ADD, ep2, EPOLLIN), 0);
    EXPECT_EQ(ctl(ep2, EPOLL_CTL_ADD, ep, EPOLLIN), -ELOOP);
}

TEST_F(ReadinessTest, LevelTriggeredReportsUntilTheDataIsRead) {
    int64_t ep = epoll();
    uint32_t s;
    int64_t sock = accepted(&s);
    ASSERT_EQ(ctl(ep, EPOLL_CTL_ADD, sock, EPOLLIN, 42), 0);
    EXPECT_EQ(wait(ep), Events{});
    host().push(EMBER_NET_DATA, s, 0, "abcdef");
    EXPECT_EQ(wait(ep), (Events{{42, EPOLLIN}}));
    EXPECT_EQ(recv(sock, 3), "abc");
    EXPECT_EQ(wait(ep), (Events{{42, EPOLLIN}}));
    EXPECT_EQ(recv(sock, 3), "def");
    EXPECT_EQ(wait(ep), Events{});
}

TEST_F(ReadinessTest, EdgeTriggeredReportsOncePerArrival) {
    int64_t ep = epoll();
    uint32_t s;
    int64_t sock = accepted(&s);
    ASSERT_EQ(ctl(ep, EPOLL_CTL_ADD, sock, EPOLLIN | EPOLLET, 7), 0);
    host().push(EMBER_NET_DATA, s, 0, "one");
    EXPECT_EQ(wait(ep), (Events{{7, EPOLLIN}}));
    EXPECT_EQ(wait(ep), Events{});  // still readable, but nothing new
    // New data while the old is still unread: a new edge.
    host().push(EMBER_NET_DATA, s, 0, "two");
    EXPECT_EQ(wait(ep), (Events{{7, EPOLLIN}}));
    EXPECT_EQ(recv(sock, 100), "onetwo");
    EXPECT_EQ(wait(ep), Events{});
    host().push(EMBER_NET_SHUTDOWN, s, 0);
    EXPECT_EQ(wait(ep), (Events{{7, EPOLLIN}}));
}

TEST_F(ReadinessTest, EdgeTriggeredWritabilityReturnsWithCredit) {
    int64_t ep = epoll();
    uint32_t s;
    int64_t sock = accepted(&s, SOCK_NONBLOCK);
    ASSERT_EQ(ctl(ep, EPOLL_CTL_ADD, sock, EPOLLOUT | EPOLLET, 9), 0);
    EXPECT_EQ(wait(ep), (Events{{9, EPOLLOUT}}));
    EXPECT_EQ(wait(ep), Events{});
    EXPECT_EQ(send(sock, std::string(EMBER_NET_WINDOW_INIT, 'w')), EMBER_NET_WINDOW_INIT);
    EXPECT_EQ(wait(ep), Events{});
    host().push(EMBER_NET_WINDOW, s, EMBER_NET_WINDOW_INIT);
    EXPECT_EQ(wait(ep), (Events{{9, EPOLLOUT}}));
}

TEST_F(ReadinessTest, OneshotDisablesTheItemUntilMod) {
    int64_t ep = epoll();
    uint32_t s;
    int64_t sock = accepted(&s);
    ASSERT_EQ(ctl(ep, EPOLL_CTL_ADD, sock, EPOLLIN | EPOLLONESHOT, 5), 0);
    host().push(EMBER_NET_DATA, s, 0, "x");
    EXPECT_EQ(wait(ep), (Events{{5, EPOLLIN}}));
    EXPECT_EQ(wait(ep), Events{});
    host().push(EMBER_NET_DATA, s, 0, "y");
    EXPECT_EQ(wait(ep), Events{});
    ASSERT_EQ(ctl(ep, EPOLL_CTL_MOD, sock, EPOLLIN | EPOLLONESHOT, 6), 0);
    EXPECT_EQ(wait(ep), (Events{{6, EPOLLIN}}));
}

TEST_F(ReadinessTest, RdhupHupAndErrFollowTheStream) {
    int64_t ep = epoll();
    uint32_t s1, s2;
    int64_t a = accepted(&s1), b = accepted(&s2);
    ASSERT_EQ(ctl(ep, EPOLL_CTL_ADD, a, EPOLLIN | EPOLLRDHUP, 1), 0);
    ASSERT_EQ(ctl(ep, EPOLL_CTL_ADD, b, EPOLLIN, 2), 0);
    host().push(EMBER_NET_SHUTDOWN, s1, 0);
    host().push(EMBER_NET_CLOSE, s2, ECONNRESET);
    Events got = wait(ep);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], (std::pair<uint64_t, uint32_t>{1, EPOLLIN | EPOLLRDHUP}));
    EXPECT_EQ(got[1].first, 2u);
    EXPECT_EQ(got[1].second, static_cast<uint32_t>(EPOLLIN | EPOLLERR | EPOLLHUP));
    // Both directions done: HUP.
    ASSERT_EQ(sys(SYS_shutdown, static_cast<uint64_t>(a), SHUT_WR), 0);
    got = wait(ep);
    EXPECT_EQ(got[0], (std::pair<uint64_t, uint32_t>{1, EPOLLIN | EPOLLRDHUP | EPOLLHUP}));
}

TEST_F(ReadinessTest, ClosingAnFdRemovesItFromEverySet) {
    int64_t ep = epoll();
    uint32_t s;
    int64_t sock = accepted(&s);
    ASSERT_EQ(ctl(ep, EPOLL_CTL_ADD, sock, EPOLLIN), 0);
    ASSERT_EQ(close(sock), 0);
    // A new socket at the same number: adding it is not EEXIST.
    int64_t fresh = socket4();
    ASSERT_EQ(sys(SYS_dup2, static_cast<uint64_t>(fresh), static_cast<uint64_t>(sock)), sock);
    ASSERT_EQ(close(fresh), 0);
    const int64_t again = sock;
    EXPECT_EQ(ctl(ep, EPOLL_CTL_ADD, again, EPOLLIN), 0);
    // A dup keeps the file (and the item) alive, as on Linux.
    int64_t d = sys(SYS_dup, static_cast<uint64_t>(again));
    ASSERT_EQ(close(again), 0);
    EXPECT_EQ(wait(ep).size(), 1u);  // the unconnected socket reports HUP
    ASSERT_EQ(close(d), 0);
    EXPECT_EQ(wait(ep), Events{});
}

TEST_F(ReadinessTest, SmallMaxeventsDoesNotStarveLaterItems) {
    int64_t ep = epoll();
    std::vector<int64_t> fds;
    for (int i = 0; i < 4; i++) {
        int64_t e = sys(SYS_eventfd2, 1, 0);
        ASSERT_EQ(ctl(ep, EPOLL_CTL_ADD, e, EPOLLIN, 100 + i), 0);
    }
    std::set<uint64_t> seen;
    for (int round = 0; round < 4; round++) {
        Events got = wait(ep, 0, 1);
        ASSERT_EQ(got.size(), 1u);
        seen.insert(got[0].first);
    }
    EXPECT_EQ(seen.size(), 4u);
}

TEST_F(ReadinessTest, EpollWaitBlocksForTheHostAndTimesOut) {
    int64_t ep = epoll();
    uint32_t s;
    int64_t sock = accepted(&s);
    ASSERT_EQ(ctl(ep, EPOLL_CTL_ADD, sock, EPOLLIN, 3), 0);
    host().later(EMBER_NET_DATA, s, 0, "late");
    EXPECT_EQ(wait(ep, -1), (Events{{3, EPOLLIN}}));
    EXPECT_TRUE(host().last_events & EMBER_WAIT_NET);
    EXPECT_EQ(host().last_deadline, 0u);
    recv(sock, 10);
    const int64_t t0 = shim::clock_ns();
    EXPECT_EQ(wait(ep, 100), Events{});
    EXPECT_GE(shim::clock_ns() - t0, 100000000);
    // epoll_pwait2 takes a timespec.
    epoll_event ev[2];
    timespec ts{0, 5000000};
    EXPECT_EQ(sys(SYS_epoll_pwait2, static_cast<uint64_t>(ep), P(ev), 2, P(&ts), 0, 8), 0);
}

TEST_F(ReadinessTest, EpollOfOnlyAnEventfdCannotBlockForever) {
    int64_t ep = epoll();
    int64_t e = sys(SYS_eventfd2, 0, 0);
    ASSERT_EQ(ctl(ep, EPOLL_CTL_ADD, e, EPOLLIN), 0);
    EXPECT_EQ(wait(ep, -1), (Events{{~0ull, static_cast<uint32_t>(-EDEADLK)}}));
}

TEST_F(ReadinessTest, NestedEpollIsReadableWhenAMemberIs) {
    int64_t outer = epoll(), inner = epoll();
    int64_t e = sys(SYS_eventfd2, 0, EFD_NONBLOCK);
    ASSERT_EQ(ctl(inner, EPOLL_CTL_ADD, e, EPOLLIN), 0);
    ASSERT_EQ(ctl(outer, EPOLL_CTL_ADD, inner, EPOLLIN, 11), 0);
    EXPECT_EQ(wait(outer), Events{});
    uint64_t one = 1;
    ASSERT_EQ(write(e, &one, 8), 8);
    EXPECT_EQ(wait(outer), (Events{{11, EPOLLIN}}));
}

// ---- eventfd -------------------------------------------------------------------------------

TEST_F(ReadinessTest, EventfdCountsAndSemaphoreModeCountsDown) {
    int64_t e = sys(SYS_eventfd2, 3, EFD_NONBLOCK);
    uint64_t v = 0;
    EXPECT_EQ(poll1(e, POLLIN | POLLOUT), static_cast<uint32_t>(POLLIN | POLLOUT));
    ASSERT_EQ(read(e, &v, 8), 8);
    EXPECT_EQ(v, 3u);
    EXPECT_EQ(read(e, &v, 8), -EAGAIN);
    EXPECT_EQ(poll1(e, POLLIN), 0u);
    v = 5;
    ASSERT_EQ(write(e, &v, 8), 8);
    ASSERT_EQ(write(e, &v, 8), 8);
    ASSERT_EQ(read(e, &v, 8), 8);
    EXPECT_EQ(v, 10u);
    EXPECT_EQ(read(e, &v, 4), -EINVAL);
    v = ~0ull;
    EXPECT_EQ(write(e, &v, 8), -EINVAL);
    v = 0xfffffffffffffffeull;
    ASSERT_EQ(write(e, &v, 8), 8);
    v = 1;
    EXPECT_EQ(write(e, &v, 8), -EAGAIN);  // would overflow
    EXPECT_EQ(poll1(e, POLLOUT), 0u);

    int64_t sem = sys(SYS_eventfd2, 2, EFD_SEMAPHORE | EFD_CLOEXEC);
    EXPECT_EQ(sys(SYS_fcntl, static_cast<uint64_t>(sem), F_GETFD), FD_CLOEXEC);
    ASSERT_EQ(read(sem, &v, 8), 8);
    EXPECT_EQ(v, 1u);
    ASSERT_EQ(read(sem, &v, 8), 8);
    EXPECT_EQ(v, 1u);
    // Blocking read of zero: nobody else could ever write it.
    EXPECT_EQ(read(sem, &v, 8), -EDEADLK);
    EXPECT_EQ(sys(SYS_eventfd2, 0, 0x10), -EINVAL);
    EXPECT_GE(sys(SYS_eventfd, 0), 0);
}

// ---- timerfd -------------------------------------------------------------------------------

TEST_F(ReadinessTest, TimerfdOneShotExpiresOnce) {
    int64_t t = sys(SYS_timerfd_create, CLOCK_MONOTONIC, TFD_NONBLOCK);
    ASSERT_GE(t, 0);
    uint64_t n = 0;
    EXPECT_EQ(read(t, &n, 8), -EAGAIN);
    itimerspec its{};
    its.it_value.tv_nsec = 50000000;  // 50 ms
    ASSERT_EQ(sys(SYS_timerfd_settime, static_cast<uint64_t>(t), 0, P(&its), 0), 0);
    itimerspec cur{};
    ASSERT_EQ(sys(SYS_timerfd_gettime, static_cast<uint64_t>(t), P(&cur)), 0);
    EXPECT_GT(cur.it_value.tv_nsec, 0);
    EXPECT_LE(cur.it_value.tv_nsec, 50000000);
    EXPECT_EQ(poll1(t, POLLIN), 0u);
    shim::advance_clock(60000000);
    EXPECT_EQ(poll1(t, POLLIN), static_cast<uint32_t>(POLLIN));
    ASSERT_EQ(read(t, &n, 8), 8);
    EXPECT_EQ(n, 1u);
    EXPECT_EQ(read(t, &n, 8), -EAGAIN);
    ASSERT_EQ(sys(SYS_timerfd_gettime, static_cast<uint64_t>(t), P(&cur)), 0);
    EXPECT_EQ(cur.it_value.tv_sec, 0);
    EXPECT_EQ(cur.it_value.tv_nsec, 0);  // disarmed after firing
}

TEST_F(ReadinessTest, TimerfdIntervalCountsMissedExpirations) {
    int64_t t = sys(SYS_timerfd_create, CLOCK_MONOTONIC, 0);
    itimerspec its{};
    its.it_value.tv_nsec = 10000000;
    its.it_interval.tv_nsec = 10000000;
    ASSERT_EQ(sys(SYS_timerfd_settime, static_cast<uint64_t>(t), 0, P(&its), 0), 0);
    shim::advance_clock(35000000);
    uint64_t n = 0;
    ASSERT_EQ(read(t, &n, 8), 8);
    EXPECT_EQ(n, 3u);
    // A blocking read waits for the next expiry (with a deadline, no events
    // besides the timer).
    ASSERT_EQ(read(t, &n, 8), 8);
    EXPECT_EQ(n, 1u);
    EXPECT_NE(host().last_deadline, 0u);
    EXPECT_EQ(host().last_events, 0u);
    // Disarming; then a blocking read could never complete.
    itimerspec off{}, old{};
    ASSERT_EQ(sys(SYS_timerfd_settime, static_cast<uint64_t>(t), 0, P(&off), P(&old)), 0);
    EXPECT_EQ(old.it_interval.tv_nsec, 10000000);
    EXPECT_EQ(read(t, &n, 8), -EDEADLK);
}

TEST_F(ReadinessTest, TimerfdAbsoluteTimesOnBothClocks) {
    int64_t mono = sys(SYS_timerfd_create, CLOCK_MONOTONIC, TFD_NONBLOCK);
    int64_t real = sys(SYS_timerfd_create, CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    itimerspec its{};
    const int64_t now = shim::clock_ns() + 20000000;
    its.it_value = {now / 1000000000, now % 1000000000};
    ASSERT_EQ(sys(SYS_timerfd_settime, static_cast<uint64_t>(mono), TFD_TIMER_ABSTIME, P(&its), 0),
              0);
    ASSERT_EQ(sys(SYS_timerfd_settime, static_cast<uint64_t>(real), TFD_TIMER_ABSTIME, P(&its), 0),
              0);
    EXPECT_EQ(poll1(mono, POLLIN), 0u);
    EXPECT_EQ(poll1(real, POLLIN), 0u);
    shim::advance_clock(30000000);
    EXPECT_EQ(poll1(mono, POLLIN), static_cast<uint32_t>(POLLIN));
    EXPECT_EQ(poll1(real, POLLIN), static_cast<uint32_t>(POLLIN));
    EXPECT_EQ(sys(SYS_timerfd_create, 99, 0), -EINVAL);
    EXPECT_EQ(sys(SYS_timerfd_create, CLOCK_MONOTONIC, 0x10), -EINVAL);
    itimerspec bad{};
    bad.it_value.tv_nsec = 1000000000;
    EXPECT_EQ(sys(SYS_timerfd_settime, static_cast<uint64_t>(mono), 0, P(&bad), 0), -EINVAL);
    EXPECT_EQ(sys(SYS_timerfd_settime, static_cast<uint64_t>(mono), 8, P(&its), 0), -EINVAL);
    int pfd[2];
    ASSERT_EQ(sys(SYS_pipe2, P(pfd), 0), 0);
    EXPECT_EQ(sys(SYS_timerfd_gettime, static_cast<uint64_t>(pfd[0]), P(&its)), -EINVAL);
}

TEST_F(ReadinessTest, EpollWaitSleepsUntilATimerfdExpires) {
    int64_t ep = epoll();
    int64_t t = sys(SYS_timerfd_create, CLOCK_MONOTONIC, TFD_NONBLOCK);
    ASSERT_EQ(ctl(ep, EPOLL_CTL_ADD, t, EPOLLIN | EPOLLET, 12), 0);
    itimerspec its{};
    its.it_value.tv_sec = 2;
    ASSERT_EQ(sys(SYS_timerfd_settime, static_cast<uint64_t>(t), 0, P(&its), 0), 0);
    const int64_t t0 = shim::clock_ns();
    EXPECT_EQ(wait(ep, -1), (Events{{12, EPOLLIN}}));
    EXPECT_GE(shim::clock_ns() - t0, 2000000000 - 1000000);
    EXPECT_EQ(wait(ep, 0), Events{});  // edge-triggered: reported once
}

}  // namespace
}  // namespace nettest
