// net_test.cpp - sockets carried by the host, end to end: the example HTTP
// servers run in microVMs published with -p, and this test speaks plain
// HTTP/1.1 to them over 127.0.0.1; net_client and net_flood test egress.
// Every socket here has a receive/send timeout, and every ember-vm a
// --timeout, so a broken build fails instead of hanging.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "test_env.h"

extern char** environ;

namespace ember::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
constexpr int kMaxStreams = 1024;  // EMBER_NET_MAX_STREAMS

// ---- plain sockets -------------------------------------------------------------------

void set_timeouts(int fd, int seconds) {
    timeval tv{seconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// A connected socket (blocking, 20 s timeouts), or -1. rcvbuf > 0: a small
// receive buffer (set before connecting, so the window is small from the start).
int dial(uint16_t port, int rcvbuf = 0) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    set_timeouts(fd, 20);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

bool send_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += static_cast<size_t>(n);
    }
    return true;
}

// Reads HTTP/1.1 responses off one connection (keeps the bytes that follow).
class Reader {
  public:
    explicit Reader(int fd) : fd_(fd) {}
    struct Response {
        int status = 0;
        std::string headers, body;
        bool ok = false;  // a complete response arrived
    };
    Response next() {
        Response r;
        size_t end;
        while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
            if (!fill()) return r;
        r.headers = buf_.substr(0, end + 2);
        buf_.erase(0, end + 4);
        if (sscanf(r.headers.c_str(), "HTTP/1.1 %d", &r.status) != 1) return r;
        size_t len = 0;
        auto cl = r.headers.find("Content-Length: ");
        if (cl != std::string::npos) len = std::stoull(r.headers.substr(cl + 16));
        while (buf_.size() < len)
            if (!fill()) return r;
        r.body = buf_.substr(0, len);
        buf_.erase(0, len);
        r.ok = true;
        return r;
    }
    // Reads until the peer closes; true at a clean EOF with nothing left over.
    bool at_eof() {
        while (fill()) {
        }
        return eof_ && buf_.empty();
    }

  private:
    bool fill() {
        char tmp[65536];
        ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
        if (n <= 0) {
            eof_ = n == 0;
            return false;
        }
        buf_.append(tmp, static_cast<size_t>(n));
        return true;
    }
    int fd_;
    std::string buf_;
    bool eof_ = false;
};

std::string pattern(size_t n) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; i++) s[i] = static_cast<char>('a' + i % 26);
    return s;
}

std::string get(const std::string& path, bool close_after = false) {
    return "GET " + path + " HTTP/1.1\r\nHost: test\r\n" +
           (close_after ? "Connection: close\r\n" : "") + "\r\n";
}

std::string post(const std::string& body) {
    return "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
}

// ---- a microVM in the background ----------------------------------------------------------

class Vm {
  public:
    // Starts `ember-vm run ARGS...`; output goes to files in a temp dir.
    explicit Vm(const std::vector<std::string>& args) {
        out_ = dir_ / "stdout";
        err_ = dir_ / "stderr";
        std::vector<std::string> argv{ember_vm_path()};
        argv.insert(argv.end(), args.begin(), args.end());
        std::vector<char*> cargv;
        for (auto& a : argv) cargv.push_back(a.data());
        cargv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&fa, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (posix_spawn(&pid_, argv[0].c_str(), &fa, nullptr, cargv.data(), environ) != 0)
            pid_ = -1;
        posix_spawn_file_actions_destroy(&fa);
    }
    ~Vm() { stop(); }
    Vm(const Vm&) = delete;
    Vm& operator=(const Vm&) = delete;

    bool running() {
        if (pid_ <= 0 || reaped_) return false;
        int st;
        if (waitpid(pid_, &st, WNOHANG) == pid_) {
            reaped_ = true;
            status_ = st;
            return false;
        }
        return true;
    }
    // Waits for the VM to end by itself; false after `limit`.
    bool wait_exit(std::chrono::milliseconds limit) {
        const auto end = Clock::now() + limit;
        while (running()) {
            if (Clock::now() > end) return false;
            std::this_thread::sleep_for(10ms);
        }
        return true;
    }
    int exit_code() const { return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1; }
    // Ends the VM (SIGTERM, then SIGKILL) and returns its status.
    void stop() {
        if (!running()) return;
        kill(pid_, SIGTERM);
        if (!wait_exit(3s)) {
            kill(pid_, SIGKILL);
            wait_exit(5s);
        }
    }
    std::string out() const { return read_file(out_); }
    std::string err() const { return read_file(err_); }
    std::string describe() const { return "\n--- stdout:\n" + out() + "\n--- stderr:\n" + err(); }

