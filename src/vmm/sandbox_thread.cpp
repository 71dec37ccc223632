// sandbox_thread.cpp - the seccomp filter of each thread kind (sandbox.h),
// loaded by a thread on itself on top of the process's filter. Each list is
// what that kind of thread was seen to call while the e2e and integration
// suites ran (strace -f of emberd, its VM workers and gateway, and of
// ember-vm: requests, deploys, snapshots, restores, reuse, egress, crashes,
// timeouts, killed workers), plus the calls of the same family a rarer path
// may make (epoll_pwait next to epoll_wait, writev next to write). A call
// missing from a list fails with EPERM in that thread only, as the process
// filter answers. The process filter still decides the calls that depend on
// its policy (socket, connect, file writes): a kind may list them and still
// not get them.
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "vmm/sandbox.h"

namespace ember {

int add_clone_and_rlimit_rules(scmp_filter_ctx ctx);  // sandbox.cpp

namespace {

// Every thread: memory for the allocator (malloc's arenas grow and shrink
// with mmap, mprotect, madvise, mremap and brk), waiting on locks and
// condition variables, the time, its own start (set_robust_list, rseq) and
// end, and write/close (logs, descriptors it was handed).
constexpr const char* kCommon[] = {
    "futex",         "mmap",         "munmap",         "mprotect",        "madvise",
    "mremap",        "brk",          "rseq",           "set_robust_list", "sched_yield",
    "clock_gettime", "gettimeofday", "nanosleep",      "clock_nanosleep", "exit",
    "exit_group",    "rt_sigreturn", "rt_sigprocmask", "restart_syscall", "getpid",
    "gettid",        "write",        "close",
};

// Threads that create, boot, restore, run, reset and destroy microVMs: the
// vCPU thread's KVM_RUN loop and every exit it serves (hypercalls, console,
// the guest's streams, blocking when idle with poll), snapshots written
// and read through descriptors, VM shells made ahead and closed off the
// cold path, the worker's runner threads (which start more of their kind:
// clone for threads only). Seen: KVM ioctls, mmap of guest memory and
// snapshots, pread/pwrite/ftruncate/fdatasync of snapshots, timers (the
// limits), timerfds and eventfds (time slices, doorbells), epoll_ctl (to
// add them to the I/O thread), the guest's host streams, outbound connect,
// channel messages (console, connect requests), pidfd_getfd (a new VM's
// descriptors from VmPool's creator thread, vm_pool.cpp). Not: recvmsg (descriptors
// from emberd reach instances only through the channel thread), epoll
// waits, bind and listen (published ports are made before the sandbox),
// dup, pipes, identity and system queries.
constexpr const char* kVm[] = {
    "read",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "lseek",
    "fstat",
    "newfstatat",
    "statx",
    "fcntl",
    "pidfd_getfd",
    "fsync",
    "fdatasync",
    "ftruncate",
    "fallocate",
    "ioctl",
    "poll",
    "ppoll",
    "eventfd2",
    "epoll_ctl",
    "accept4",
    "recvfrom",
    "sendto",
    "sendmsg",
    "shutdown",
    "getsockopt",
    "setsockopt",
    "getsockname",
    "getpeername",
    "msync",
    "mincore",
    "rt_sigaction",
    "tgkill",
    "tkill",
    "timer_create",
    "timer_settime",
    "timer_gettime",
    "timer_delete",
    "timerfd_create",
    "timerfd_settime",
    "clock_getres",
    "getrandom",
    "getrlimit",
    // the process filter decides these by its policy: outbound connections
    // (egress), a snapshot written by name (ember-vm --snapshot-out)
    "socket",
    "connect",
    "openat",
    "rename",
    "renameat",
    "unlink",
    "unlinkat",
    "fchmod",
    // volumes (volume_host.cpp), when the process filter allows them
    "openat2",
    "mkdirat",
    "renameat2",
    "symlinkat",
    "readlinkat",
    "getdents64",
    "utimensat",
    "linkat",
};

// The process-wide I/O thread (io_thread.cpp): waits for doorbells and
// time slice ticks, drains console rings into the console's sink (a pipe
// or file, polled while full; the worker's channel), kicks vCPU threads
// with a signal, reads other threads' CPU clocks. Seen: epoll_wait,
// epoll_ctl, read, write, poll, sendmsg, tgkill. Not: ioctl (it touches
// no KVM descriptor), threads, sockets, files, timers.
constexpr const char* kIo[] = {
    "epoll_wait", "epoll_pwait", "epoll_ctl", "read",   "writev", "poll",
    "ppoll",      "sendmsg",     "sendto",    "tgkill", "tkill",
};

// A helper process's main thread once it serves: reads its channel to
// emberd, answers it, hands the descriptors it receives to instances
// (post, adopt: fcntl, getpeername), stops instances (a signal), lets go
// of snapshots and VMs (close, munmap, epoll_ctl to leave the I/O thread);
// in the gateway, wakes the Asio threads. Seen: recvmsg, sendmsg, fcntl,
// getpeername, epoll_ctl, tgkill, close, write. Not: ioctl (no KVM), threads
// (the worker's runners are made by its pool), timers, sockets, files.
constexpr const char* kChannel[] = {
    "recvmsg",   "sendmsg",     "read",       "writev",     "poll",     "ppoll",  "fcntl", "fstat",
    "epoll_ctl", "getpeername", "getsockopt", "setsockopt", "shutdown", "tgkill", "tkill",
};

// The gateway's Asio threads: accept clients on the socket they were
// given, read and write them, a socketpair per request (AF_UNIX only: the
// process filter checks it), its end sent to emberd on the channel, timers
// (timerfd), ioctl only to make a socket non-blocking or ask what is
// readable. Seen: accept, epoll_wait, epoll_ctl, recvfrom, sendto,
// recvmsg, sendmsg, socketpair, setsockopt, getpeername, shutdown,
// timerfd_settime, ioctl(FIONBIO). Not: threads, files, signals, any other
// ioctl.
constexpr const char* kGateway[] = {
    "epoll_wait",
    "epoll_pwait",
    "epoll_ctl",
    "read",
    "readv",
    "writev",
    "recvfrom",
    "sendto",
    "recvmsg",
    "sendmsg",
    "accept4",
    "accept",
    "shutdown",
    "getsockopt",
    "setsockopt",
    "getsockname",
    "getpeername",
    "fcntl",
    "eventfd2",
    "timerfd_create",
    "timerfd_settime",
    "socketpair",
    "poll",
    "ppoll",
    // OpenSSL reseeds its generator from the OS (about hourly) on the thread
    // that serves a TLS handshake.
    "getrandom",
};

template <size_t N>
void add_names(std::vector<std::string>* out, const char* const (&names)[N]) {
    for (const char* n : names) out->push_back(n);
}

std::atomic<bool> g_process_seccomp{false};
Status load_thread_filter(ThreadKind kind);
thread_local bool t_filtered = false;

}  // namespace

void note_process_seccomp_loaded() { g_process_seccomp = true; }

bool process_seccomp_on() { return g_process_seccomp.load(); }

const char* thread_kind_name(ThreadKind kind) {
    switch (kind) {
        case ThreadKind::kVm:
            return "vm";
        case ThreadKind::kIo:
            return "io";
        case ThreadKind::kChannel:
            return "channel";
        case ThreadKind::kGateway:
            return "gateway";
    }
    return "?";
}

std::vector<std::string> thread_allowlist(ThreadKind kind) {
    std::vector<std::string> v;
    add_names(&v, kCommon);
    switch (kind) {
        case ThreadKind::kVm:
            add_names(&v, kVm);
            break;
        case ThreadKind::kIo:
            add_names(&v, kIo);
            break;
        case ThreadKind::kChannel:
            add_names(&v, kChannel);
            break;
        case ThreadKind::kGateway:
            add_names(&v, kGateway);
            break;
    }
    return v;
}

Status sandbox_thread(ThreadKind kind) {
    if (!process_seccomp_on() || t_filtered) return Status::ok();
    t_filtered = true;  // tried once, not at every wake-up
    return load_thread_filter(kind);
}

namespace {

Status load_thread_filter(ThreadKind kind) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx) return Status::internal("sandbox: seccomp_init failed");
    struct Release {
        scmp_filter_ctx c;
        ~Release() { seccomp_release(c); }
    } release{ctx};
    // no_new_privs is already set on this thread (enter_sandbox's TSYNC
    // set it on every thread, and threads inherit it), and the process
    // filter allows prctl only to name a thread.
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    // The kernel's own errno when the load fails, not ECANCELED.
    rc = rc ? rc : seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
    for (const std::string& n : thread_allowlist(kind)) {
        const int nr = seccomp_syscall_resolve_name(n.c_str());
        if (nr == __NR_SCMP_ERROR) continue;
        rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    }
    // Its name, given once the filter holds (so a thread named after its
    // kind is one that has its filter).
    rc = rc ? rc
            : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                               SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
    // Asio makes sockets non-blocking (FIONBIO) and may ask what is
    // readable (FIONREAD); no other ioctl.
    if (kind == ThreadKind::kGateway)
        for (unsigned long req :
             {static_cast<unsigned long>(FIONBIO), static_cast<unsigned long>(FIONREAD)})
            rc = rc ? rc
                    : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                                       SCMP_A1(SCMP_CMP_EQ, req));
    // Threads only: VM threads start the runners and pool threads of their
    // kind (and ember-vm's vCPU thread ends the process through the exit
    // reaper); the other kinds start none (clone3 then fails with EPERM,
    // and glibc does not fall back to clone).
    if (kind == ThreadKind::kVm) rc = rc ? rc : add_clone_and_rlimit_rules(ctx);
    if (rc != 0)
        return Status::internal(std::string("sandbox: building the ") + thread_kind_name(kind) +
                                " thread filter: " + std::strerror(-rc));
    if ((rc = seccomp_load(ctx)) != 0)
        return Status::internal(std::string("sandbox: loading the ") + thread_kind_name(kind) +
                                " thread filter: " + std::strerror(-rc));
    const std::string name = std::string("ember-") + thread_kind_name(kind);
    prctl(PR_SET_NAME, name.c_str(), 0, 0, 0);
    return Status::ok();
}

}  // namespace
}  // namespace ember
