// sandbox.h - defence in depth for a process that runs guests: what it may
// still do once everything it needs is open (the KVM device, the program,
// its files, published sockets).
//
// The layers, each applied only where the host allows it and reported either
// way (docs/security.md says what each one stops):
//   - namespaces: private mount, IPC and UTS namespaces; a private network
//     namespace when the process needs no new host sockets;
//   - filesystem: the root becomes an empty read-only tmpfs;
//   - user: a root process becomes an unprivileged uid/gid with no
//     supplementary groups and no capabilities; no_new_privs always;
//   - rlimits: no core files, a cap on open files and on file size;
//   - seccomp: an allowlist of the system calls a running VMM makes (KVM
//     ioctls, memory, I/O on descriptors it already has, threads, time);
//     anything else fails with EPERM. It applies to every thread.
//
// Namespaces and the empty root apply to the calling thread and every thread
// it starts later; threads that already exist keep theirs (seccomp, which
// covers every thread, forbids them to open files or make sockets). A user
// namespace, needed without root, can only be entered single-threaded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace ember {

struct SandboxPolicy {
    bool namespaces = true;
    bool private_network = true;  // off when the process still opens host sockets
    bool filesystem = true;       // off when the process still opens files by name
    bool drop_user = true;
    uint32_t uid = 65534, gid = 65534;  // "nobody"
    uint64_t max_open_files = 4096;     // RLIMIT_NOFILE (0: leave as is)
    uint64_t max_file_size = 0;         // RLIMIT_FSIZE in bytes (0: leave as is)
    bool seccomp = true;
    bool allow_outbound = false;     // seccomp lets socket()/connect() through
    bool allow_listen = false;       // ... and socket()/bind()/listen() (published ports)
    bool allow_file_writes = false;  // ... and creating/renaming files (writing a snapshot)
    bool allow_socketpair = false;   // ... and socketpair(AF_UNIX) (the gateway's request streams)
    // ... and the *at() calls of volume_host.cpp on the volumes' directories
    // (openat2, which always resolves beneath them, mkdirat, unlinkat,
    // renameat2, symlinkat, readlinkat, getdents64)
    bool allow_volumes = false;
};

struct SandboxLayer {
    std::string name;  // "namespaces", "filesystem", "user", "rlimits", "seccomp"
    bool active = false;
    std::string detail;  // what was done, or why not
};

struct SandboxReport {
    std::vector<SandboxLayer> layers;
    // One line: "namespaces=on(mount,ipc,uts,net) filesystem=off(not root) ...".
    std::string summary() const;
    bool all_active() const;
};

// Applies `policy` to the calling process. A layer the host does not allow
// is reported inactive with the reason; an error Status means a layer that
// was possible failed half-way (the process should not go on).
Result<SandboxReport> enter_sandbox(const SandboxPolicy& policy);

// Kinds of threads with a seccomp filter of their own, narrower than the
// process's (sandbox_thread.cpp lists what each may call, and why).
enum class ThreadKind {
    kVm,       // creates, boots, restores, runs (the vCPU), resets and destroys microVMs
    kIo,       // the process-wide I/O thread: console doorbells and time slices
    kChannel,  // a helper process's main thread: reads and answers its channel to emberd
    kGateway,  // the gateway process's Asio threads: client connections
};
const char* thread_kind_name(ThreadKind kind);  // "vm", "io", "channel", "gateway"

// Loads kind's filter on the calling thread, on top of the process's (the
// strictest answer wins; threads it starts later inherit both), and names
// the thread "ember-<kind>". Without TSYNC: the other threads keep theirs.
// Does nothing when enter_sandbox loaded no seccomp filter in this process
// (--no-sandbox, or a process that is not sandboxed) and when this thread
// loaded one already, so threads may call it every time they start work.
// A thread that cannot load its filter (the kernel refuses it while the
// process exits, for one) keeps the process's: callers that can report it
// do; background threads go on.
Status sandbox_thread(ThreadKind kind);

// The system calls kind's filter allows, by name (tests, docs).
std::vector<std::string> thread_allowlist(ThreadKind kind);

// True once enter_sandbox loaded its seccomp filter in this process.
bool process_seccomp_on();

}  // namespace ember
