// sandbox.cpp - the layers of sandbox.h, applied in order: namespaces and
// the empty root (they need privilege), then rlimits, then the user and
// no_new_privs, then seccomp last (it forbids what the others call).
#include "vmm/sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "vmm/exit_reaper.h"

namespace ember {

void note_process_seccomp_loaded();  // sandbox_thread.cpp

// The argument-checked rules the process filter and the vm thread filter
// share: new threads only (a new process would escape nothing but is not
// needed), and the exit reaper (exit_reaper.h) with exactly its flags;
// clone3 fails with ENOSYS (its flags are in memory seccomp cannot read,
// and ENOSYS sends glibc back to clone); prlimit64 only to read a limit
// (new_limit == NULL). Returns libseccomp's error, 0 on success.
int add_clone_and_rlimit_rules(scmp_filter_ctx ctx) {
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    rc = rc ? rc
            : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                               SCMP_A0(SCMP_CMP_EQ, kReaperCloneFlags));
    rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    return rc ? rc
              : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1,
                                 SCMP_A2(SCMP_CMP_EQ, 0));
}

namespace {

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

SandboxLayer off(SandboxLayer l, const std::string& why) {
    l.active = false;
    l.detail = why;
    return l;
}

// Writes `text` to a /proc file of this process (uid_map and friends).
bool write_proc(const char* path, const std::string& text) {
    const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    return ok;
}

// Namespaces. Root unshares directly; anyone else needs an unprivileged user
// namespace first (then "root" inside it, with no power outside).
SandboxLayer enter_namespaces(const SandboxPolicy& p, bool* in_userns) {
    SandboxLayer l{"namespaces", false, ""};
    if (!p.namespaces) return off(l, "asked");
    int flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
    if (p.private_network) flags |= CLONE_NEWNET;
    if (geteuid() != 0) {
        const uid_t uid = geteuid();
        const gid_t gid = getegid();
        if (unshare(CLONE_NEWUSER) != 0) return off(l, errno_text("user namespace"));
        if (!write_proc("/proc/self/setgroups", "deny") ||
            !write_proc("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
            !write_proc("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1"))
            return off(l, "cannot map the user namespace");
        *in_userns = true;
    }
    if (unshare(flags) != 0) return off(l, errno_text("unshare"));
    l.active = true;
    l.detail = std::string(*in_userns ? "user," : "") + "mount,ipc,uts" +
               (p.private_network ? ",net" : "");
    return l;
}

// The root becomes an empty read-only tmpfs: nothing on the host can be
// opened by name any more. Needs the private mount namespace.
Result<SandboxLayer> enter_empty_root(const SandboxPolicy& p, bool have_mount_ns) {
    SandboxLayer l{"filesystem", false, ""};
    if (!p.filesystem) return off(l, "asked");
    if (!have_mount_ns) return off(l, "no mount namespace");
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        return Status::from_errno("sandbox: making mounts private");
    if (mount("ember-empty", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "size=4k,mode=0555") != 0)
        return Status::from_errno("sandbox: mounting the empty root");
    if (chdir("/tmp") != 0 || syscall(SYS_pivot_root, ".", ".") != 0 ||
        umount2(".", MNT_DETACH) != 0 || chdir("/") != 0)
        return Status::from_errno("sandbox: switching to the empty root");
    if (mount(nullptr, "/", nullptr,
              MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
        return Status::from_errno("sandbox: making the empty root read-only");
    l.active = true;
    l.detail = "empty read-only root";
    return l;
}

Result<SandboxLayer> set_rlimits(const SandboxPolicy& p) {
    SandboxLayer l{"rlimits", true, "core=0"};
    auto set = [](int res, uint64_t v) {
        rlimit r{v, v};
        return setrlimit(res, &r) == 0;
    };
    if (!set(RLIMIT_CORE, 0)) return Status::from_errno("sandbox: RLIMIT_CORE");
    if (p.max_open_files) {
        if (!set(RLIMIT_NOFILE, p.max_open_files))
            return Status::from_errno("sandbox: RLIMIT_NOFILE");
        l.detail += " nofile=" + std::to_string(p.max_open_files);
    }
    if (p.max_file_size) {
        if (!set(RLIMIT_FSIZE, p.max_file_size)) return Status::from_errno("sandbox: RLIMIT_FSIZE");
        l.detail += " fsize=" + std::to_string(p.max_file_size);
    }
    return l;
}

// An unprivileged uid and gid for root; in a user namespace the mapped
// "root" keeps its uid but loses every capability. no_new_privs always.
Result<SandboxLayer> drop_privileges(const SandboxPolicy& p, bool in_userns) {
    SandboxLayer l{"user", false, ""};
    if (p.drop_user && geteuid() == 0 && !in_userns) {
        if (setgroups(0, nullptr) != 0 || setresgid(p.gid, p.gid, p.gid) != 0 ||
            setresuid(p.uid, p.uid, p.uid) != 0)
            return Status::from_errno("sandbox: dropping to an unprivileged user");
        if (geteuid() == 0 || getegid() == 0)
            return Status::internal("sandbox: still root after setresuid");
        l.active = true;
        l.detail =
            "uid=" + std::to_string(p.uid) + " gid=" + std::to_string(p.gid) + " no capabilities";
    } else if (in_userns) {
        // Capabilities inside the user namespace go with the bounding set.
        for (int cap = 0; cap <= 63; ++cap) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
        l.active = true;
        l.detail = "user namespace, no capabilities";
    } else {
        l.detail = geteuid() == 0 ? "asked" : "already unprivileged";
        l.active = geteuid() != 0;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return Status::from_errno("sandbox: no_new_privs");
    l.detail += l.detail.empty() ? "no_new_privs" : ", no_new_privs";
    return l;
}

// The system calls a running VMM makes, by name, each for a reason:
constexpr const char* kAllowed[] = {
    // I/O on descriptors it already has: console, stdin, KVM, host streams
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "lseek",
    "close",
    "fstat",
    "newfstatat",
    "statx",
    "fcntl",
    "dup",
    "dup3",
    // a new VM's and vCPU's descriptors from the thread that made them
    // (vm_pool.cpp): the only pidfd is that thread's
    "pidfd_getfd",
    "fsync",
    "fdatasync",
    "ftruncate",
    "fallocate",
    "ioctl",
    // waiting for several descriptors; the I/O thread's doorbells
    "poll",
    "ppoll",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "eventfd2",
    "pipe2",
    // host streams it was handed or accepts
    "accept4",
    "accept",
    "recvfrom",
    "sendto",
    "recvmsg",
    "sendmsg",
    "shutdown",
    "getsockopt",
    "setsockopt",
    "getsockname",
    "getpeername",
    // memory: guest RAM, snapshot mappings, the allocator
    "mmap",
    "munmap",
    "mprotect",
    "madvise",
    "mremap",
    "brk",
    "msync",
    "mincore",
    // threads (clone is narrowed to threads below) and their sync
    "futex",
    "set_robust_list",
    "rseq",
    "sched_yield",
    "sched_getaffinity",
    "exit",
    "exit_group",
    // limits and watchdogs: POSIX timers signal the vCPU thread
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sigaltstack",
    "tgkill",
    "tkill",
    "getpid",
    "gettid",
    "timer_create",
    "timer_settime",
    "timer_gettime",
    "timer_delete",
    // time slices of the guest's threads: a timerfd per running VM, served
    // by the I/O thread (vm_preempt.cpp)
    "timerfd_create",
    "timerfd_settime",
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "nanosleep",
    "gettimeofday",
    "restart_syscall",
    // entropy for new instances; harmless identity queries
    "getrandom",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getrlimit",
    "uname",
};

Result<SandboxLayer> load_seccomp(const SandboxPolicy& p) {
    SandboxLayer l{"seccomp", false, ""};
    if (!p.seccomp) return off(l, "asked");
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx) return Status::internal("sandbox: seccomp_init failed");
    struct Release {
        scmp_filter_ctx c;
        ~Release() { seccomp_release(c); }
    } release{ctx};
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);  // every thread
    for (const char* name : kAllowed) {
        const int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR) continue;  // not on this kernel's table
        rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    }
    rc = rc ? rc : add_clone_and_rlimit_rules(ctx);
    // A thread's own narrower filter (sandbox_thread.cpp): only adding one
    // to the calling thread (flags 0, no TSYNC), which can only take
    // permissions away; and naming the thread after its kind.
    rc = rc ? rc
            : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(seccomp), 2,
                               SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER),
                               SCMP_A1(SCMP_CMP_EQ, 0));
    rc = rc ? rc
            : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                               SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
    std::vector<int> extra;
    if (p.allow_outbound || p.allow_listen) extra.push_back(SCMP_SYS(socket));
    if (p.allow_outbound) extra.push_back(SCMP_SYS(connect));
    if (p.allow_listen) extra.insert(extra.end(), {SCMP_SYS(bind), SCMP_SYS(listen)});
    if (p.allow_file_writes)
        extra.insert(extra.end(), {SCMP_SYS(openat), SCMP_SYS(rename), SCMP_SYS(renameat),
                                   SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(fchmod)});
    if (p.allow_volumes)
        extra.insert(extra.end(),
                     {SCMP_SYS(openat2), SCMP_SYS(mkdirat), SCMP_SYS(unlinkat), SCMP_SYS(renameat2),
                      SCMP_SYS(symlinkat), SCMP_SYS(readlinkat), SCMP_SYS(getdents64),
                      SCMP_SYS(fchmod), SCMP_SYS(utimensat), SCMP_SYS(linkat)});
    for (int nr : extra) rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    // Local pairs only: no socket of any family reaches outside the process.
    if (p.allow_socketpair)
        rc = rc ? rc
                : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
                                   SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
    if (rc != 0)
        return Status::internal(std::string("sandbox: building the seccomp filter: ") +
                                std::strerror(-rc));
    if ((rc = seccomp_load(ctx)) != 0)
        return Status::internal(std::string("sandbox: loading the seccomp filter: ") +
                                std::strerror(-rc));
    note_process_seccomp_loaded();
    l.active = true;
    l.detail =
        std::to_string(std::size(kAllowed) + 4 + extra.size() + (p.allow_socketpair ? 1 : 0)) +
        " system calls";
    if (p.allow_outbound) l.detail += ", outbound connect";
    if (p.allow_listen) l.detail += ", listen";
    if (p.allow_file_writes) l.detail += ", file writes";
    if (p.allow_volumes) l.detail += ", volumes";
    if (p.allow_socketpair) l.detail += ", socketpair";
    return l;
}

}  // namespace

std::string SandboxReport::summary() const {
    std::string s;
    for (const auto& l : layers) {
        if (!s.empty()) s += ' ';
        s += l.name + (l.active ? "=on(" : "=off(") + l.detail + ")";
    }
    return s;
}

bool SandboxReport::all_active() const {
    for (const auto& l : layers)
        if (!l.active) return false;
    return !layers.empty();
}

Result<SandboxReport> enter_sandbox(const SandboxPolicy& policy) {
    SandboxReport r;
    bool in_userns = false;
    r.layers.push_back(enter_namespaces(policy, &in_userns));
    auto fs = enter_empty_root(policy, r.layers.back().active);
    if (!fs) return fs.status();
    r.layers.push_back(*fs);
    auto lim = set_rlimits(policy);
    if (!lim) return lim.status();
    r.layers.push_back(*lim);
    auto user = drop_privileges(policy, in_userns);
    if (!user) return user.status();
    r.layers.push_back(*user);
    auto sc = load_seccomp(policy);
    if (!sc) return sc.status();
    r.layers.push_back(*sc);
    return r;
}

}  // namespace ember
