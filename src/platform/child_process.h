// child_process.h - emberd's helper processes (VM workers, the gateway):
// started by re-executing emberd's own binary with a hidden role argument,
// in a new PID namespace where the host allows it, with one ipc::Channel to
// the parent and only the fds it is given.
//
//   parent:  auto c = ChildProcess::spawn({"worker", {...}, {listen_fd}});
//            c->channel().send(...);
//   child:   emberd --ember-role=worker --ember-channel-fd=3 [args...]
//            if (auto role = child_role(argc, argv)) return run_role(*role);
//
// The child sandboxes itself (vmm/sandbox.h) once it has opened what it
// needs; the parent holds the secrets and never passes them.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "platform/ipc.h"

namespace ember::platform {

struct ChildSpec {
    std::string role;               // "worker", "gateway"
    std::vector<std::string> args;  // extra arguments after the role's
    // Fds the child inherits, renumbered from 4 upwards in this order (the
    // channel is fd 3). The parent keeps and closes its own copies.
    std::vector<int> pass_fds;
    bool new_pid_namespace = true;  // falls back to none where not allowed
};

class ChildProcess {
  public:
    // Starts the child; the channel's other end is its fd 3.
    static Result<std::unique_ptr<ChildProcess>> spawn(const ChildSpec& spec);
    // Kills (SIGKILL) and reaps the child if it still runs.
    ~ChildProcess();

    ipc::Channel& channel() { return channel_; }
    pid_t pid() const { return pid_; }
    bool in_pid_namespace() const { return pid_ns_; }
    // Waits for the child to exit (or kills it after timeout_ms); its wait
    // status as text: "exited with status 0", "killed by signal 9".
    std::string wait(int timeout_ms);

  private:
    ChildProcess() = default;
    ipc::Channel channel_;
    pid_t pid_ = -1;
    bool pid_ns_ = false;
    bool reaped_ = false;
};

// In a child started by ChildProcess::spawn: its role and arguments, taken
// from argv (nullopt in the parent: argv has no --ember-role=).
struct ChildRole {
    std::string role;
    std::vector<std::string> args;
    int channel_fd = 3;
    int first_passed_fd = 4;
};
std::optional<ChildRole> child_role(int argc, char** argv);

}  // namespace ember::platform
