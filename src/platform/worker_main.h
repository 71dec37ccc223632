// worker_main.h - the VM worker process: emberd re-executed with
// --ember-role=worker (child_process.h). It opens /dev/kvm, sandboxes itself
// (vmm/sandbox.h: own uid, no capabilities, no_new_privs, private mount,
// IPC, UTS and network namespaces, an empty read-only root, rlimits, a
// seccomp allowlist), reports the layers, and then runs the microVMs the
// parent asks for (worker_protocol.h). It never opens a file by name and
// holds no secret: programs, files and snapshots come as fds, outbound
// connections are made by the parent.
#pragma once

#include "platform/child_process.h"

namespace ember::platform {

// Worker arguments (ChildSpec::args), built by worker_client.cpp.
//   --vm-pool=N --warm-vms=N --prepare-timeout-ms=N --max-image-bytes=N
//   --uid=N --gid=N --no-sandbox
// Returns the process's exit status.
int run_worker(const ChildRole& role);

}  // namespace ember::platform
