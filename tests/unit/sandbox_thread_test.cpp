// Per-thread-kind seccomp filters (sandbox.h): each case sandboxes a forked
// child, then a thread of the child takes a kind's filter and tries a call
// the process filter allows and its own does not (refused with EPERM, as
// the process filter answers), and one it needs (still works). The I/O
// thread case uses the real I/O thread: a doorbell handler tries the calls.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <system_error>
#include <thread>

#include "vmm/io_thread.h"
#include "vmm/sandbox.h"

namespace ember {
namespace {

// The process layers these tests need: seccomp only (the others are
// sandbox_test.cpp's).
SandboxPolicy seccomp_only() {
    SandboxPolicy p;
    p.namespaces = p.filesystem = p.drop_user = false;
    return p;
}

// The gateway process's: socketpair(AF_UNIX) for the request streams.
SandboxPolicy gateway_policy() {
    SandboxPolicy p = seccomp_only();
    p.allow_socketpair = true;
    return p;
}

// Runs body on a new thread of a sandboxed child; returns its exit status
// (99: seccomp unavailable, 100: the sandbox failed). Sockets and files are
// made before (the process filter allows neither socketpair nor open).
int in_sandboxed_thread(const std::function<int()>& body, SandboxPolicy policy = seccomp_only()) {
    const pid_t pid = fork();
    if (pid == 0) {
        auto r = enter_sandbox(policy);
        if (!r) _exit(100);
        if (!process_seccomp_on()) _exit(99);
        int rc = 98;
        std::thread t([&] { rc = body(); });
        t.join();
        _exit(rc);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define SKIP_WITHOUT_SECCOMP(rc) \
    if ((rc) == 99) GTEST_SKIP() << "no seccomp on this host"

// A file descriptor of a regular file (no name needed).
int memfd_create_like() { return static_cast<int>(syscall(SYS_memfd_create, "t", 0)); }

// errno of a call that returned -1, 0 when it succeeded.
int err_of(long r) { return r < 0 ? errno : 0; }

// Can this thread start a thread? (clone through std::thread)
bool can_start_thread() {
    try {
        std::thread([] {}).join();
        return true;
    } catch (const std::system_error&) {
        return false;
    }
}

TEST(SandboxThread, NothingHappensInAProcessThatIsNotSandboxed) {
    // This test process has no seccomp filter: the call must not add one.
    const pid_t pid = fork();
    if (pid == 0) {
        if (!sandbox_thread(ThreadKind::kChannel)) _exit(1);
        _exit(can_start_thread() && epoll_create1(0) >= 0 ? 0 : 2);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
}

TEST(SandboxThread, VmThreadCannotReceiveChannelMessagesOrWaitOnEpoll) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    const int rc = in_sandboxed_thread([&] {
        // The process filter allows both.
        char c = 'x';
        if (send(sv[0], &c, 1, 0) != 1) return 2;
        if (!sandbox_thread(ThreadKind::kVm)) return 3;
        msghdr mh{};
        iovec iov{&c, 1};
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        if (err_of(recvmsg(sv[1], &mh, 0)) != EPERM) return 5;
        if (err_of(epoll_create1(0)) != EPERM) return 6;
        // What it needs: ioctl (KVM's), reads, threads of its kind.
        int avail = 0;
        if (ioctl(sv[1], FIONREAD, &avail) != 0 || avail != 1) return 7;
        if (read(sv[1], &c, 1) != 1) return 8;
        if (!can_start_thread()) return 9;
        return 0;
    });
    SKIP_WITHOUT_SECCOMP(rc);
    EXPECT_EQ(rc, 0);
}

TEST(SandboxThread, ChannelThreadCannotTouchKvmStartThreadsOrSetTimers) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    const int rc = in_sandboxed_thread([&] {
        if (!sandbox_thread(ThreadKind::kChannel)) return 2;
        int avail = 0;
        if (err_of(ioctl(sv[1], FIONREAD, &avail)) != EPERM) return 4;  // any ioctl, KVM's too
        if (can_start_thread()) return 5;
        timer_t t;
        sigevent sev{};
        sev.sigev_notify = SIGEV_NONE;
        if (err_of(timer_create(CLOCK_MONOTONIC, &sev, &t)) != EPERM) return 6;
        // What it needs: its channel, descriptors passed on it.
        char c = 'x';
        alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
        iovec iov{&c, 1};
        msghdr mh{};
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = ctl;
        mh.msg_controllen = sizeof ctl;
        cmsghdr* cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(cm), &sv[0], sizeof(int));
        if (sendmsg(sv[0], &mh, 0) != 1) return 7;
        if (recvmsg(sv[1], &mh, MSG_CMSG_CLOEXEC) != 1) return 8;
        return 0;
    });
    SKIP_WITHOUT_SECCOMP(rc);
    EXPECT_EQ(rc, 0);
}

TEST(SandboxThread, GatewayThreadCannotStartThreadsReadFilesOrUseOtherIoctls) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    const int file = memfd_create_like();
    ASSERT_GE(file, 0);
    const int rc = in_sandboxed_thread(
        [&] {
            if (!sandbox_thread(ThreadKind::kGateway)) return 3;
            if (can_start_thread()) return 5;
            char buf[4];
            if (err_of(pread(file, buf, sizeof buf, 0)) != EPERM) return 6;
            if (err_of(ftruncate(file, 0)) != EPERM) return 7;
            int one = 1;
            if (err_of(ioctl(sv[0], FIOASYNC, &one)) != EPERM) return 8;
            // What it needs: non-blocking sockets, a socketpair per request.
            if (ioctl(sv[0], FIONBIO, &one) != 0) return 9;
            int more[2];
            if (socketpair(AF_UNIX, SOCK_STREAM, 0, more) != 0) return 10;
            return 0;
        },
        gateway_policy());
    SKIP_WITHOUT_SECCOMP(rc);
    EXPECT_EQ(rc, 0);
}

TEST(SandboxThread, IoThreadRefusesIoctlAndThreadsInItsHandlers) {
    // The real I/O thread: started before the sandbox, as in ember-vm and
    // the worker; it takes its filter at its first wake-up after it.
    const pid_t pid = fork();
    if (pid == 0) {
        IoThread& io = IoThread::instance();
        if (!enter_sandbox(seccomp_only())) _exit(100);
        if (!process_seccomp_on()) _exit(99);
        const int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        std::atomic<int> result{-1};
        io.add(efd, [&] {
            int avail = 0;
            if (err_of(ioctl(efd, FIONREAD, &avail)) != EPERM)
                result = 2;
            else if (can_start_thread())
                result = 3;
            else
                result = 0;
        });
        const uint64_t one = 1;
        if (write(efd, &one, sizeof one) != sizeof one) _exit(4);
        for (int i = 0; i < 500 && result < 0; ++i) usleep(10000);
        _exit(result < 0 ? 5 : result.load());
    }
    int st = 0;
    waitpid(pid, &st, 0);
    const int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    SKIP_WITHOUT_SECCOMP(rc);
    EXPECT_EQ(rc, 0);
}

TEST(SandboxThread, EveryKindNamesRealSystemCalls) {
    // A name libseccomp cannot resolve would silently allow nothing.
    for (ThreadKind k :
         {ThreadKind::kVm, ThreadKind::kIo, ThreadKind::kChannel, ThreadKind::kGateway})
        for (const std::string& n : thread_allowlist(k))
            EXPECT_NE(seccomp_syscall_resolve_name(n.c_str()), __NR_SCMP_ERROR)
                << thread_kind_name(k) << ": " << n;
}

}  // namespace
}  // namespace ember
