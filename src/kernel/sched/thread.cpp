// thread.cpp - thread syscalls: clone and clone3 (threads only), exit vs exit_group,
// tids, CHILD_CLEARTID, robust lists, yield, affinity, getcpu, membarrier.
#include "proc/proc.h"

extern "C" char thread_first_return[];
extern "C" char preempt_entry[];

namespace k {
namespace {

constexpr uint64_t kCloneVm = 0x100, kCloneFs = 0x200, kCloneFiles = 0x400, kCloneSighand = 0x800,
                   kCloneThread = 0x10000, kCloneSysvsem = 0x40000, kCloneSettls = 0x80000,
                   kCloneParentSettid = 0x100000, kCloneChildCleartid = 0x200000,
                   kCloneDetached = 0x400000, kCloneChildSettid = 0x1000000, kCsignal = 0xff;
constexpr uint64_t kThreadFlags = kCloneVm | kCloneFs | kCloneFiles | kCloneSighand | kCloneThread;
constexpr uint64_t kCloneVfork = 0x4000;
// What a new process may ask for: fork, vfork and posix_spawn's sets.
constexpr uint64_t kProcessFlags = kCloneVm | kCloneVfork | kCloneSysvsem | kCloneSettls |
                                   kCloneParentSettid | kCloneChildCleartid | kCloneChildSettid;
constexpr uint64_t kKstackPages = 16;  // 64 KiB: the deepest syscalls use ~16 KiB
constexpr uint32_t kMaxThreads = 4096;

int32_t g_next_tid = 2;

}  // namespace

int32_t alloc_tid() { return g_next_tid++; }

// A thread of p that resumes the application exactly where the caller
// does, with its registers (but rax = 0) and its vector state, on newsp
// (0: the same stack). nullptr when out of memory.
Thread* thread_create(Process* p, uint64_t flags, uint64_t newsp, uint64_t tls) {
    Thread* parent = current();
    if (!g_xsave_pages) {
        xsave_probe();
        g_xsave_pages = (g_xsave.size + EMBER_PAGE_SIZE - 1) / EMBER_PAGE_SIZE;
    }
    if (!parent->xsave) {
        parent->xsave = reinterpret_cast<uint8_t*>(pages_alloc(g_xsave_pages));
        if (!parent->xsave) return nullptr;
    }
    auto* t = static_cast<Thread*>(kmalloc(sizeof(Thread)));
    const uint64_t stack = pages_alloc(kKstackPages);
    auto* area = reinterpret_cast<uint8_t*>(pages_alloc(g_xsave_pages));
    if (!t || !stack || !area) {
        kfree(t);
        if (stack) pages_free(stack, kKstackPages);
        if (area) pages_free(reinterpret_cast<uint64_t>(area), g_xsave_pages);
        return nullptr;
    }
    t->proc = p;
    t->kstack_lo = stack;
    t->kstack_top = stack + kKstackPages * EMBER_PAGE_SIZE;
    t->xsave = area;
    auto* f = reinterpret_cast<SyscallFrame*>(t->kstack_top - sizeof(SyscallFrame));
    *f = *current_frame();
    if (newsp) f->rsp = newsp;
    auto* sp = reinterpret_cast<uint64_t*>(f);
    *--sp = reinterpret_cast<uint64_t>(thread_first_return);
    for (int i = 0; i < 6; ++i) *--sp = 0;  // switch_stacks pops rbp rbx r12..r15
    t->ksp = reinterpret_cast<uint64_t>(sp);
    t->fs_base = (flags & kCloneSettls) ? tls : rdfsbase();
    t->gs_base = rdgsbase();
    xsave(t->xsave);
    t->tid = alloc_tid();
    t->sigmask = parent->sigmask;  // as Linux; pending sets and sigaltstack start empty
    Thread** tail = &g_threads;
    while (*tail) tail = &(*tail)->all_next;
    *tail = t;
    g_live_threads++;
    p->live_threads++;
    return t;
}

namespace {

// A new thread for clone and clone3 (flags already checked).
int64_t new_thread(uint64_t flags, uint64_t newsp, uint64_t ptid, uint64_t ctid, uint64_t tls) {
    if ((flags & kCloneSettls) && (tls >> 47)) return -EPERM;
    if (g_live_threads >= kMaxThreads) return -EAGAIN;
    Thread* t = thread_create(current()->proc, flags, newsp, tls);
    if (!t) return -ENOMEM;
    if (flags & kCloneChildCleartid) t->clear_tid = ctid;
    const int32_t tid = t->tid;
    // Linux ignores faults on these two stores.
    if (flags & kCloneParentSettid) (void)put_user(ptid, tid);
    if (flags & kCloneChildSettid) (void)put_user(ctid, tid);
    make_runnable(t);  // the parent keeps running, as on Linux
    return tid;
}

int64_t sys_clone(uint64_t flags, uint64_t newsp, uint64_t ptid, uint64_t ctid, uint64_t tls,
                  uint64_t) {
    if ((flags & kThreadFlags) != kThreadFlags) {
        if (flags & (kCloneThread | kCloneSighand | kCloneFiles | kCloneFs)) return -EINVAL;
        if (flags & ~(kProcessFlags | kCsignal)) return -EINVAL;
        return proc_fork(flags, newsp, ptid, ctid, tls, static_cast<int>(flags & kCsignal));
    }
    constexpr uint64_t kAllowed = kThreadFlags | kCloneSysvsem | kCloneSettls | kCloneParentSettid |
                                  kCloneChildCleartid | kCloneDetached | kCloneChildSettid |
                                  kCsignal;
    if (flags & ~kAllowed) return -EINVAL;
    return new_thread(flags, newsp, ptid, ctid, tls);
}

// struct clone_args of the Linux ABI (CLONE_ARGS_SIZE_VER2).
struct CloneArgs {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
        set_tid_size, cgroup;
};
constexpr uint64_t kCloneArgsVer0 = 64;

// clone3: the same threads as clone, with Linux's checks of the struct
// (copy_struct_from_user: a larger struct must be zero beyond ours) and of
// its fields, in Linux's order.
int64_t sys_clone3(uint64_t uargs, uint64_t size, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (size > EMBER_PAGE_SIZE) return -E2BIG;
    if (size < kCloneArgsVer0) return -EINVAL;
    CloneArgs a{};
    const uint64_t n = size < sizeof a ? size : sizeof a;
    if (copy_from_user(&a, uargs, n) < 0) return -EFAULT;
    for (uint64_t off = sizeof a; off < size; off += 8) {
        uint64_t tail = 0;
        const uint64_t len = size - off < 8 ? size - off : 8;
        if (copy_from_user(&tail, uargs + off, len) < 0) return -EFAULT;
        if (tail) return -E2BIG;
    }
    constexpr uint64_t kSetTidMax = 32, kCloneClearSighand = 0x100000000ull,
                       kCloneIntoCgroup = 0x200000000ull, kCloneParent = 0x8000,
                       kCloneNewtime = 0x80;
    if (a.set_tid_size > kSetTidMax || (!a.set_tid && a.set_tid_size) ||
        (a.set_tid && !a.set_tid_size))
        return -EINVAL;
    if ((a.exit_signal & ~kCsignal) || a.exit_signal > 64) return -EINVAL;
    if ((a.flags & kCloneIntoCgroup) && (a.cgroup > 0x7fffffff || size < sizeof a)) return -EINVAL;
    if (a.flags & ~(0xffffffffull | kCloneClearSighand | kCloneIntoCgroup)) return -EINVAL;
    if (a.flags & (kCloneDetached | (kCsignal & ~kCloneNewtime))) return -EINVAL;
    if ((a.flags & kCloneSighand) && (a.flags & kCloneClearSighand)) return -EINVAL;
    if ((a.flags & (kCloneThread | kCloneParent)) && a.exit_signal) return -EINVAL;
    if (a.stack ? !a.stack_size : a.stack_size) return -EINVAL;
    if ((a.flags & kThreadFlags) != kThreadFlags) {
        if (a.flags & (kCloneThread | kCloneSighand | kCloneFiles | kCloneFs)) return -EINVAL;
        if (a.flags & ~kProcessFlags) return -EINVAL;
        if (a.set_tid) return -EINVAL;
        return proc_fork(a.flags, a.stack ? a.stack + a.stack_size : 0, a.parent_tid, a.child_tid,
                         a.tls, static_cast<int>(a.exit_signal));
    }
    constexpr uint64_t kAllowed = kThreadFlags | kCloneSysvsem | kCloneSettls | kCloneParentSettid |
                                  kCloneChildCleartid | kCloneChildSettid;
    if (a.flags & ~kAllowed) return -EINVAL;
    if (a.set_tid) return -EINVAL;  // no pid namespaces: only the caller's own tid could match
    return new_thread(a.flags, a.stack ? a.stack + a.stack_size : 0, a.parent_tid, a.child_tid,
                      a.tls);
}

// struct robust_list_head of the Linux ABI.
struct RobustHead {
    uint64_t next;
    int64_t futex_offset;
    uint64_t pending;
};

// A robust mutex still held by a dying thread: mark the owner dead and wake
// one waiter, as Linux's handle_futex_death does.
void futex_owner_died(uint64_t uaddr, int32_t tid) {
    constexpr uint32_t kWaiters = 0x80000000u, kOwnerDied = 0x40000000u, kTidMask = 0x3fffffffu;
    uint32_t v;
    if (uaddr % 4 || get_user(&v, uaddr) < 0) return;
    if ((v & kTidMask) != static_cast<uint32_t>(tid)) return;
    const uint32_t nv = (v & kWaiters) | kOwnerDied;
    if (put_user(uaddr, nv) < 0) return;
    if (v & kWaiters) futex_wake(uaddr, 1, ~0u);
}

void walk_robust_list(Thread* t) {
    if (!t->robust_head) return;
    RobustHead h;
    if (get_user(&h, t->robust_head) < 0) return;
    uint64_t entry = h.next & ~1ull;
    for (int limit = 2048; entry != t->robust_head && entry && limit > 0; --limit) {
        uint64_t next;
        if (get_user(&next, entry) < 0) return;
        if (entry != (h.pending & ~1ull)) futex_owner_died(entry + h.futex_offset, t->tid);
        entry = next & ~1ull;
    }
    if (h.pending & ~1ull) futex_owner_died((h.pending & ~1ull) + h.futex_offset, t->tid);
}

int64_t sys_exit(uint64_t status, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    Thread* t = current();
    const int code = static_cast<int>(status & 0xff);
    // The last thread's status is the process's (what Linux reports when
    // every thread left with exit, whichever exited first).
    if (t->proc->live_threads <= 1) proc_exit_current(code << 8);
    walk_robust_list(t);
    if (t->clear_tid && put_user(t->clear_tid, uint32_t{0}) == 0) futex_wake(t->clear_tid, 1, ~0u);
    exit_current_thread();
}

// fork and vfork: clone's process sets with SIGCHLD.
int64_t sys_fork(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return proc_fork(0, 0, 0, 0, 0, 17);
}
int64_t sys_vfork(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return proc_fork(kCloneVm | kCloneVfork, 0, 0, 0, 0, 17);
}

int64_t sys_gettid(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return current()->tid;
}

int64_t sys_set_tid_address(uint64_t addr, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    current()->clear_tid = addr;
    return current()->tid;
}

int64_t sys_set_robust_list(uint64_t head, uint64_t len, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (len != sizeof(RobustHead)) return -EINVAL;
    current()->robust_head = head;
    current()->robust_len = len;
    return 0;
}

int64_t sys_get_robust_list(uint64_t pid, uint64_t head_ptr, uint64_t len_ptr, uint64_t, uint64_t,
                            uint64_t) {
    Thread* t = pid ? thread_by_tid(static_cast<int32_t>(pid)) : current();
    if (!t) return -ESRCH;
    if (put_user(len_ptr, uint64_t{sizeof(RobustHead)}) < 0) return -EFAULT;
    return put_user(head_ptr, t->robust_head);
}

int64_t sys_sched_yield(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (threaded()) {
        make_runnable(current());
        schedule();
    }
    return 0;
}

bool pid_ok(uint64_t pid) { return pid == 0 || thread_by_tid(static_cast<int32_t>(pid)); }

int64_t sys_sched_getaffinity(uint64_t pid, uint64_t len, uint64_t mask, uint64_t, uint64_t,
                              uint64_t) {
    if (len < 8 || len % 8) return -EINVAL;
    if (!pid_ok(pid)) return -ESRCH;
    if (put_user(mask, uint64_t{1}) < 0) return -EFAULT;  // one vCPU
    return 8;
}

int64_t sys_sched_setaffinity(uint64_t pid, uint64_t len, uint64_t mask, uint64_t, uint64_t,
                              uint64_t) {
    uint64_t m = 0;
    if (copy_from_user(&m, mask, len < 8 ? len : 8) < 0) return -EFAULT;
    if (!pid_ok(pid)) return -ESRCH;
    return (m & 1) ? 0 : -EINVAL;  // the set must contain the one CPU
}

int64_t sys_getcpu(uint64_t cpu, uint64_t node, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (cpu && put_user(cpu, uint32_t{0}) < 0) return -EFAULT;
    if (node && put_user(node, uint32_t{0}) < 0) return -EFAULT;
    return 0;
}

// membarrier: one CPU, and a switch between threads is a full barrier, so
// every barrier is a no-op; the registration rules are Linux's.
uint64_t g_membarrier_registered;
int64_t sys_membarrier(uint64_t cmd, uint64_t flags, uint64_t, uint64_t, uint64_t, uint64_t) {
    constexpr uint64_t kQuery = 0, kGlobal = 1, kGlobalExp = 2, kRegGlobalExp = 4, kPrivExp = 8,
                       kRegPrivExp = 16, kPrivExpSync = 32, kRegPrivExpSync = 64,
                       kPrivExpRseq = 128, kRegPrivExpRseq = 256, kGetRegistrations = 512;
    constexpr uint64_t kAll = 1023;
    constexpr uint64_t kFlagCpu = 1;
    if (flags && !(cmd == kPrivExpRseq && flags == kFlagCpu)) return -EINVAL;
    switch (cmd) {
        case kQuery:
            return static_cast<int64_t>(kAll);
        case kGlobal:
        case kGlobalExp:
            return 0;
        case kRegGlobalExp:
        case kRegPrivExp:
        case kRegPrivExpSync:
        case kRegPrivExpRseq:
            g_membarrier_registered |= cmd;
            return 0;
        case kPrivExp:
        case kPrivExpSync:
        case kPrivExpRseq:
            return (g_membarrier_registered & (cmd << 1)) ? 0 : -EPERM;
        case kGetRegistrations:
            return static_cast<int64_t>(g_membarrier_registered);
        default:
            return -EINVAL;
    }
}

}  // namespace

void register_thread_syscalls() {
    boot()->preempt_entry = reinterpret_cast<uint64_t>(preempt_entry);
    syscall_register(nr::clone, "clone", sys_clone);
    syscall_register(nr::clone3, "clone3", sys_clone3);
    syscall_register(nr::exit, "exit", sys_exit);
    syscall_register(nr::fork, "fork", sys_fork);
    syscall_register(nr::vfork, "vfork", sys_vfork);
    syscall_register(nr::gettid, "gettid", sys_gettid);
    syscall_register(nr::set_tid_address, "set_tid_address", sys_set_tid_address);
    syscall_register(nr::set_robust_list, "set_robust_list", sys_set_robust_list);
    syscall_register(nr::get_robust_list, "get_robust_list", sys_get_robust_list);
    syscall_register(nr::sched_yield, "sched_yield", sys_sched_yield);
    syscall_register(nr::sched_getaffinity, "sched_getaffinity", sys_sched_getaffinity);
    syscall_register(nr::sched_setaffinity, "sched_setaffinity", sys_sched_setaffinity);
    syscall_register(nr::getcpu, "getcpu", sys_getcpu);
    syscall_register(nr::membarrier, "membarrier", sys_membarrier);
    register_futex_syscalls();
    register_signal_syscalls();
}

}  // namespace k