  private:
    TempDir dir_;
    std::string out_, err_;
    pid_t pid_ = -1;
    bool reaped_ = false;
    int status_ = 0;
};

// An HTTP example server in a microVM, published on a free host port.
class Server {
  public:
    Server(const std::string& program, const std::vector<std::string>& extra = {})
        : port_(free_port()) {
        std::vector<std::string> args{"run",
                                      "--timeout",
                                      "90s",
                                      "--mem",
                                      "256M",
                                      "-p",
                                      "127.0.0.1:" + std::to_string(port_) + ":8080"};
        args.insert(args.end(), extra.begin(), extra.end());
        args.push_back(program);
        vm_ = std::make_unique<Vm>(args);
    }
    // Waits until the server answers GET / (at most 20 s).
    bool ready() {
        const auto end = Clock::now() + 20s;
        while (Clock::now() < end && vm_->running()) {
            int fd = dial(port_);
            if (fd >= 0) {
                set_timeouts(fd, 2);
                Reader rd(fd);
                bool ok = send_all(fd, get("/", true)) && rd.next().ok;
                close(fd);
                if (ok) return true;
            }
            std::this_thread::sleep_for(50ms);
        }
        return false;
    }
    uint16_t port() const { return port_; }
    Vm& vm() { return *vm_; }

  private:
    uint16_t port_;
    std::unique_ptr<Vm> vm_;
};

// A host TCP listener on 127.0.0.1 (the destination of the guest's egress).
// Answers every connection with a fixed HTTP response, or just holds it.
class HostListener {
  public:
    explicit HostListener(bool respond) : respond_(respond) {
        fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        listen(fd_, 4096);
        socklen_t len = sizeof a;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { loop(); });
    }
    ~HostListener() {
        stop_ = true;
        thread_.join();
        for (int c : held_) close(c);
        close(fd_);
    }
    uint16_t port() const { return port_; }
    int accepted() const { return accepted_; }
    std::string last_request() {
        std::lock_guard<std::mutex> g(mu_);
        return last_;
    }

  private:
    void loop() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 50) <= 0) continue;
            int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            accepted_++;
            if (!respond_) {
                held_.push_back(c);
                continue;
            }
            set_timeouts(c, 5);
            std::string req;
            char buf[4096];
            while (req.find("\r\n\r\n") == std::string::npos) {
                ssize_t n = recv(c, buf, sizeof buf, 0);
                if (n <= 0) break;
                req.append(buf, static_cast<size_t>(n));
            }
            {
                std::lock_guard<std::mutex> g(mu_);
                last_ = req;
            }
            send_all(c, "HTTP/1.0 200 OK\r\nContent-Length: 14\r\n\r\nhello, guest!\n");
            close(c);
        }
    }
    int fd_;
    uint16_t port_ = 0;
    bool respond_;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::vector<int> held_;
    std::mutex mu_;
    std::string last_;
    std::thread thread_;
};

// ---- the HTTP servers, both C libraries --------------------------------------------------

struct ServerKind {
    std::string libc, program;
};
std::string kind_name(const ::testing::TestParamInfo<ServerKind>& i) {
    return i.param.libc + "_" + i.param.program;
}

class HttpServerTest : public EmberTest, public ::testing::WithParamInterface<ServerKind> {
  protected:
    void SetUp() override {
        EmberTest::SetUp();
        if (IsSkipped()) return;
        server_ = std::make_unique<Server>(example_path(GetParam().libc, GetParam().program));
        ASSERT_TRUE(server_->ready()) << "the server never answered" << server_->vm().describe();
    }
    void TearDown() override {
        if (!server_) return;
        // The server must have survived the test.
        EXPECT_TRUE(server_->vm().running()) << server_->vm().describe();
        server_.reset();
    }
    uint16_t port() const { return server_->port(); }
    std::unique_ptr<Server> server_;
};

