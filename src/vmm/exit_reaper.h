// exit_reaper.h - a VMM process that ends without waiting for its VM's
// teardown.
//
// Destroying a VM is slow on every host and slowest here: when the process
// exits, the kernel frees the guest's memory, zaps the MMU's state and waits
// for RCU grace periods before the parent's wait returns (measured: 3-18 ms
// for a 64 MiB guest, more than the whole run of a hello). The caller of
// `ember-vm run` needs only the exit status and the output, so the process
// leaves the teardown to a reaper: a child that shares its address space
// (CLONE_VM) and holds a copy of its descriptors, gives up everything
// visible outside (stdin, stdout, stderr, sockets, pipes) at once, waits
// until the process has exited, and then exits itself, which is when the
// kernel destroys the VM. The reaper runs under the process's seccomp
// filters (it inherits them) and does nothing but close, wait and exit; it
// is gone a few milliseconds after the process.
#pragma once

#include <sched.h>
#include <signal.h>

#include "common/result.h"

namespace ember {

// The clone flags of the reaper, the one new process the sandbox allows.
constexpr unsigned long kReaperCloneFlags = CLONE_VM | SIGCHLD;

// Opens what the reaper will need; call before the sandbox forbids pipes.
Status prepare_exit_reaper();

// Flushes stdio and ends the process with `status`, leaving the VM's
// teardown to a reaper (prepare_exit_reaper must have succeeded; otherwise,
// or if the reaper cannot start, the process exits the ordinary way, as it
// also does with EMBER_VM_INLINE_TEARDOWN=1 in the environment, which
// bench/run_all.sh uses to measure the difference).
[[noreturn]] void exit_leaving_teardown(int status);

}  // namespace ember
