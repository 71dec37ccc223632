// Streaming through the gateway, both ways, with examples/http_stream.c as
// the service: a 100 MiB chunked response with the gateway's memory
// bounded, server-sent events that arrive before the response ends, an
// Upgrade relayed as a raw two-way stream, and request bodies streamed to
// the instance (chunked and with a large Content-Length).
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "e2e_test.h"

namespace ember::e2e {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// VmHWM or VmRSS of a process, in KiB (0 when unknown).
uint64_t status_kib(pid_t pid, const std::string& key) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(f, line);)
        if (line.rfind(key + ":", 0) == 0)
            return std::strtoull(line.c_str() + key.size() + 1, nullptr, 10);
    return 0;
}

// Reads one chunk of what the peer sends (up to 64 KiB), waiting at most
// timeout_ms; "" at EOF or timeout (*eof tells which).
std::string read_some(int fd, int timeout_ms, bool* eof) {
    pollfd p{fd, POLLIN, 0};
    *eof = false;
    if (::poll(&p, 1, timeout_ms) != 1) return "";
    char buf[65536];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
        *eof = true;
        return "";
    }
    return std::string(buf, static_cast<size_t>(n));
}

class GatewayStreamTest : public E2eTest {
  protected:
    void SetUp() override {
        E2eTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        auto r = d_->deploy("s", example_path("http_stream"));
        ASSERT_TRUE(r.status == 200 || r.status == 201) << r.status << " " << r.body << r.error;
    }
    // A connection with `request` sent; asserts it connected.
    int open_with(const std::string& request) {
        const int fd = connect_to(d_->gateway_port());
        EXPECT_GE(fd, 0);
        if (fd >= 0) {
            EXPECT_TRUE(send_all(fd, request));
        }
        return fd;
    }
};

// Decodes a chunked body as it arrives; counts its bytes and checks that
// each is `fill`.
struct ChunkCounter {
    char fill;
    std::string pending;
    uint64_t bytes = 0;
    uint64_t wrong = 0;
    bool done = false;
    uint64_t left = 0;  // of the current chunk's data (+2 for its CRLF)
    void feed(const std::string& in) {
        pending += in;
        size_t off = 0;
        while (!done) {
            if (left > 0) {
                const size_t n = std::min<size_t>(left, pending.size() - off);
                if (n == 0) break;
                for (size_t i = 0; i < n; ++i) {
                    const bool data = left - i > 2;
                    if (data) {
                        ++bytes;
                        if (pending[off + i] != fill) ++wrong;
                    }
                }
                left -= n;
                off += n;
                continue;
            }
            const size_t eol = pending.find("\r\n", off);
            if (eol == std::string::npos) break;
            const uint64_t size = std::strtoull(pending.c_str() + off, nullptr, 16);
            off = eol + 2;
            if (size == 0) {
                done = true;
                break;
            }
            left = size + 2;
        }
        pending.erase(0, off);
    }
};

TEST_F(GatewayStreamTest, A100MiBChunkedResponseStreamsWithBoundedGatewayMemory) {
    ASSERT_EQ(d_->get("s", "/").body, "http_stream\n");
    const pid_t gw = helper_pid(d_->pid(), "gateway");
    ASSERT_GT(gw, 0);
    const uint64_t hwm_before = status_kib(gw, "VmHWM");
    const int fd = open_with("GET /chunked/100 HTTP/1.1\r\nHost: s.localhost\r\n\r\n");
    ASSERT_GE(fd, 0);
    std::string head;
    ChunkCounter body{'x', {}};
    const auto t0 = Clock::now();
    bool eof = false;
    while (!body.done && !eof && ms_since(t0) < 60000) {
        std::string got = read_some(fd, 10000, &eof);
        if (got.empty()) {
            if (!eof) break;
            continue;
        }
        if (head.find("\r\n\r\n") == std::string::npos) {
            head += got;
            const size_t e = head.find("\r\n\r\n");
            if (e == std::string::npos) continue;
            got = head.substr(e + 4);
            head.resize(e + 4);
        }
        body.feed(got);
    }
    ::close(fd);
    const double secs = ms_since(t0) / 1e3;
    EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << head;
    EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos) << head;
    EXPECT_TRUE(body.done) << "the chunked body did not end";
    EXPECT_EQ(body.bytes, 100ull << 20);
    EXPECT_EQ(body.wrong, 0u);
    const uint64_t hwm_after = status_kib(gw, "VmHWM");
    std::fprintf(stderr, "100 MiB in %.2f s (%.0f MiB/s); gateway VmHWM %lu -> %lu KiB\n", secs,
                 100 / secs, static_cast<unsigned long>(hwm_before),
                 static_cast<unsigned long>(hwm_after));
    // Buffered whole, the response alone would be 100 MiB.
    EXPECT_LT(hwm_after, hwm_before + (24 << 10)) << "the gateway's memory grew with the response";
}