TEST_P(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
    int fd = dial(port());
    ASSERT_GE(fd, 0);
    Reader rd(fd);
    for (int i = 0; i < 50; i++) {
        const std::string path = i % 3 == 0   ? "/"
                                 : i % 3 == 1 ? "/size/" + std::to_string(i * 37)
                                              : "/nope";
        ASSERT_TRUE(send_all(fd, get(path)));
        auto r = rd.next();
        ASSERT_TRUE(r.ok) << "request " << i;
        if (i % 3 == 0) {
            EXPECT_EQ(r.status, 200);
            EXPECT_EQ(r.body, "Hello from Ember!\n");
        } else if (i % 3 == 1) {
            EXPECT_EQ(r.status, 200);
            EXPECT_EQ(r.body, pattern(static_cast<size_t>(i * 37)));
        } else {
            EXPECT_EQ(r.status, 404);
        }
    }
    close(fd);
}

TEST_P(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
    int fd = dial(port());
    ASSERT_GE(fd, 0);
    std::string batch;
    for (int i = 0; i < 30; i++)
        batch += i % 3 == 0   ? get("/size/" + std::to_string(100000 + i))
                 : i % 3 == 1 ? post("body " + std::to_string(i))
                              : get("/");
    ASSERT_TRUE(send_all(fd, batch));  // one write: all thirty in flight
    Reader rd(fd);
    for (int i = 0; i < 30; i++) {
        auto r = rd.next();
        ASSERT_TRUE(r.ok) << "response " << i;
        ASSERT_EQ(r.status, 200);
        if (i % 3 == 0)
            EXPECT_TRUE(r.body == pattern(static_cast<size_t>(100000 + i))) << "response " << i;
        else if (i % 3 == 1)
            EXPECT_EQ(r.body, "body " + std::to_string(i));
        else
            EXPECT_EQ(r.body, "Hello from Ember!\n");
    }
    close(fd);
}

TEST_P(HttpServerTest, TenMebibyteResponseAndRequestBodies) {
    constexpr size_t kSize = 10 << 20;
    int fd = dial(port());
    ASSERT_GE(fd, 0);
    Reader rd(fd);
    ASSERT_TRUE(send_all(fd, get("/size/" + std::to_string(kSize))));
    auto r = rd.next();
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.body.size(), kSize);
    EXPECT_TRUE(r.body == pattern(kSize)) << "the 10 MiB body differs";
    // The echo streams the body back while it arrives: send from a thread.
    std::string body(kSize, '\0');
    std::mt19937_64 rng(42);
    for (size_t i = 0; i < kSize; i += 8) {
        uint64_t v = rng();
        memcpy(&body[i], &v, 8);
    }
    bool sent = false;
    std::thread writer([&] { sent = send_all(fd, post(body)); });
    r = rd.next();
    writer.join();
    EXPECT_TRUE(sent);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.body.size(), kSize);
    EXPECT_TRUE(r.body == body) << "the echoed 10 MiB body differs";
    close(fd);
}

