// Spawning: everything the child needs (argv, the fds to install) is made
// ready before the fork, because the parent is multi-threaded and the child
// may only make async-signal-safe calls until it execs. The child closes
// every fd above the ones it was given, so nothing of the parent's (the
// database, the token file, client sockets) reaches it by accident.
#include "platform/child_process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace ember::platform {

namespace {

constexpr const char* kRoleFlag = "--ember-role=";
constexpr const char* kChannelFlag = "--ember-channel-fd=";
constexpr int kChannelFd = 3;
// Where the fds to install are parked before the fork, above any target.
constexpr int kParkBase = 64;

std::string wait_status_text(int ws) {
    if (WIFEXITED(ws)) return "exited with status " + std::to_string(WEXITSTATUS(ws));
    if (WIFSIGNALED(ws)) return "killed by signal " + std::to_string(WTERMSIG(ws));
    return "ended (wait status " + std::to_string(ws) + ")";
}

// In the child after the fork: only async-signal-safe calls.
[[noreturn]] void exec_child(const std::vector<int>& parked, const std::vector<char*>& argv) {
    for (size_t i = 0; i < parked.size(); ++i)
        if (::dup2(parked[i], kChannelFd + static_cast<int>(i)) < 0) ::_exit(126);
    ::close_range(static_cast<unsigned>(kChannelFd + parked.size()), ~0u, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
}

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::spawn(const ChildSpec& spec) {
    auto pair = ipc::channel_pair();
    if (!pair) return pair.status();
    std::unique_ptr<ChildProcess> c(new ChildProcess());
    c->channel_ = std::move(pair->first);
    ipc::Channel child_end = std::move(pair->second);

    // The channel becomes fd 3, the passed fds 4, 5, ...: parked first at
    // numbers no target can collide with.
    std::vector<int> parked;
    auto unpark = [&parked] {
        for (int fd : parked) ::close(fd);
    };
    std::vector<int> sources{child_end.fd()};
    sources.insert(sources.end(), spec.pass_fds.begin(), spec.pass_fds.end());
    for (int fd : sources) {
        const int p = ::fcntl(fd, F_DUPFD_CLOEXEC, kParkBase);
        if (p < 0) {
            const Status st = Status::from_errno("spawning the " + spec.role + " process: dup");
            unpark();
            return st;
        }
        parked.push_back(p);
    }
    std::vector<std::string> args{"emberd", kRoleFlag + spec.role,
                                  kChannelFlag + std::to_string(kChannelFd)};
    args.insert(args.end(), spec.args.begin(), spec.args.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    pid_t pid = -1;
    if (spec.new_pid_namespace) {
        // clone() without a new stack forks; CLONE_NEWPID makes the child
        // pid 1 of a namespace of its own (root only; else a plain fork).
        pid = static_cast<pid_t>(::syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0));
        if (pid == 0) exec_child(parked, argv);
        if (pid > 0) c->pid_ns_ = true;
    }
    if (pid < 0) {
        pid = ::fork();
        if (pid == 0) exec_child(parked, argv);
    }
    const int fork_errno = errno;
    unpark();
    if (pid < 0) {
        errno = fork_errno;
        return Status::from_errno("spawning the " + spec.role + " process: fork");
    }
    c->pid_ = pid;
    return c;
}

ChildProcess::~ChildProcess() {
    if (pid_ > 0 && !reaped_) {
        ::kill(pid_, SIGKILL);
        int ws;
        while (::waitpid(pid_, &ws, 0) < 0 && errno == EINTR) {
        }
    }
}

std::string ChildProcess::wait(int timeout_ms) {
    if (reaped_) return "already reaped";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    int ws = 0;
    for (;;) {
        const pid_t r = ::waitpid(pid_, &ws, WNOHANG);
        if (r == pid_) break;
        if (r < 0 && errno != EINTR) return "cannot wait: " + std::string(std::strerror(errno));
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(pid_, SIGKILL);
            while (::waitpid(pid_, &ws, 0) < 0 && errno == EINTR) {
            }
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    reaped_ = true;
    return wait_status_text(ws);
}

std::optional<ChildRole> child_role(int argc, char** argv) {
    if (argc < 3) return std::nullopt;
    const std::string role = argv[1], chan = argv[2];
    if (role.rfind(kRoleFlag, 0) != 0 || chan.rfind(kChannelFlag, 0) != 0) return std::nullopt;
    ChildRole r;
    r.role = role.substr(std::strlen(kRoleFlag));
    r.channel_fd = std::atoi(chan.c_str() + std::strlen(kChannelFlag));
    r.first_passed_fd = r.channel_fd + 1;
    for (int i = 3; i < argc; ++i) r.args.emplace_back(argv[i]);
    return r;
}

}  // namespace ember::platform
