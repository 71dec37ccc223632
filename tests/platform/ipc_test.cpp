// The message channel between emberd's processes, and helper processes
// started by re-executing this test binary (its main() serves the roles).
#include "platform/ipc.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>

#include "platform/child_process.h"

using namespace ember::platform;

namespace {

std::string read_all(int fd) {
    std::string out;
    char b[256];
    ssize_t n;
    while ((n = ::read(fd, b, sizeof b)) > 0) out.append(b, static_cast<size_t>(n));
    return out;
}

// The fds open in this process, as "0,1,2,...".
std::string open_fds() {
    std::string out;
    DIR* d = ::opendir("/proc/self/fd");
    if (!d) return "?";
    const int self = ::dirfd(d);
    std::vector<int> fds;
    while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.' && std::stoi(e->d_name) != self)
            fds.push_back(std::stoi(e->d_name));
    ::closedir(d);
    std::sort(fds.begin(), fds.end());
    for (int fd : fds) out += (out.empty() ? "" : ",") + std::to_string(fd);
    return out;
}

// Role "echo": answers each message with its type and body; "fds" answers
// with the open fd list, "pid" with getpid(), "write" writes the body to
// the first passed fd, "exit" exits with the body's status.
int run_echo(const ChildRole& r) {
    ipc::Channel ch(r.channel_fd);
    // A failed reply shows as a failed receive in the test.
    auto say = [&ch](std::string_view type, std::string_view body = {}) {
        (void)ch.send(type, body);
    };
    for (;;) {
        auto m = ch.recv();
        if (!m) return m.code() == ember::Code::kUnavailable ? 0 : 3;
        if (m->type == "fds") {
            say("fds", open_fds());
        } else if (m->type == "pid") {
            say("pid", std::to_string(::getpid()));
        } else if (m->type == "write") {
            const std::string& s = m->body;
            (void)!::write(r.first_passed_fd, s.data(), s.size());
            ::close(r.first_passed_fd);
            say("written");
        } else if (m->type == "exit") {
            return std::stoi(m->body);
        } else {
            say(m->type, m->body);
        }
    }
}

TEST(IpcChannel, CarriesTypeBodyAndFds) {
    auto pair = ipc::channel_pair();
    ASSERT_TRUE(pair.is_ok());
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    ASSERT_TRUE(pair->first.send("hello", "body bytes", {p[1]}).is_ok());
    ::close(p[1]);  // the receiver holds its own copy
    auto m = pair->second.recv();
    ASSERT_TRUE(m.is_ok()) << m.message();
    EXPECT_EQ(m->type, "hello");
    EXPECT_EQ(m->body, "body bytes");
    ASSERT_EQ(m->fds.size(), 1u);
    const int w = m->take_fd();
    ASSERT_GE(w, 0);
    EXPECT_EQ(::write(w, "x", 1), 1);
    ::close(w);
    EXPECT_EQ(read_all(p[0]), "x");
    ::close(p[0]);
}

TEST(IpcChannel, ClosesUntakenFdsAndRefusesOversizedMessages) {
    auto pair = ipc::channel_pair();
    ASSERT_TRUE(pair.is_ok());
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    ASSERT_TRUE(pair->first.send("f", "", {p[1]}).is_ok());
    ::close(p[1]);
    {
        auto m = pair->second.recv();
        ASSERT_TRUE(m.is_ok());
    }                               // dropped: its fd closes
    EXPECT_EQ(read_all(p[0]), "");  // EOF: no writer is left
    ::close(p[0]);
    EXPECT_FALSE(pair->first.send("big", std::string(ipc::kMaxBody + 1, 'x')).is_ok());
    EXPECT_FALSE(pair->first.send("", "x").is_ok());
    EXPECT_FALSE(pair->first.send(std::string(ipc::kMaxType + 1, 't')).is_ok());
    EXPECT_TRUE(pair->first.send("max", std::string(ipc::kMaxBody, 'x')).is_ok());
    auto m = pair->second.recv();
    ASSERT_TRUE(m.is_ok());
    EXPECT_EQ(m->body.size(), ipc::kMaxBody);
}

TEST(IpcChannel, MalformedDatagramsAreErrorsNotCrashes) {
    auto pair = ipc::channel_pair();
    ASSERT_TRUE(pair.is_ok());
    const int raw = pair->first.fd();
    const unsigned char bad_len[] = {200, 'a'};  // type length beyond the datagram
    ASSERT_EQ(::send(raw, bad_len, sizeof bad_len, 0), 2);
    const unsigned char zero_len[] = {0, 'a', 'b'};
    ASSERT_EQ(::send(raw, zero_len, sizeof zero_len, 0), 3);
    std::string huge(ipc::kMaxBody + ipc::kMaxType + 8, 'x');
    huge[0] = 1;
    ASSERT_GT(::send(raw, huge.data(), huge.size(), 0), 0);
    for (int i = 0; i < 3; ++i) {
        auto m = pair->second.recv();
        ASSERT_FALSE(m.is_ok());
        EXPECT_EQ(m.code(), ember::Code::kCorruption) << i;
    }
    ASSERT_TRUE(pair->first.send("ok").is_ok());
    auto m = pair->second.recv();
    ASSERT_TRUE(m.is_ok());
    EXPECT_EQ(m->type, "ok");
}

TEST(IpcChannel, PeerCloseAndShutdownEndReceive) {
    auto pair = ipc::channel_pair();
    ASSERT_TRUE(pair.is_ok());
    std::thread t([&] {
        auto m = pair->second.recv();
        EXPECT_EQ(m.code(), ember::Code::kUnavailable);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    pair->second.shutdown();
    t.join();
    ipc::Channel a = std::move(pair->first);
    { ipc::Channel gone = std::move(pair->second); }
    EXPECT_EQ(a.send("x").code(), ember::Code::kUnavailable);
}

TEST(ChildProcess, RunsARoleWithOnlyTheFdsItWasGiven) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    const int leak = ::open("/dev/null", O_RDONLY);  // not CLOEXEC: must not reach the child
    auto c = ChildProcess::spawn({"echo", {}, {p[1]}, true});
    ::close(leak);
    ASSERT_TRUE(c.is_ok()) << c.message();
    ::close(p[1]);
    auto& ch = (*c)->channel();
    ASSERT_TRUE(ch.send("fds").is_ok());
    auto m = ch.recv();
    ASSERT_TRUE(m.is_ok()) << m.message();
    EXPECT_EQ(m->body, "0,1,2,3,4");
    ASSERT_TRUE(ch.send("ping", "payload").is_ok());
    m = ch.recv();
    ASSERT_TRUE(m.is_ok());
    EXPECT_EQ(m->type, "ping");
    EXPECT_EQ(m->body, "payload");
    ASSERT_TRUE(ch.send("write", "through the passed fd").is_ok());
    ASSERT_TRUE(ch.recv().is_ok());
    EXPECT_EQ(read_all(p[0]), "through the passed fd");
    ::close(p[0]);
    if ((*c)->in_pid_namespace()) {
        ASSERT_TRUE(ch.send("pid").is_ok());
        m = ch.recv();
        ASSERT_TRUE(m.is_ok());
        EXPECT_EQ(m->body, "1");
    } else {
        std::fprintf(stderr, "NOTE: no PID namespace here (not root?); not checked\n");
    }
    ASSERT_TRUE(ch.send("exit", "7").is_ok());
    EXPECT_EQ((*c)->wait(5000), "exited with status 7");
}

TEST(ChildProcess, ItsDeathEndsTheChannel) {
    auto c = ChildProcess::spawn({"echo", {}, {}, false});
    ASSERT_TRUE(c.is_ok()) << c.message();
    EXPECT_FALSE((*c)->in_pid_namespace());
    ASSERT_EQ(::kill((*c)->pid(), SIGKILL), 0);
    auto m = (*c)->channel().recv();
    EXPECT_EQ(m.code(), ember::Code::kUnavailable);
    EXPECT_EQ((*c)->wait(5000), "killed by signal 9");
}

TEST(ChildProcess, ParentGoneEndsTheChild) {
    // Destroying the ChildProcess kills and reaps it; a child whose channel
    // closes (parent died) leaves its loop on its own.
    auto c = ChildProcess::spawn({"echo", {}, {}, false});
    ASSERT_TRUE(c.is_ok());
    (*c)->channel().shutdown();
    EXPECT_EQ((*c)->wait(5000), "exited with status 0");
}

TEST(ChildRole, ParsesOnlyItsOwnArguments) {
    const char* plain[] = {"emberd", "--gateway", "x"};
    EXPECT_FALSE(child_role(3, const_cast<char**>(plain)).has_value());
    const char* child[] = {"emberd", "--ember-role=worker", "--ember-channel-fd=3", "a", "b"};
    auto r = child_role(5, const_cast<char**>(child));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->role, "worker");
    EXPECT_EQ(r->channel_fd, 3);
    EXPECT_EQ(r->first_passed_fd, 4);
    EXPECT_EQ(r->args, (std::vector<std::string>{"a", "b"}));
}

}  // namespace

int main(int argc, char** argv) {
    if (auto r = child_role(argc, argv)) return r->role == "echo" ? run_echo(*r) : 2;
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
