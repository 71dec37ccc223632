// subprocess.cpp - posix_spawn with pipes for stdout and stderr, a poll loop
// that drains both (so neither can fill and block the child), and wait4 for
// the status and resource usage.
#include "subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace ember::test {
namespace {

using Clock = std::chrono::steady_clock;

struct Pipe {
    int fd[2] = {-1, -1};
    ~Pipe() {
        for (int f : fd)
            if (f >= 0) close(f);
    }
    void close_end(int i) {
        if (fd[i] >= 0) close(fd[i]);
        fd[i] = -1;
    }
};

std::vector<char*> c_strings(const std::vector<std::string>& v) {
    std::vector<char*> out;
    out.reserve(v.size() + 1);
    for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
    out.push_back(nullptr);
    return out;
}

std::string clip(const std::string& s) {
    constexpr size_t kMax = 4096;
    if (s.size() <= kMax) return s;
    return s.substr(0, kMax) + "\n... (" + std::to_string(s.size() - kMax) + " more bytes)";
}

}  // namespace

RunResult run_process(const RunOptions& opts) {
    RunResult r;
    if (opts.argv.empty()) {
        r.error = "empty argv";
        return r;
    }
    Pipe out, err;
    if (pipe2(out.fd, O_CLOEXEC) != 0 || pipe2(err.fd, O_CLOEXEC) != 0) {
        r.error = std::string("pipe2: ") + strerror(errno);
        return r;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    const std::string in = opts.stdin_path.empty() ? "/dev/null" : opts.stdin_path;
    posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out.fd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err.fd[1], 2);
    if (!opts.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, opts.cwd.c_str());

    auto argv = c_strings(opts.argv);
    auto envv = c_strings(opts.env);
    pid_t pid = -1;
    const auto start = Clock::now();
    int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(),
                         opts.inherit_env ? environ : envv.data());
    posix_spawn_file_actions_destroy(&fa);
    out.close_end(1);
    err.close_end(1);
    if (rc != 0) {
        r.error = "spawn " + opts.argv[0] + ": " + strerror(rc);
        return r;
    }
    r.started = true;

    const auto deadline = start + opts.timeout;
    struct pollfd pfd[2] = {{out.fd[0], POLLIN, 0}, {err.fd[0], POLLIN, 0}};
    std::string* sink[2] = {&r.out, &r.err};
    int open_fds = 2;
    while (open_fds > 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (!r.timed_out && left.count() <= 0) {
            kill(pid, SIGKILL);
            r.timed_out = true;
        }
        int n = poll(pfd, 2, r.timed_out ? 1000 : static_cast<int>(left.count()) + 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        if (n == 0 && r.timed_out) break;  // a grandchild holds the pipe open
        for (int i = 0; i < 2; i++) {
            if (pfd[i].fd < 0 || pfd[i].revents == 0) continue;
            char buf[65536];
            ssize_t got = read(pfd[i].fd, buf, sizeof buf);
            if (got > 0) {
                sink[i]->append(buf, static_cast<size_t>(got));
            } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                pfd[i].fd = -1;
                open_fds--;
            }
        }
    }

    int status = 0;
    struct rusage ru {};
    while (true) {
        pid_t w = wait4(pid, &status, 0, &ru);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) {
            r.error = std::string("wait4: ") + strerror(errno);
            return r;
        }
    }
    r.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    r.maxrss_kb = ru.ru_maxrss;
    r.cpu_ms =
        (static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_stime.tv_sec)) * 1e3 +
        (static_cast<double>(ru.ru_utime.tv_usec) + static_cast<double>(ru.ru_stime.tv_usec)) / 1e3;
    if (WIFEXITED(status)) {
        r.exited = true;
        r.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        r.term_signal = WTERMSIG(status);
    }
    return r;
}

std::string describe_status(const RunResult& r) {
    if (!r.started) return "not started (" + r.error + ")";
    std::string s = r.exited ? "status " + std::to_string(r.exit_code)
                             : "killed by signal " + std::to_string(r.term_signal) + " (" +
                                   strsignal(r.term_signal) + ")";
    if (r.timed_out) s += ", killed by the test's safety timeout";
    return s;
}

std::string describe(const RunResult& r) {
    return describe_status(r) + "\n--- stdout ---\n" + clip(r.out) + "\n--- stderr ---\n" +
           clip(r.err) + "\n---";
}

}  // namespace ember::test