TEST_P(HttpServerTest, ClientsVanishingMidRequestDoNotHurtTheServer) {
    {
        int fd = dial(port());  // half a request line, then gone
        ASSERT_TRUE(send_all(fd, "GET /si"));
        close(fd);
    }
    {
        int fd = dial(port());  // headers promise a body that never comes
        ASSERT_TRUE(send_all(fd, "POST /x HTTP/1.1\r\nContent-Length: 100000\r\n\r\npartial"));
        close(fd);
    }
    {
        int fd = dial(port());  // a reset instead of a FIN, in the middle of a big response
        ASSERT_TRUE(send_all(fd, get("/size/5000000")));
        char tmp[1000];
        ASSERT_GT(recv(fd, tmp, sizeof tmp, 0), 0);
        linger lg{1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(fd);
    }
    {
        int fd = dial(port());  // connects and says nothing
        close(fd);
    }
    int fd = dial(port());
    ASSERT_GE(fd, 0);
    Reader rd(fd);
    ASSERT_TRUE(send_all(fd, get("/size/12345")));
    auto r = rd.next();
    ASSERT_TRUE(r.ok);
    EXPECT_TRUE(r.body == pattern(12345));
    close(fd);
}

TEST_P(HttpServerTest, ServerClosingFirstDeliversTheWholeResponse) {
    for (size_t size : {size_t{10}, size_t{3} << 20}) {
        int fd = dial(port());
        ASSERT_GE(fd, 0);
        Reader rd(fd);
        ASSERT_TRUE(send_all(fd, get("/size/" + std::to_string(size), /*close_after=*/true)));
        auto r = rd.next();
        ASSERT_TRUE(r.ok) << size;
        EXPECT_NE(r.headers.find("Connection: close"), std::string::npos);
        EXPECT_TRUE(r.body == pattern(size)) << size;
        EXPECT_TRUE(rd.at_eof()) << "the server did not close after " << size;
        close(fd);
    }
    // HTTP/1.0 without keep-alive: closed after one response too.
    int fd = dial(port());
    Reader rd(fd);
    ASSERT_TRUE(send_all(fd, "GET / HTTP/1.0\r\n\r\n"));
    EXPECT_TRUE(rd.next().ok);
    EXPECT_TRUE(rd.at_eof());
    close(fd);
}

TEST_P(HttpServerTest, HalfClosedClientStillGetsItsResponses) {
    int fd = dial(port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_all(fd, get("/") + get("/size/200000") + post("last")));
    ASSERT_EQ(shutdown(fd, SHUT_WR), 0);  // FIN after the requests
    Reader rd(fd);
    auto a = rd.next(), b = rd.next(), c = rd.next();
    ASSERT_TRUE(a.ok && b.ok && c.ok);
    EXPECT_EQ(a.body, "Hello from Ember!\n");
    EXPECT_TRUE(b.body == pattern(200000));
    EXPECT_EQ(c.body, "last");
    EXPECT_TRUE(rd.at_eof()) << "the server should close once the client is done";
    close(fd);
}

TEST_P(HttpServerTest, SlowReaderGetsTheWholeBody) {
    constexpr size_t kSize = 4 << 20;
    int fd = dial(port(), 16384);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_all(fd, get("/size/" + std::to_string(kSize))));
    // Nothing read for a while: the server's writes hit EAGAIN (epoll) or
    // block (blocking server) and must resume.
    std::this_thread::sleep_for(300ms);
    Reader rd(fd);
    auto r = rd.next();
    ASSERT_TRUE(r.ok);
    EXPECT_TRUE(r.body == pattern(kSize));
    close(fd);
}

INSTANTIATE_TEST_SUITE_P(Servers, HttpServerTest,
                         ::testing::Values(ServerKind{"gcc", "http_epoll"},
                                           ServerKind{"musl", "http_epoll"},
                                           ServerKind{"gcc", "http_blocking"},
                                           ServerKind{"musl", "http_blocking"}),
                         kind_name);

// ---- many connections at once (the epoll server) ---------------------------------------------

class NetTest : public EmberTest {};

TEST_F(NetTest, ThousandConcurrentConnections) {
    constexpr int kConns = 1000;
    rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 4096) {
        rl.rlim_cur = std::min<rlim_t>(4096, rl.rlim_max);
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < kConns + 100) GTEST_SKIP() << "RLIMIT_NOFILE too low: " << rl.rlim_cur;
    Server server(example_path("gcc", "http_epoll"));
    ASSERT_TRUE(server.ready()) << server.vm().describe();
    std::vector<int> fds;
    for (int i = 0; i < kConns; i++) {
        int fd = dial(server.port());
        ASSERT_GE(fd, 0) << "connection " << i;
        fds.push_back(fd);
    }
    // Every connection is open at once; each asks for its own size.
    for (int i = 0; i < kConns; i++)
        ASSERT_TRUE(send_all(fds[i], get("/size/" + std::to_string(i))));
    int good = 0;
    for (int i = 0; i < kConns; i++) {
        Reader rd(fds[i]);
        auto r = rd.next();
        if (r.ok && r.body == pattern(static_cast<size_t>(i))) good++;
    }
    EXPECT_EQ(good, kConns);
    for (int fd : fds) close(fd);
    // And the server still serves afterwards.
    int fd = dial(server.port());
    Reader rd(fd);
    ASSERT_TRUE(send_all(fd, get("/")));
    EXPECT_TRUE(rd.next().ok);
    close(fd);
    EXPECT_TRUE(server.vm().running()) << server.vm().describe();
}

// ---- egress ------------------------------------------------------------------------------------