TEST_F(GatewayStreamTest, ServerSentEventsArriveBeforeTheResponseEnds) {
    const int fd = open_with("GET /sse/4/300 HTTP/1.1\r\nHost: s.localhost\r\n\r\n");
    ASSERT_GE(fd, 0);
    const auto t0 = Clock::now();
    std::string all;
    std::vector<double> seen;  // when "data: i" arrived, ms
    bool eof = false;
    while (!eof && ms_since(t0) < 20000) {
        const std::string got = read_some(fd, 5000, &eof);
        if (got.empty() && !eof) break;
        all += got;
        while (all.find("data: " + std::to_string(seen.size()) + "\n\n") != std::string::npos)
            seen.push_back(ms_since(t0));
        if (all.find("\r\n0\r\n\r\n") != std::string::npos) break;
    }
    const double t_end = ms_since(t0);
    ::close(fd);
    EXPECT_NE(all.find("Content-Type: text/event-stream"), std::string::npos) << all;
    ASSERT_EQ(seen.size(), 4u) << all;
    for (size_t i = 0; i < seen.size(); ++i)
        std::fprintf(stderr, "event %zu at %.1f ms\n", i, seen[i]);
    std::fprintf(stderr, "end at %.1f ms\n", t_end);
    // 900 ms of delays in the server: the first event must not wait for them.
    EXPECT_LT(seen[0], seen[3] - 600) << "events were held back until the end";
    EXPECT_GT(seen[3] - seen[2], 150);
}

TEST_F(GatewayStreamTest, AnUpgradeIsRelayedAsARawTwoWayStream) {
    const int fd = open_with(
        "GET /ws HTTP/1.1\r\nHost: s.localhost\r\nConnection: Upgrade\r\n"
        "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n");
    ASSERT_GE(fd, 0);
    const std::string head = read_until_contains(fd, "\r\n\r\n", 10000);
    ASSERT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
    EXPECT_NE(head.find("Upgrade: echo"), std::string::npos) << head;
    std::string rest = head.substr(head.find("\r\n\r\n") + 4);
    for (int i = 0; i < 3; ++i) {
        const std::string msg = "\x81\x05hello-" + std::to_string(i) + std::string(1, '\0');
        ASSERT_TRUE(send_all(fd, msg));
        rest += read_until_contains(fd, msg, 5000);
        EXPECT_NE(rest.find(msg), std::string::npos) << "round " << i;
        rest.clear();
        // The stream stays open between messages (no request deadline).
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    ::shutdown(fd, SHUT_WR);
    EXPECT_EQ(read_until_close(fd, 5000), "");
    ::close(fd);
    EXPECT_EQ(d_->get("s", "/").status, 200);
}

TEST_F(GatewayStreamTest, RequestBodiesStreamToTheInstance) {
    std::string body(3 << 20, '\0');
    uint64_t sum = 0;
    for (size_t i = 0; i < body.size(); ++i) {
        body[i] = static_cast<char>('a' + i % 26);
        sum += static_cast<unsigned char>(body[i]);
    }
    const std::string want = std::to_string(body.size()) + " " + std::to_string(sum) + "\n";
    // With a Content-Length larger than what the gateway reads whole.
    auto r = http_request(d_->gateway_port(), "POST", "/", body, {{"Host", "s.localhost"}});
    EXPECT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.body, want);
    // Chunked, in pieces with pauses: relayed as they come.
    const int fd =
        open_with("POST /up HTTP/1.1\r\nHost: s.localhost\r\nTransfer-Encoding: chunked\r\n\r\n");
    ASSERT_GE(fd, 0);
    for (size_t off = 0; off < body.size(); off += 1 << 20) {
        char size[32];
        std::snprintf(size, sizeof size, "%x\r\n", 1 << 20);
        ASSERT_TRUE(send_all(fd, size + body.substr(off, 1 << 20) + "\r\n"));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(send_all(fd, "0\r\n\r\n"));
    const std::string got = read_until_contains(fd, want, 20000);
    ::close(fd);
    EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
    EXPECT_NE(got.find("\r\n\r\n" + want), std::string::npos) << got;
}

TEST_F(GatewayStreamTest, ALargeResponseWithALengthStreamsAndKeepsTheConnection) {
    const int fd = open_with(
        "GET /length/2048 HTTP/1.1\r\nHost: s.localhost\r\n\r\n"
        "GET / HTTP/1.1\r\nHost: s.localhost\r\n\r\n");
    ASSERT_GE(fd, 0);
    const std::string got = read_until_contains(fd, "http_stream\n", 20000);
    ::close(fd);
    const size_t e = got.find("\r\n\r\n");
    ASSERT_NE(e, std::string::npos) << got.substr(0, 200);
    EXPECT_NE(got.find("Content-Length: 2097152"), std::string::npos) << got.substr(0, e);
    EXPECT_EQ(got.substr(e + 4, 2 << 20), std::string(2 << 20, 'y'));
    EXPECT_NE(got.find("HTTP/1.1 200", e + 4 + (2 << 20)), std::string::npos)
        << "the second request on the connection got no answer";
}

}  // namespace
}  // namespace ember::e2e
