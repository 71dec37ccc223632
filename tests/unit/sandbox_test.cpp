// The sandbox holds: each case enters it in a forked child (it cannot be
// left again) and reports what the child could still do through its exit
// status. A layer the host does not allow is skipped loudly, never passed.
#include "vmm/sandbox.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <thread>

namespace ember {
namespace {

// Runs `body` in a child after enter_sandbox(policy); returns the child's
// exit status (100 + n: the sandbox itself failed; 99: a layer missing).
int in_child(const SandboxPolicy& policy, const std::vector<std::string>& required,
             const std::function<int()>& body) {
    const pid_t pid = fork();
    if (pid == 0) {
        auto r = enter_sandbox(policy);
        if (!r) {
            std::fprintf(stderr, "sandbox: %s\n", r.status().message().c_str());
            _exit(100);
        }
        for (const auto& name : required)
            for (const auto& l : r->layers)
                if (l.name == name && !l.active) {
                    std::fprintf(stderr, "layer %s inactive: %s\n", name.c_str(), l.detail.c_str());
                    _exit(99);
                }
        _exit(body());
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define SKIP_IF_LAYER_MISSING(rc) \
    if ((rc) == 99) GTEST_SKIP() << "a sandbox layer is not available on this host (see stderr)"

TEST(Sandbox, OpeningAHostFileByNameFails) {
    SandboxPolicy p;
    const int rc = in_child(p, {"filesystem"}, [] {
        return ::open("/etc/passwd", O_RDONLY) < 0 && ::open("/proc/self/maps", O_RDONLY) < 0 ? 0
                                                                                              : 1;
    });
    SKIP_IF_LAYER_MISSING(rc);
    EXPECT_EQ(rc, 0);
}

TEST(Sandbox, StartingAProgramFails) {
    SandboxPolicy p;
    p.filesystem = false;  // the binary is still reachable: seccomp must stop it
    const int rc = in_child(p, {"seccomp"}, [] {
        char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
        execv("/bin/true", argv);
        return errno == EPERM ? 0 : 1;
    });
    SKIP_IF_LAYER_MISSING(rc);
    EXPECT_EQ(rc, 0);
}

TEST(Sandbox, ForkingAProcessFailsButThreadsWork) {
    SandboxPolicy p;
    const int rc = in_child(p, {"seccomp"}, [] {
        if (fork() >= 0) return 1;
        // A thread: clone with CLONE_THREAD through std::thread.
        int ran = 0;
        std::thread t([&] { ran = 1; });
        t.join();
        return ran ? 0 : 2;
    });
    SKIP_IF_LAYER_MISSING(rc);
    EXPECT_EQ(rc, 0);
}

TEST(Sandbox, NewSocketsNeedOutboundPermission) {
    SandboxPolicy p;
    p.private_network = false;
    const int denied =
        in_child(p, {"seccomp"}, [] { return socket(AF_INET, SOCK_STREAM, 0) < 0 ? 0 : 1; });
    SKIP_IF_LAYER_MISSING(denied);
    EXPECT_EQ(denied, 0);
    p.allow_outbound = true;
    const int allowed =
        in_child(p, {"seccomp"}, [] { return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : 1; });
    EXPECT_EQ(allowed, 0);
}

TEST(Sandbox, RootBecomesAnUnprivilegedUser) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    SandboxPolicy p;
    const int rc =
        in_child(p, {"user"}, [] { return geteuid() == 65534 && getegid() == 65534 ? 0 : 1; });
    SKIP_IF_LAYER_MISSING(rc);
    EXPECT_EQ(rc, 0);
}

TEST(Sandbox, DescriptorsOpenedBeforeStillWork) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    SandboxPolicy p;
    const int rc = in_child(p, {}, [&] {
        char c = 'x';
        return write(fds[1], &c, 1) == 1 && read(fds[0], &c, 1) == 1 && c == 'x' ? 0 : 1;
    });
    ::close(fds[0]);
    ::close(fds[1]);
    EXPECT_EQ(rc, 0);
}

TEST(Sandbox, ReportNamesEveryLayer) {
    SandboxPolicy p;
    p.namespaces = p.filesystem = p.seccomp = false;
    p.drop_user = false;
    const int rc = in_child(p, {}, [&] { return 0; });
    EXPECT_EQ(rc, 0);
    // The report itself, without entering anything irreversible here:
    SandboxReport r;
    r.layers = {{"namespaces", true, "mount"}, {"seccomp", false, "asked"}};
    EXPECT_EQ(r.summary(), "namespaces=on(mount) seccomp=off(asked)");
    EXPECT_FALSE(r.all_active());
}

}  // namespace
}  // namespace ember
