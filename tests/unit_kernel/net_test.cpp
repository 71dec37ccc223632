// net_test.cpp - the guest kernel's sockets against a fake VMM: records on
// the rings, credit, accept queues, connect, EOF and reset, options.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "net_test_util.h"

namespace nettest {
namespace {

using fstest::P;

// ---- socket() and addresses ----------------------------------------------------------

TEST_F(NetTest, SocketRejectsFamiliesAndTypesItDoesNotCarry) {
    EXPECT_EQ(sys(SYS_socket, AF_NETLINK, SOCK_RAW, 0), -EAFNOSUPPORT);
    EXPECT_EQ(sys(SYS_socket, AF_PACKET, SOCK_RAW, 0), -EAFNOSUPPORT);
    EXPECT_EQ(sys(SYS_socket, AF_UNIX, 10 /* SOCK_PACKET */, 0), -ESOCKTNOSUPPORT);
    EXPECT_EQ(sys(SYS_socket, AF_UNIX, SOCK_STREAM, IPPROTO_TCP), -EPROTONOSUPPORT);
    EXPECT_EQ(sys(SYS_socket, AF_INET, SOCK_DGRAM, IPPROTO_TCP), -EPROTONOSUPPORT);
    EXPECT_EQ(sys(SYS_socket, AF_INET6, SOCK_RAW, 6), -EPROTONOSUPPORT);
    EXPECT_EQ(sys(SYS_socket, AF_INET, SOCK_SEQPACKET, 0), -ESOCKTNOSUPPORT);
    EXPECT_EQ(sys(SYS_socket, AF_INET, SOCK_STREAM, IPPROTO_UDP), -EPROTONOSUPPORT);
    EXPECT_EQ(sys(SYS_socket, AF_INET, SOCK_STREAM | 0x1000, 0), -EINVAL);
    EXPECT_EQ(sys(SYS_socketpair, AF_NETLINK, SOCK_RAW, 0, 0), -EAFNOSUPPORT);
    EXPECT_EQ(sys(SYS_socketpair, AF_INET, SOCK_STREAM, 0, 0), -EOPNOTSUPP);
}

TEST_F(NetTest, SocketIsAnFdWithSocketModeAndFlags) {
    int64_t fd = sys(SYS_socket, AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    ASSERT_GE(fd, 3);
    struct stat s;
    ASSERT_EQ(sys(SYS_fstat, static_cast<uint64_t>(fd), P(&s)), 0);
    EXPECT_TRUE(S_ISSOCK(s.st_mode));
    EXPECT_EQ(sys(SYS_fcntl, static_cast<uint64_t>(fd), F_GETFD), FD_CLOEXEC);
    EXPECT_TRUE(sys(SYS_fcntl, static_cast<uint64_t>(fd), F_GETFL) & O_NONBLOCK);
    EXPECT_EQ(recv(fd, 10), fstest::errno_text(-ENOTCONN));
    EXPECT_EQ(send(fd, "x"), -EPIPE);  // an unconnected TCP socket, as Linux
    EXPECT_EQ(sys(SYS_accept4, static_cast<uint64_t>(fd), 0, 0, 0), -EINVAL);  // not listening
    EXPECT_EQ(sys(SYS_shutdown, static_cast<uint64_t>(fd), SHUT_WR), -ENOTCONN);
    int64_t file = open("/etc/hostname", O_RDONLY);
    EXPECT_EQ(sys(SYS_listen, static_cast<uint64_t>(file), 1), -ENOTSOCK);
    EXPECT_EQ(sys(SYS_listen, 999, 1), -EBADF);
}

TEST_F(NetTest, BindPortZeroPicksAnEphemeralPortAndGetsocknameReportsIt) {
    int64_t a = socket4(), b = socket4();
    ASSERT_EQ(bind4(a, 0, 0x7f000001), 0);
    sockaddr_in got{};
    socklen_t len = sizeof got;
    ASSERT_EQ(sys(SYS_getsockname, static_cast<uint64_t>(a), P(&got), P(&len)), 0);
    EXPECT_EQ(len, sizeof got);
    EXPECT_EQ(got.sin_family, AF_INET);
    EXPECT_GE(ntohs(got.sin_port), 32768);
    EXPECT_EQ(ntohl(got.sin_addr.s_addr), 0x7f000001u);
    EXPECT_EQ(bind4(b, ntohs(got.sin_port)), -EADDRINUSE);
    EXPECT_EQ(bind4(a, 80), -EINVAL);  // already bound
    // A short buffer gets a truncated address and the full length.
    socklen_t small = 4;
    ASSERT_EQ(sys(SYS_getsockname, static_cast<uint64_t>(a), P(&got), P(&small)), 0);
    EXPECT_EQ(small, sizeof got);
    EXPECT_EQ(sys(SYS_getpeername, static_cast<uint64_t>(a), P(&got), P(&len)), -ENOTCONN);
}

TEST_F(NetTest, BindRejectsWrongFamiliesAndLengths) {
    int64_t v4 = socket4();
    int64_t v6 = sys(SYS_socket, AF_INET6, SOCK_STREAM, 0);
    sockaddr_in6 a6{};
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons(99);
    EXPECT_EQ(sys(SYS_bind, static_cast<uint64_t>(v4), P(&a6), sizeof a6), -EAFNOSUPPORT);
    EXPECT_EQ(sys(SYS_bind, static_cast<uint64_t>(v6), P(&a6), 20), -EINVAL);
    EXPECT_EQ(sys(SYS_bind, static_cast<uint64_t>(v4), P(&a6), 8), -EINVAL);
    EXPECT_EQ(sys(SYS_bind, static_cast<uint64_t>(v4), fstest::kBadPtr, 16), -EFAULT);
    ASSERT_EQ(sys(SYS_bind, static_cast<uint64_t>(v6), P(&a6), sizeof a6), 0);
    sockaddr_in6 got{};
    socklen_t len = sizeof got;
    ASSERT_EQ(sys(SYS_getsockname, static_cast<uint64_t>(v6), P(&got), P(&len)), 0);
    EXPECT_EQ(len, sizeof got);
    EXPECT_EQ(got.sin6_family, AF_INET6);
    EXPECT_EQ(ntohs(got.sin6_port), 99);
}

TEST_F(NetTest, ReuseOptionsAllowASecondBind) {
    int64_t a = socket4(), b = socket4();
    int one = 1;
    for (int64_t fd : {a, b})
        ASSERT_EQ(sys(SYS_setsockopt, static_cast<uint64_t>(fd), SOL_SOCKET, SO_REUSEPORT, P(&one),
                      sizeof one),
                  0);
    EXPECT_EQ(bind4(a, 7000), 0);
    EXPECT_EQ(bind4(b, 7000), 0);
}

// ---- listen and accept ------------------------------------------------------------------

TEST_F(NetTest, ListenSendsListenWithThePortAndTheBoundAddress) {
    uint32_t id = 0;
    int64_t l = listener(8080, &id);
    auto recs = host().sent_of(EMBER_NET_LISTEN);
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_GT(id, 0u);
    EXPECT_LT(id, EMBER_NET_HOST_ID);
    EXPECT_EQ(recs[0].arg, 8080u);
    ASSERT_EQ(recs[0].data.size(), sizeof(ember_net_addr));
    ember_net_addr a;
    memcpy(&a, recs[0].data.data(), sizeof a);
    EXPECT_EQ(a.family, EMBER_NET_AF_INET);
    EXPECT_EQ(a.port, 8080);
    int v = 0;
    socklen_t len = sizeof v;
    ASSERT_EQ(
        sys(SYS_getsockopt, static_cast<uint64_t>(l), SOL_SOCKET, SO_ACCEPTCONN, P(&v), P(&len)),
        0);
    EXPECT_EQ(v, 1);
    // Listening again only changes the backlog.
    EXPECT_EQ(sys(SYS_listen, static_cast<uint64_t>(l), 5), 0);
    host().drain();
    EXPECT_EQ(host().sent_of(EMBER_NET_LISTEN).size(), 1u);
}

TEST_F(NetTest, ListenWithoutBindPicksAnEphemeralPort) {
    int64_t l = socket4();
    ASSERT_EQ(sys(SYS_listen, static_cast<uint64_t>(l), 1), 0);
    host().drain();
    auto recs = host().sent_of(EMBER_NET_LISTEN);
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_GE(recs[0].arg, 32768u);
}

TEST_F(NetTest, AcceptTakesQueuedStreamsInOrderWithThePeerAddress) {
    uint32_t lid;
    int64_t l = listener(80, &lid, SOCK_NONBLOCK);
    EXPECT_EQ(sys(SYS_accept4, static_cast<uint64_t>(l), 0, 0, 0), -EAGAIN);
    EXPECT_EQ(poll1(l, POLLIN), 0u);
    uint32_t s1 = deliver_accept(lid, 1111), s2 = deliver_accept(lid, 2222);
    EXPECT_EQ(poll1(l, POLLIN), static_cast<uint32_t>(POLLIN));
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    int64_t a = sys(SYS_accept4, static_cast<uint64_t>(l), P(&peer), P(&len), SOCK_CLOEXEC);
    ASSERT_GE(a, 0);
    EXPECT_EQ(len, sizeof peer);
    EXPECT_EQ(ntohs(peer.sin_port), 1111);
    EXPECT_EQ(ntohl(peer.sin_addr.s_addr), 0x0a010203u);
    EXPECT_EQ(sys(SYS_fcntl, static_cast<uint64_t>(a), F_GETFD), FD_CLOEXEC);
    EXPECT_FALSE(sys(SYS_fcntl, static_cast<uint64_t>(a), F_GETFL) & O_NONBLOCK);
    int64_t b = sys(SYS_accept, static_cast<uint64_t>(l), 0, 0);
    ASSERT_GE(b, 0);
    len = sizeof peer;
    ASSERT_EQ(sys(SYS_getpeername, static_cast<uint64_t>(b), P(&peer), P(&len)), 0);
    EXPECT_EQ(ntohs(peer.sin_port), 2222);
    // Each accepted socket speaks for its own stream.
    ASSERT_EQ(send(a, "to-one"), 6);
    ASSERT_EQ(send(b, "to-two"), 6);
    host().drain();
    EXPECT_EQ(host().data_of(s1), "to-one");
    EXPECT_EQ(host().data_of(s2), "to-two");
    EXPECT_EQ(sys(SYS_accept4, static_cast<uint64_t>(l), 0, 0, 0x4000), -EINVAL);  // bad flags
}

TEST_F(NetTest, AcceptOnAnIpv6ListenerMapsIpv4Peers) {
    int64_t l = sys(SYS_socket, AF_INET6, SOCK_STREAM, 0);
    sockaddr_in6 a6{};
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons(8443);
    ASSERT_EQ(sys(SYS_bind, static_cast<uint64_t>(l), P(&a6), sizeof a6), 0);
    ASSERT_EQ(sys(SYS_listen, static_cast<uint64_t>(l), 8), 0);
    host().drain();
    uint32_t lid = host().sent_of(EMBER_NET_LISTEN).back().stream;
    deliver_accept(lid, 5555);
    sockaddr_in6 peer{};
    socklen_t len = sizeof peer;
    ASSERT_GE(sys(SYS_accept, static_cast<uint64_t>(l), P(&peer), P(&len)), 0);
    EXPECT_EQ(len, sizeof peer);
    EXPECT_EQ(peer.sin6_family, AF_INET6);
    EXPECT_EQ(ntohs(peer.sin6_port), 5555);
    EXPECT_TRUE(IN6_IS_ADDR_V4MAPPED(&peer.sin6_addr));
}

TEST_F(NetTest, BlockingAcceptWaitsForTheHostWithNetEvents) {
    uint32_t lid;
    int64_t l = listener(80, &lid);
    host().later(EMBER_NET_ACCEPT, EMBER_NET_HOST_ID | 77, lid, addr4(1, 2, 3, 4, 9));
    int64_t a = sys(SYS_accept, static_cast<uint64_t>(l), 0, 0);
    EXPECT_GE(a, 0);
    // The wait had EMBER_WAIT_NET and no deadline: the VMM may call it READY.
    EXPECT_EQ(host().waits, 1);
    EXPECT_TRUE(host().last_events & EMBER_WAIT_NET);
    EXPECT_EQ(host().last_deadline, 0u);
}

TEST_F(NetTest, DataSentBeforeAcceptIsBuffered) {
    uint32_t lid;
    int64_t l = listener(80, &lid);
    uint32_t s = deliver_accept(lid);
    host().push(EMBER_NET_DATA, s, 0, "early bytes");
    host().push(EMBER_NET_SHUTDOWN, s, 0);
    int64_t a = sys(SYS_accept, static_cast<uint64_t>(l), 0, 0);
    ASSERT_GE(a, 0);
    EXPECT_EQ(recv(a, 100), "early bytes");
    EXPECT_EQ(recv(a, 100), "");
}

TEST_F(NetTest, ClosingAListenerUnlistensAndClosesStreamsNobodyAccepted) {
    uint32_t lid;
    int64_t l = listener(80, &lid);
    uint32_t s1 = deliver_accept(lid), s2 = deliver_accept(lid);
    host().clear_sent();
    ASSERT_EQ(close(l), 0);
    host().drain();
    auto un = host().sent_of(EMBER_NET_UNLISTEN);
    ASSERT_EQ(un.size(), 1u);
    EXPECT_EQ(un[0].stream, lid);
    auto cl = host().sent_of(EMBER_NET_CLOSE);
    ASSERT_EQ(cl.size(), 2u);
    EXPECT_EQ(cl[0].stream, s1);
    EXPECT_EQ(cl[1].stream, s2);
}

TEST_F(NetTest, ShutdownOfAListenerStopsListeningAndItMayListenAgain) {
    uint32_t lid;
    int64_t l = listener(80, &lid, SOCK_NONBLOCK);
    uint32_t queued = deliver_accept(lid);
    host().clear_sent();
    ASSERT_EQ(sys(SYS_shutdown, static_cast<uint64_t>(l), SHUT_RDWR), 0);
    host().drain();
    ASSERT_EQ(host().sent_of(EMBER_NET_UNLISTEN).size(), 1u);
    auto cl = host().sent_of(EMBER_NET_CLOSE);
    ASSERT_EQ(cl.size(), 1u);
    EXPECT_EQ(cl[0].stream, queued);
    EXPECT_EQ(sys(SYS_accept, static_cast<uint64_t>(l), 0, 0), -EINVAL);
    ASSERT_EQ(sys(SYS_listen, static_cast<uint64_t>(l), 4), 0);
    host().drain();
    auto again = host().sent_of(EMBER_NET_LISTEN);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_NE(again[0].stream, lid);
    EXPECT_EQ(again[0].arg, 80u);
}

TEST_F(NetTest, AcceptForAnUnknownListenerIsRefused) {
    host().push(EMBER_NET_ACCEPT, EMBER_NET_HOST_ID | 5, 12345, addr4(1, 1, 1, 1, 1));
    int64_t s = socket4(SOCK_NONBLOCK);
    EXPECT_EQ(poll1(s, POLLIN), static_cast<uint32_t>(POLLHUP));  // processes the rx ring
    host().drain();
    auto cl = host().sent_of(EMBER_NET_CLOSE);
    ASSERT_EQ(cl.size(), 1u);
    EXPECT_EQ(cl[0].stream, EMBER_NET_HOST_ID | 5);
}

TEST_F(NetTest, AcceptKeepsTheConnectionQueuedWhenTheFdTableIsFull) {
    uint32_t lid;
    int64_t l = listener(80, &lid);
    deliver_accept(lid);
    std::vector<int64_t> fds;
    for (;;) {
        int64_t fd = sys(SYS_dup, 0);
        if (fd < 0) break;
        fds.push_back(fd);
    }
    EXPECT_EQ(sys(SYS_accept, static_cast<uint64_t>(l), 0, 0), -EMFILE);
    close(fds.back());
    EXPECT_GE(sys(SYS_accept, static_cast<uint64_t>(l), 0, 0), 0);
}

// ---- data, credit, EOF and reset ----------------------------------------------------------

TEST_F(NetTest, SendSplitsIntoDataRecordsAndNeverExceedsTheCredit) {
    uint32_t s;
    int64_t fd = accepted(&s, SOCK_NONBLOCK);
    ASSERT_GE(fd, 0);
    std::string big(1 << 20, 'x');
    for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<char>(i * 13 + i / 4096);
    EXPECT_EQ(send(fd, big), EMBER_NET_WINDOW_INIT);
    EXPECT_EQ(send(fd, big), -EAGAIN);
    EXPECT_EQ(poll1(fd, POLLOUT), 0u);
    host().drain();
    for (const Rec& r : host().sent_of(EMBER_NET_DATA))
        EXPECT_LE(r.data.size(), EMBER_NET_DATA_MAX);
    EXPECT_EQ(host().data_of(s), big.substr(0, EMBER_NET_WINDOW_INIT));
    // Credit comes back: the socket is writable again, for that much.
    host().push(EMBER_NET_WINDOW, s, 64 * 1024);
    EXPECT_EQ(poll1(fd, POLLOUT), static_cast<uint32_t>(POLLOUT));
    EXPECT_EQ(send(fd, big.substr(EMBER_NET_WINDOW_INIT)), 64 * 1024);
    host().drain();
    EXPECT_EQ(host().data_of(s), big.substr(0, EMBER_NET_WINDOW_INIT + 64 * 1024));
    EXPECT_FALSE(host().malformed_tx);
}

TEST_F(NetTest, BlockingSendWaitsForCreditAndWrapsTheTxRingWithPads) {
    uint32_t s;
    int64_t fd = accepted(&s);
    host().auto_credit = true;
    std::string big(3 * 1024 * 1024 + 777, '\0');
    for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<char>(i * 7 + i / 999);
    EXPECT_EQ(send(fd, big), static_cast<int64_t>(big.size()));
    host().drain();
    EXPECT_FALSE(host().malformed_tx);
    EXPECT_TRUE(host().data_of(s) == big) << "data differs";
    EXPECT_GT(host().kicks + host().waits, 0);
}

TEST_F(NetTest, ReceivedDataCrossesTheRxRingEndIntact) {
    uint32_t s;
    int64_t fd = accepted(&s);
    std::string all;
    // Odd sizes, so that records end at every alignment and a PAD appears.
    for (int round = 0; round < 40; round++) {
        std::string chunk(1000 + round * 373, static_cast<char>('a' + round % 26));
        ASSERT_TRUE(host().push(EMBER_NET_DATA, s, 0, chunk));
        all += chunk;
        std::string got;
        while (got.size() < chunk.size()) got += recv(fd, chunk.size() - got.size());
        ASSERT_EQ(got, chunk) << "round " << round;
    }
    EXPECT_GT(host().rx_ring()->head, FakeHost::kRxCap);  // it wrapped at least once
}

TEST_F(NetTest, ReadingReturnsCreditInBatchesAndWhenTheBufferEmpties) {
    uint32_t s;
    int64_t fd = accepted(&s);
    std::string data(40000, 'd');
    host().push(EMBER_NET_DATA, s, 0, data.substr(0, 16384));
    host().push(EMBER_NET_DATA, s, 0, data.substr(16384, 16384));
    host().push(EMBER_NET_DATA, s, 0, data.substr(32768));
    EXPECT_EQ(recv(fd, 1000).size(), 1000u);
    host().drain();
    EXPECT_EQ(host().credit_returned(s), 0u);  // small reads are batched
    EXPECT_EQ(recv(fd, 20000).size(), 20000u);
    host().drain();
    EXPECT_EQ(host().credit_returned(s), 21000u);
    EXPECT_EQ(recv(fd, 100000).size(), 19000u);
    host().drain();
    EXPECT_EQ(host().credit_returned(s), 40000u);  // the buffer is empty: all of it
}

TEST_F(NetTest, PeekTruncAndWaitall) {
    uint32_t s;
    int64_t fd = accepted(&s);
    host().push(EMBER_NET_DATA, s, 0, "hello ");
    host().push(EMBER_NET_DATA, s, 0, "world");
    EXPECT_EQ(recv(fd, 8, MSG_PEEK), "hello wo");
    EXPECT_EQ(recv(fd, 3, MSG_PEEK), "hel");
    EXPECT_EQ(recv(fd, 2, MSG_TRUNC), std::string(2, '\0'));  // discarded, not copied
    EXPECT_EQ(recv(fd, 4), "llo ");
    host().later(EMBER_NET_DATA, s, 0, "!!!");
    EXPECT_EQ(recv(fd, 8, MSG_WAITALL), "world!!!");
    EXPECT_EQ(recv(fd, 1, MSG_DONTWAIT), fstest::errno_text(-EAGAIN));
    int n = -1;
    host().push(EMBER_NET_DATA, s, 0, "12345");
    ASSERT_EQ(sys(SYS_ioctl, static_cast<uint64_t>(fd), FIONREAD, P(&n)), 0);
    EXPECT_EQ(n, 5);
}

TEST_F(NetTest, ShutdownFromTheHostIsEndOfFileAfterTheBufferedData) {
    uint32_t s;
    int64_t fd = accepted(&s);
    host().push(EMBER_NET_DATA, s, 0, "last words");
    host().push(EMBER_NET_SHUTDOWN, s, 0);
    EXPECT_EQ(recv(fd, 4), "last");
    EXPECT_EQ(poll1(fd, POLLIN | POLLRDHUP), static_cast<uint32_t>(POLLIN | POLLRDHUP));
    EXPECT_EQ(recv(fd, 100), " words");
    EXPECT_EQ(recv(fd, 100), "");
    EXPECT_EQ(recv(fd, 100), "");
    // The other direction still works: a half-closed stream.
    EXPECT_EQ(send(fd, "reply"), 5);
    host().drain();
    EXPECT_EQ(host().data_of(s), "reply");
}

TEST_F(NetTest, ResetByTheHostIsEconnresetOnceThenEofAndEpipeOnWrite) {
    uint32_t s;
    int64_t fd = accepted(&s);
    host().push(EMBER_NET_DATA, s, 0, "partial");
    host().push(EMBER_NET_CLOSE, s, ECONNRESET);
    EXPECT_EQ(poll1(fd, POLLIN) & (POLLIN | POLLERR | POLLHUP),
              static_cast<uint32_t>(POLLIN | POLLERR | POLLHUP));
    // The kernel answers the reset with CLOSE, so the host can forget the stream.
    host().drain();
    ASSERT_EQ(host().sent_of(EMBER_NET_CLOSE).size(), 1u);
    EXPECT_EQ(recv(fd, 100), "partial");
    EXPECT_EQ(recv(fd, 100), fstest::errno_text(-ECONNRESET));
    EXPECT_EQ(recv(fd, 100), "");
    EXPECT_EQ(send(fd, "x", MSG_NOSIGNAL), -EPIPE);
    host().clear_sent();
    close(fd);
    host().drain();
    EXPECT_TRUE(host().sent_of(EMBER_NET_CLOSE).empty());  // already sent
}

TEST_F(NetTest, ShutdownWriteSendsShutdownOnceAndLaterWritesFail) {
    uint32_t s;
    int64_t fd = accepted(&s);
    EXPECT_EQ(sys(SYS_shutdown, static_cast<uint64_t>(fd), SHUT_WR), 0);
    EXPECT_EQ(sys(SYS_shutdown, static_cast<uint64_t>(fd), SHUT_WR), 0);
    host().drain();
    auto sh = host().sent_of(EMBER_NET_SHUTDOWN);
    ASSERT_EQ(sh.size(), 1u);
    EXPECT_EQ(sh[0].stream, s);
    EXPECT_EQ(send(fd, "late"), -EPIPE);
    host().push(EMBER_NET_DATA, s, 0, "still readable");
    EXPECT_EQ(recv(fd, 100), "still readable");
    EXPECT_EQ(sys(SYS_shutdown, static_cast<uint64_t>(fd), 7), -EINVAL);
}

TEST_F(NetTest, CloseSendsCloseAtOnceWhenTheHostHasEverything) {
    uint32_t s;
    int64_t fd = accepted(&s);
    host().clear_sent();
    close(fd);
    host().drain();
    auto cl = host().sent_of(EMBER_NET_CLOSE);
    ASSERT_EQ(cl.size(), 1u);
    EXPECT_EQ(cl[0].stream, s);
}

TEST_F(NetTest, CloseAfterWriteLingersUntilTheHostHasSentTheData) {
    uint32_t s;
    int64_t fd = accepted(&s);
    ASSERT_EQ(send(fd, std::string(50000, 'r')), 50000);
    host().clear_sent();
    close(fd);
    host().drain();
    // Not closed yet: the host still holds 50000 bytes. The write side ends.
    EXPECT_TRUE(host().sent_of(EMBER_NET_CLOSE).empty());
    ASSERT_EQ(host().sent_of(EMBER_NET_SHUTDOWN).size(), 1u);
    host().push(EMBER_NET_WINDOW, s, 30000);
    host().push(EMBER_NET_DATA, s, 0, "ignored");
    int64_t other = socket4(SOCK_NONBLOCK);
    poll1(other, POLLIN);  // any net syscall processes the rx ring
    host().drain();
    EXPECT_TRUE(host().sent_of(EMBER_NET_CLOSE).empty());
    host().push(EMBER_NET_WINDOW, s, 20000);
    poll1(other, POLLIN);
    host().drain();
    auto cl = host().sent_of(EMBER_NET_CLOSE);
    ASSERT_EQ(cl.size(), 1u);
    EXPECT_EQ(cl[0].stream, s);
}

TEST_F(NetTest, LingerZeroClosesAtOnceEvenWithDataInFlight) {
    uint32_t s;
    int64_t fd = accepted(&s);
    linger lg{1, 0};
    ASSERT_EQ(
        sys(SYS_setsockopt, static_cast<uint64_t>(fd), SOL_SOCKET, SO_LINGER, P(&lg), sizeof lg),
        0);
    ASSERT_EQ(send(fd, "abc"), 3);
    host().clear_sent();
    close(fd);
    host().drain();
    EXPECT_EQ(host().sent_of(EMBER_NET_CLOSE).size(), 1u);
}

TEST_F(NetTest, ReadvAndRecvmsgFillLaterSegmentsOnlyFromWhatIsBuffered) {
    uint32_t s;
    int64_t fd = accepted(&s);
    host().push(EMBER_NET_DATA, s, 0, "0123456789");
    char a[10], b[10];
    iovec v[2] = {{a, sizeof a}, {b, sizeof b}};
    // Segment one fills exactly; segment two must not block (nothing more).
    EXPECT_EQ(sys(SYS_readv, static_cast<uint64_t>(fd), P(v), 2), 10);
    host().push(EMBER_NET_DATA, s, 0, "abcdefghijklmno");
    msghdr m{};
    m.msg_iov = v;
    m.msg_iovlen = 2;
    m.msg_namelen = 99;
    EXPECT_EQ(sys(SYS_recvmsg, static_cast<uint64_t>(fd), P(&m), 0), 15);
    EXPECT_EQ(std::string(a, 10) + std::string(b, 5), "abcdefghijklmno");
    EXPECT_EQ(m.msg_namelen, 0u);
    // sendmsg and writev gather in order.
    char h[] = "head:", t[] = "tail";
    iovec w[2] = {{h, 5}, {t, 4}};
    msghdr sm{};
    sm.msg_iov = w;
    sm.msg_iovlen = 2;
    EXPECT_EQ(sys(SYS_sendmsg, static_cast<uint64_t>(fd), P(&sm), MSG_NOSIGNAL), 9);
    EXPECT_EQ(sys(SYS_writev, static_cast<uint64_t>(fd), P(w), 2), 9);
    host().drain();
    EXPECT_EQ(host().data_of(s), "head:tailhead:tail");
}

TEST_F(NetTest, SendfileCopiesAFileIntoTheStream) {
    uint32_t s;
    int64_t fd = accepted(&s);
    int64_t in = open("/etc/big", O_RDONLY);
    ASSERT_GE(in, 0);
    off_t off = 100;
    EXPECT_EQ(
        sys(SYS_sendfile, static_cast<uint64_t>(fd), static_cast<uint64_t>(in), P(&off), 9000),
        9000);
    EXPECT_EQ(off, 9100);
    host().drain();
    EXPECT_TRUE(host().data_of(s) == fstest::big_pattern(10000).substr(100, 9000));
}

// ---- connect -------------------------------------------------------------------------------

TEST_F(NetTest, BlockingConnectSendsConnectAndWaitsForTheResult) {
    int64_t fd = socket4();
    host().each_wait = [] {
        auto c = host().sent_of(EMBER_NET_CONNECT);
        if (!c.empty()) host().later(EMBER_NET_CONNECTED, c.back().stream, 0);
        host().each_wait = nullptr;
    };
    ASSERT_EQ(connect4(fd, 9999), 0);
    auto c = host().sent_of(EMBER_NET_CONNECT);
    ASSERT_EQ(c.size(), 1u);
    ASSERT_EQ(c[0].data.size(), sizeof(ember_net_addr));
    ember_net_addr a;
    memcpy(&a, c[0].data.data(), sizeof a);
    EXPECT_EQ(a.family, EMBER_NET_AF_INET);
    EXPECT_EQ(a.port, 9999);
    EXPECT_EQ(a.addr[0], 127);
    EXPECT_EQ(a.addr[3], 1);
    EXPECT_LT(c[0].stream, EMBER_NET_HOST_ID);
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    ASSERT_EQ(sys(SYS_getpeername, static_cast<uint64_t>(fd), P(&peer), P(&len)), 0);
    EXPECT_EQ(ntohs(peer.sin_port), 9999);
    EXPECT_EQ(send(fd, "GET /"), 5);
    host().drain();
    EXPECT_EQ(host().data_of(c[0].stream), "GET /");
    EXPECT_EQ(connect4(fd, 9999), -EISCONN);
}

TEST_F(NetTest, RefusedConnectReturnsTheErrorAndClosesTheStream) {
    int64_t fd = socket4();
    host().each_wait = [] {
        auto c = host().sent_of(EMBER_NET_CONNECT);
        if (!c.empty()) host().later(EMBER_NET_CONNECTED, c.back().stream, ECONNREFUSED);
        host().each_wait = nullptr;
    };
    EXPECT_EQ(connect4(fd, 1), -ECONNREFUSED);
    host().drain();
    auto cl = host().sent_of(EMBER_NET_CLOSE);
    ASSERT_EQ(cl.size(), 1u);
    EXPECT_EQ(cl[0].stream, host().sent_of(EMBER_NET_CONNECT)[0].stream);
}

TEST_F(NetTest, NonBlockingConnectIsInProgressThenWritableWithSoError) {
    int64_t ok = socket4(SOCK_NONBLOCK), bad = socket4(SOCK_NONBLOCK);
    EXPECT_EQ(connect4(ok, 80), -EINPROGRESS);
    EXPECT_EQ(connect4(ok, 80), -EALREADY);
    EXPECT_EQ(connect4(bad, 81), -EINPROGRESS);
    EXPECT_EQ(poll1(ok, POLLOUT), 0u);
    EXPECT_EQ(send(ok, "x"), -EAGAIN);
    host().drain();
    auto c = host().sent_of(EMBER_NET_CONNECT);
    ASSERT_EQ(c.size(), 2u);
    host().push(EMBER_NET_CONNECTED, c[0].stream, 0);
    host().push(EMBER_NET_CONNECTED, c[1].stream, ECONNREFUSED);
    EXPECT_EQ(poll1(ok, POLLOUT), static_cast<uint32_t>(POLLOUT));
    EXPECT_EQ(poll1(bad, POLLOUT) & (POLLOUT | POLLERR), static_cast<uint32_t>(POLLOUT | POLLERR));
    int err = -1;
    socklen_t len = sizeof err;
    ASSERT_EQ(
        sys(SYS_getsockopt, static_cast<uint64_t>(ok), SOL_SOCKET, SO_ERROR, P(&err), P(&len)), 0);
    EXPECT_EQ(err, 0);
    ASSERT_EQ(
        sys(SYS_getsockopt, static_cast<uint64_t>(bad), SOL_SOCKET, SO_ERROR, P(&err), P(&len)), 0);
    EXPECT_EQ(err, ECONNREFUSED);
    ASSERT_EQ(
        sys(SYS_getsockopt, static_cast<uint64_t>(bad), SOL_SOCKET, SO_ERROR, P(&err), P(&len)), 0);
    EXPECT_EQ(err, 0);  // reading SO_ERROR clears it
    EXPECT_EQ(connect4(ok, 80), -EISCONN);
}

TEST_F(NetTest, Ipv6ConnectToAMappedAddressIsCarriedAsIpv4) {
    int64_t fd = sys(SYS_socket, AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in6 a6{};
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons(5000);
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &a6.sin6_addr);
    EXPECT_EQ(sys(SYS_connect, static_cast<uint64_t>(fd), P(&a6), sizeof a6), -EINPROGRESS);
    host().drain();
    ember_net_addr a;
    memcpy(&a, host().sent_of(EMBER_NET_CONNECT)[0].data.data(), sizeof a);
    EXPECT_EQ(a.family, EMBER_NET_AF_INET);
    EXPECT_EQ(a.addr[0], 127);
}

TEST_F(NetTest, StreamsBeyondTheInstanceCapGetEnobufs) {
    uint32_t lid;
    listener(80, &lid);
    // Queued connections count: the host carries them already.
    for (uint32_t i = 0; i < EMBER_NET_MAX_STREAMS - 10; i++) deliver_accept(lid);
    int64_t probe = socket4(SOCK_NONBLOCK);
    poll1(probe, POLLIN);
    int opened = 0;
    int64_t r;
    for (;;) {
        int64_t fd = socket4(SOCK_NONBLOCK);
        ASSERT_GE(fd, 0);
        r = connect4(fd, 81);  // not the guest's own listener (that would stay in the guest)
        if (r != -EINPROGRESS) break;
        opened++;
    }
    EXPECT_EQ(opened, 10);
    EXPECT_EQ(r, -ENOBUFS);
}

TEST_F(NetTest, ConnectToOwnListenerStaysInTheGuest) {
    uint32_t lid;
    const int64_t l = listener(8080, &lid);
    host().drain();
    host().clear_sent();
    const int64_t c = socket4();
    ASSERT_EQ(connect4(c, 8080), 0);
    const int64_t s = sys(SYS_accept4, static_cast<uint64_t>(l), 0, 0, 0);
    ASSERT_GE(s, 0);
    EXPECT_EQ(send(c, "ping"), 4);
    EXPECT_EQ(recv(s, 16), "ping");
    EXPECT_EQ(send(s, "pong!"), 5);
    EXPECT_EQ(sys(SYS_shutdown, static_cast<uint64_t>(s), SHUT_WR), 0);
    EXPECT_EQ(recv(c, 16), "pong!");
    EXPECT_EQ(recv(c, 16), "");  // end of file
    // Alone, a read that only this thread could satisfy fails instead of hanging.
    EXPECT_EQ(recv(s, 16), fstest::errno_text(-EDEADLK));
    host().drain();
    EXPECT_TRUE(host().sent_of(EMBER_NET_CONNECT).empty());
    EXPECT_TRUE(host().sent_of(EMBER_NET_DATA).empty());
    // Another port of the same address still goes to the host.
    const int64_t other = socket4(SOCK_NONBLOCK);
    EXPECT_EQ(connect4(other, 8081), -EINPROGRESS);
    host().drain();
    EXPECT_EQ(host().sent_of(EMBER_NET_CONNECT).size(), 1u);
}

TEST_F(NetTest, UnixSocketpairCarriesBytesAndDatagrams) {
    int sv[2];
    ASSERT_EQ(sys(SYS_socketpair, AF_UNIX, SOCK_DGRAM, 0, P(sv)), 0);
    EXPECT_EQ(send(sv[0], "one"), 3);
    EXPECT_EQ(send(sv[0], "second"), 6);
    EXPECT_EQ(recv(sv[1], 64), "one");
    EXPECT_EQ(recv(sv[1], 2), "se");  // the rest of the datagram is dropped
    EXPECT_EQ(recv(sv[1], 64, MSG_DONTWAIT), fstest::errno_text(-EAGAIN));
    int st[2];
    ASSERT_EQ(sys(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, P(st)), 0);
    EXPECT_EQ(send(st[0], "ab"), 2);
    EXPECT_EQ(send(st[0], "cd"), 2);
    EXPECT_EQ(recv(st[1], 64), "abcd");
    EXPECT_EQ(sys(SYS_close, static_cast<uint64_t>(st[0])), 0);
    EXPECT_EQ(recv(st[1], 64), "");
    EXPECT_EQ(send(st[1], "x", MSG_NOSIGNAL), -EPIPE);
    host().drain();
    EXPECT_TRUE(host().sent_of(EMBER_NET_DATA).empty());
}

// ---- AF_UNIX: malformed names and control messages -----------------------------------

struct Cmsg {
    uint64_t len;
    int32_t level, type;
    int32_t fds[4];
};

int64_t send_cmsg(int64_t fd, Cmsg* c, uint64_t controllen) {
    char byte = 'x';
    iovec iov{&byte, 1};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = c;
    m.msg_controllen = controllen;
    return shim::call(SYS_sendmsg, static_cast<uint64_t>(fd), P(&m), 0, 0, 0, 0);
}

TEST_F(NetTest, UnixControlMessageWithBadLengthOrFdSendsNothing) {
    int sv[2];
    ASSERT_EQ(sys(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, P(sv)), 0);
    Cmsg c{};
    c.level = SOL_SOCKET;
    c.type = SCM_RIGHTS;
    c.fds[0] = sv[0];
    c.len = 8;  // shorter than the header
    EXPECT_EQ(send_cmsg(sv[0], &c, sizeof c), -EINVAL);
    c.len = sizeof c + 8;  // past the control buffer
    EXPECT_EQ(send_cmsg(sv[0], &c, sizeof c), -EINVAL);
    c.len = 16 + 4;
    c.fds[0] = 999;  // not open
    EXPECT_EQ(send_cmsg(sv[0], &c, sizeof c), -EBADF);
    c.len = 16;  // SCM_RIGHTS with no fd
    EXPECT_EQ(send_cmsg(sv[0], &c, sizeof c), -EINVAL);
    c.type = 99;  // unknown SOL_SOCKET message
    c.len = 20;
    EXPECT_EQ(send_cmsg(sv[0], &c, sizeof c), -EINVAL);
    EXPECT_EQ(recv(sv[1], 8, MSG_DONTWAIT), fstest::errno_text(-EAGAIN));
    // A well-formed one goes through, and the passed fd arrives.
    c.type = SCM_RIGHTS;
    c.fds[0] = sv[0];
    EXPECT_EQ(send_cmsg(sv[0], &c, 16 + 8), 1);
    char byte;
    iovec iov{&byte, 1};
    Cmsg in{};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = &in;
    m.msg_controllen = sizeof in;
    EXPECT_EQ(sys(SYS_recvmsg, static_cast<uint64_t>(sv[1]), P(&m), 0), 1);
    EXPECT_EQ(in.type, SCM_RIGHTS);
    EXPECT_EQ(in.len, 20u);
    EXPECT_GE(sys(SYS_fcntl, static_cast<uint64_t>(in.fds[0]), F_GETFD), 0);
}

TEST_F(NetTest, UnixBindRejectsBadAddressesAndMakesASocketNode) {
    const int64_t fd = sys(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un a{};
    a.sun_family = AF_INET;
    strcpy(a.sun_path, "/tmp/s");
    EXPECT_EQ(sys(SYS_bind, static_cast<uint64_t>(fd), P(&a), sizeof a), -EINVAL);
    a.sun_family = AF_UNIX;
    EXPECT_EQ(sys(SYS_bind, static_cast<uint64_t>(fd), P(&a), 1), -EINVAL);
    EXPECT_EQ(sys(SYS_bind, static_cast<uint64_t>(fd), P(&a), sizeof a + 1), -EINVAL);
    strcpy(a.sun_path, "/tmp/missing-dir/s");
    EXPECT_EQ(sys(SYS_bind, static_cast<uint64_t>(fd), P(&a), sizeof a), -ENOENT);
    strcpy(a.sun_path, "/tmp/s");
    ASSERT_EQ(sys(SYS_bind, static_cast<uint64_t>(fd), P(&a), sizeof a), 0);
    EXPECT_EQ(sys(SYS_bind, static_cast<uint64_t>(fd), P(&a), sizeof a), -EINVAL);  // bound
    struct stat st;
    ASSERT_EQ(sys(SYS_stat, P("/tmp/s"), P(&st)), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(open("/tmp/s", O_RDWR), -ENXIO);
    // A client of the wrong type, and one of the right type before listen().
    const int64_t d = sys(SYS_socket, AF_UNIX, SOCK_DGRAM, 0);
    EXPECT_EQ(sys(SYS_connect, static_cast<uint64_t>(d), P(&a), sizeof a), -EPROTOTYPE);
    const int64_t c = sys(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    EXPECT_EQ(sys(SYS_connect, static_cast<uint64_t>(c), P(&a), sizeof a), -ECONNREFUSED);
    ASSERT_EQ(sys(SYS_listen, static_cast<uint64_t>(fd), 0), 0);
    EXPECT_EQ(sys(SYS_connect, static_cast<uint64_t>(c), P(&a), sizeof a), 0);
    // Backlog 0 holds one connection; the next nonblocking connect is EAGAIN.
    const int64_t c2 = sys(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    EXPECT_EQ(sys(SYS_connect, static_cast<uint64_t>(c2), P(&a), sizeof a), -EAGAIN);
    // Closing the listener resets the connection nobody accepted.
    EXPECT_EQ(sys(SYS_close, static_cast<uint64_t>(fd)), 0);
    EXPECT_EQ(recv(c, 8), fstest::errno_text(-ECONNRESET));
    EXPECT_EQ(recv(c, 8), "");
}

TEST_F(NetTest, UnixTinyMessagesAreBoundedByTheirCostNotOnlyTheirBytes) {
    int sv[2];
    ASSERT_EQ(sys(SYS_socketpair, AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, P(sv)), 0);
    int sent = 0;
    while (send(sv[0], "x") == 1) sent++;
    // 212,992 bytes at 1 + 256 each: far fewer than 212,992 messages.
    EXPECT_GT(sent, 500);
    EXPECT_LT(sent, 1000);
    EXPECT_EQ(poll1(sv[0], POLLOUT), 0u);
    EXPECT_EQ(recv(sv[1], 4), "x");
    EXPECT_EQ(poll1(sv[0], POLLOUT), static_cast<uint32_t>(POLLOUT));
}

TEST_F(NetTest, SocketsBeyondTheFdTableGetEmfile) {
    int64_t r = 0;
    int n = 0;
    while ((r = socket4()) >= 0) n++;
    EXPECT_EQ(r, -EMFILE);
    EXPECT_EQ(n, 1024 - 3);
}

// ---- options -----------------------------------------------------------------------------

TEST_F(NetTest, SocketOptionsAreStoredAndReadBack) {
    int64_t fd = socket4();
    auto set = [&](int level, int name, int v) {
        return sys(SYS_setsockopt, static_cast<uint64_t>(fd), static_cast<uint64_t>(level),
                   static_cast<uint64_t>(name), P(&v), sizeof v);
    };
    auto get = [&](int level, int name) {
        int v = -12345;
        socklen_t len = sizeof v;
        int64_t r = sys(SYS_getsockopt, static_cast<uint64_t>(fd), static_cast<uint64_t>(level),
                        static_cast<uint64_t>(name), P(&v), P(&len));
        return r < 0 ? static_cast<int>(r) : v;
    };
    EXPECT_EQ(get(SOL_SOCKET, SO_TYPE), SOCK_STREAM);
    EXPECT_EQ(get(SOL_SOCKET, SO_DOMAIN), AF_INET);
    EXPECT_EQ(get(SOL_SOCKET, SO_PROTOCOL), IPPROTO_TCP);
    EXPECT_EQ(get(SOL_SOCKET, SO_ACCEPTCONN), 0);
    EXPECT_EQ(set(SOL_SOCKET, SO_REUSEADDR, 5), 0);
    EXPECT_EQ(get(SOL_SOCKET, SO_REUSEADDR), 1);
    EXPECT_EQ(set(SOL_SOCKET, SO_KEEPALIVE, 1), 0);
    EXPECT_EQ(get(SOL_SOCKET, SO_KEEPALIVE), 1);
    EXPECT_EQ(set(IPPROTO_TCP, TCP_NODELAY, 1), 0);
    EXPECT_EQ(get(IPPROTO_TCP, TCP_NODELAY), 1);
    EXPECT_EQ(set(SOL_SOCKET, SO_RCVBUF, 100000), 0);
    EXPECT_EQ(get(SOL_SOCKET, SO_RCVBUF), 200000);  // doubled, like Linux
    EXPECT_EQ(set(SOL_SOCKET, SO_SNDBUF, 1), 0);
    EXPECT_EQ(get(SOL_SOCKET, SO_SNDBUF), 2304);
    EXPECT_EQ(set(IPPROTO_TCP, TCP_KEEPIDLE, 30), 0);
    EXPECT_EQ(get(IPPROTO_TCP, TCP_KEEPIDLE), 30);
    EXPECT_EQ(set(IPPROTO_TCP, TCP_KEEPCNT, 0), -EINVAL);
    EXPECT_EQ(get(SOL_SOCKET, SO_ERROR), 0);
    EXPECT_EQ(set(SOL_SOCKET, 9999, 1), -ENOPROTOOPT);
    EXPECT_EQ(get(SOL_SOCKET, 9999), -ENOPROTOOPT);
    EXPECT_EQ(set(IPPROTO_IPV6, IPV6_V6ONLY, 1), -ENOPROTOOPT);  // an IPv4 socket
    int v = 1;
    EXPECT_EQ(sys(SYS_setsockopt, static_cast<uint64_t>(fd), SOL_SOCKET, SO_REUSEADDR, P(&v), 2),
              -EINVAL);
    linger lg{1, 7};
    ASSERT_EQ(
        sys(SYS_setsockopt, static_cast<uint64_t>(fd), SOL_SOCKET, SO_LINGER, P(&lg), sizeof lg),
        0);
    linger back{};
    socklen_t len = sizeof back;
    ASSERT_EQ(
        sys(SYS_getsockopt, static_cast<uint64_t>(fd), SOL_SOCKET, SO_LINGER, P(&back), P(&len)),
        0);
    EXPECT_EQ(back.l_onoff, 1);
    EXPECT_EQ(back.l_linger, 7);
    timeval tv{1, 500000};
    ASSERT_EQ(
        sys(SYS_setsockopt, static_cast<uint64_t>(fd), SOL_SOCKET, SO_RCVTIMEO, P(&tv), sizeof tv),
        0);
    timeval tb{};
    len = sizeof tb;
    ASSERT_EQ(
        sys(SYS_getsockopt, static_cast<uint64_t>(fd), SOL_SOCKET, SO_RCVTIMEO, P(&tb), P(&len)),
        0);
    EXPECT_EQ(tb.tv_sec, 1);
    EXPECT_EQ(tb.tv_usec, 500000);
}

TEST_F(NetTest, ReceiveTimeoutEndsABlockingRead) {
    uint32_t s;
    int64_t fd = accepted(&s);
    timeval tv{0, 200000};
    ASSERT_EQ(
        sys(SYS_setsockopt, static_cast<uint64_t>(fd), SOL_SOCKET, SO_RCVTIMEO, P(&tv), sizeof tv),
        0);
    const int64_t t0 = shim::clock_ns();
    EXPECT_EQ(recv(fd, 10), fstest::errno_text(-EAGAIN));
    EXPECT_GE(shim::clock_ns() - t0, 200000000);
}

// ---- the rings themselves -----------------------------------------------------------------

TEST_F(NetTest, MalformedRxRecordsAreDroppedAndLogged) {
    uint32_t s;
    int64_t fd = accepted(&s);
    // A header that claims more payload than the ring holds.
    ember_ring* r = host().rx_ring();
    ember_net_rec bad{EMBER_NET_DATA, 0, s, 0xfffffff0u, 0};
    memcpy(host().rx() + EMBER_RING_DATA + r->head % FakeHost::kRxCap, &bad, sizeof bad);
    r->head += 32;
    fstest::g_log.clear();
    EXPECT_EQ(recv(fd, 10, MSG_DONTWAIT), fstest::errno_text(-EAGAIN));
    EXPECT_EQ(r->tail, r->head);
    ASSERT_FALSE(fstest::g_log.empty());
    EXPECT_NE(fstest::g_log.back().find("rx ring"), std::string::npos);
    // Counters out of range are reset too, and the ring keeps working.
    r->head = r->tail + FakeHost::kRxCap + 16;
    EXPECT_EQ(recv(fd, 10, MSG_DONTWAIT), fstest::errno_text(-EAGAIN));
    EXPECT_EQ(r->tail, r->head);
    host().push(EMBER_NET_DATA, s, 0, "fine");
    EXPECT_EQ(recv(fd, 10), "fine");
}

TEST_F(NetTest, RecordsForUnknownStreamsAreIgnored) {
    host().push(EMBER_NET_DATA, 4242, 0, "nobody");
    host().push(EMBER_NET_WINDOW, 4242, 99);
    host().push(EMBER_NET_CLOSE, 4242, ECONNRESET);
    host().push(77, 1, 2, "an unknown record type");
    uint32_t s;
    int64_t fd = accepted(&s);
    host().push(EMBER_NET_DATA, s, 0, "mine");
    EXPECT_EQ(recv(fd, 10), "mine");
}

}  // namespace
}  // namespace nettest
