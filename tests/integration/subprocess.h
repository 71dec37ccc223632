// subprocess.h - runs a program as a child process and captures its stdout,
// stderr, exit status, wall time and peak RSS. Used by the integration tests
// (which run ember-vm and native binaries) and by bench/boot_bench.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace ember::test {

struct RunOptions {
    std::vector<std::string> argv;  // argv[0] is the path that is executed
    // Environment of the child. When inherit_env is true the child gets this
    // process's environment and `env` is ignored.
    std::vector<std::string> env;
    bool inherit_env = false;
    std::string cwd;         // empty: this process's cwd
    std::string stdin_path;  // empty: /dev/null
    // Safety net: the child is killed with SIGKILL after this long.
    std::chrono::milliseconds timeout{120'000};
};

struct RunResult {
    bool started = false;  // false: spawn failed, see error
    std::string error;
    bool exited = false;  // exited normally; exit_code valid
    int exit_code = -1;
    int term_signal = 0;     // the signal that ended the child, or 0
    bool timed_out = false;  // killed by the safety timeout
    std::string out, err;
    double wall_ms = 0;  // spawn to reap
    long maxrss_kb = 0;  // ru_maxrss of the child (wait4)
    double cpu_ms = 0;   // user + system CPU time of the child, all threads (wait4)
};

RunResult run_process(const RunOptions& opts);

// "status 0", "signal 11", "timed out": for failure messages.
std::string describe_status(const RunResult& r);
// The status plus stdout and stderr (each cut to a few KiB).
std::string describe(const RunResult& r);

}  // namespace ember::test