TEST_F(NetTest, EgressAllowedReachesTheHostListener) {
    HostListener dest(true);
    const std::string port = std::to_string(dest.port());
    for (const char* libc : {"gcc", "musl"}) {
        auto r =
            run_ember({"run", "--timeout", "30s", "--allow-egress", "127.0.0.1:" + port,
                       example_path(libc, "net_client"), "--", "127.0.0.1", port, "/from-guest"});
        ASSERT_TRUE(r.exited) << describe(r);
        EXPECT_EQ(r.exit_code, 0) << describe(r);
        EXPECT_NE(r.out.find("hello, guest!"), std::string::npos) << describe(r);
        EXPECT_EQ(dest.last_request().rfind("GET /from-guest HTTP/1.0\r\n", 0), 0u)
            << dest.last_request();
    }
}

TEST_F(NetTest, EgressIsDeniedByDefaultAndOutsideTheRules) {
    HostListener dest(true);
    const std::string port = std::to_string(dest.port());
    auto r = run_ember(
        {"run", "--timeout", "30s", example_path("gcc", "net_client"), "--", "127.0.0.1", port});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_EQ(r.out, "net_client: connect: ECONNREFUSED\n") << describe(r);
    // A rule for another port does not open this one.
    r = run_ember({"run", "--timeout", "30s", "--allow-egress",
                   "127.0.0.1:" + std::to_string(free_port()), example_path("musl", "net_client"),
                   "--", "127.0.0.1", port});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.out, "net_client: connect: ECONNREFUSED\n") << describe(r);
    EXPECT_EQ(dest.accepted(), 0) << "a denied connect reached the destination";
}

TEST_F(NetTest, AGuestOpeningStreamsWithoutLimitHitsTheCapAndTheHostStaysHealthy) {
    rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 4096) {
        rl.rlim_cur = std::min<rlim_t>(4096, rl.rlim_max);
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    HostListener dest(false);  // holds every connection open
    const std::string port = std::to_string(dest.port());
    auto r = run_ember({"run", "--timeout", "60s", "--allow-egress", "127.0.0.1:" + port,
                        example_path("gcc", "net_flood"), "--", "127.0.0.1", port});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    int opened = 0;
    char what[32] = {}, err[32] = {};
    ASSERT_EQ(sscanf(r.out.c_str(), "opened %d, then %31[a-z]: %31s", &opened, what, err), 3)
        << r.out;
    EXPECT_TRUE(std::string(err) == "EMFILE" || std::string(err) == "ENOBUFS") << r.out;
    EXPECT_GE(opened, 1000) << r.out;
    EXPECT_LE(opened, kMaxStreams) << r.out;
    EXPECT_NE(r.out.find("recovered"), std::string::npos) << r.out;
    // Every connection the guest made reached the host, and no more. The
    // listener's accept thread may still be catching up with the backlog.
    for (auto end = Clock::now() + 5s; dest.accepted() < opened && Clock::now() < end;)
        std::this_thread::sleep_for(10ms);
    EXPECT_GE(dest.accepted(), opened);
    EXPECT_LE(dest.accepted(), opened + 1);
}

// ---- READY: a snapshot of a server blocked on its listener
// ---------------------------------------

TEST_F(NetTest, EpollServerSnapshotIsReadyAndTheRestoredInstanceServes) {
    TempDir dir;
    const std::string snap = dir / "http.snap";
    auto made = run_ember(
        {"run", "--timeout", "30s", "--snapshot-out", snap, example_path("gcc", "http_epoll")});
    ASSERT_TRUE(made.exited && made.exit_code == 0) << describe(made);
    const uint16_t port = free_port();
    Vm vm(
        {"restore", "--timeout", "30s", "-p", "127.0.0.1:" + std::to_string(port) + ":8080", snap});
    bool ok = false;
    for (auto end = Clock::now() + 20s; !ok && Clock::now() < end && vm.running();) {
        int fd = dial(port);
        if (fd >= 0) {
            Reader rd(fd);
            auto r = send_all(fd, get("/size/300", true)) ? rd.next() : Reader::Response{};
            ok = r.ok && r.body == pattern(300);
            close(fd);
        }
        if (!ok) std::this_thread::sleep_for(50ms);
    }
    EXPECT_TRUE(ok) << vm.describe();
}

}  // namespace
}  // namespace ember::test
