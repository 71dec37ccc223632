// proc.cpp - processes (proc.h): the process list, switches, fork/vfork,
// exit and zombies, wait4/waitid, ids, groups and sessions, kill.
#include "proc/proc.h"

#include "vol_mmap.h"

namespace k {
namespace {

constexpr uint64_t kCloneVm = 0x100, kCloneVfork = 0x4000, kCloneParentSettid = 0x100000,
                   kCloneChildCleartid = 0x200000, kCloneChildSettid = 0x1000000,
                   kCloneSettls = 0x80000;
constexpr uint32_t kMaxProcesses = 1024;

Process g_first;
Process* g_procs = &g_first;   // every process not yet reaped, the first one first
Process* g_loaded = &g_first;  // whose per-process state the globals hold
uint32_t g_nprocs = 1;

Process* find(int64_t pid) {
    for (Process* p = g_procs; p; p = p->next)
        if (p->pid == pid) return p;
    return nullptr;
}

// Moves the per-process globals from `from` into its Process and loads
// `to`'s (no CR3 change: mm_set_current does that).
void swap_state(Process* from, Process* to) {
    sigproc_save(&from->sig);
    from->fdt = fs::fdt_current();
    from->cwd = fs::exchange_cwd(to->cwd);
    from->umask = fs::set_umask(to->umask);
    sigproc_load(&to->sig);
    fs::fdt_set(to->fdt);
    g_loaded = to;
}

// Wakes the threads of p blocked for a child (wait4, vfork).
void wake_child_waiters(Process* p) {
    for (Thread* t = g_threads; t; t = t->all_next)
        if (t->proc == p && t->state == ThreadState::kBlocked && t->wait == WaitKind::kChild)
            make_runnable(t);
}

// Sends sig to p (or its thread t), which may be another process than the
// running one.
void send_to(Process* p, Thread* t, int sig, const SigInfo& info);
void send_to(Process* p, int sig, const SigInfo& info) { send_to(p, nullptr, sig, info); }

// p's end: every thread is dead or is the caller's; frees what the zombie
// does not need, reparents its children, tells its parent. The memory is
// dropped by the caller once p's address space is no longer live.
void make_zombie(Process* p, int wstatus) {
    fs::fdt_close_all(p == g_loaded ? fs::fdt_current() : p->fdt);
    timers_exit(p);
    proc_release_vfork(p);
    jobctl_exit(p);
    for (Process* c = g_procs; c; c = c->next) {
        if (c->parent != p) continue;
        c->parent = &g_first;
        c->reparented = true;
        if (c->state == ProcState::kZombie) wake_child_waiters(&g_first);
        if (c->state == ProcState::kLive && c->pdeathsig) {
            SigInfo info{};
            info.f[0] = static_cast<uint32_t>(p->pid);
            send_to(c, c->pdeathsig, info);
        }
    }
    p->state = ProcState::kZombie;
    p->wstatus = wstatus;
    Process* parent = p->parent;
    if (parent) {
        // SIG_IGN or SA_NOCLDWAIT for SIGCHLD: the child leaves no zombie.
        constexpr uint64_t kSaNocldwait = 2;
        const KSigaction& a =
            parent == g_loaded ? g_sigactions[kSigChld] : parent->sig.actions[kSigChld];
        p->autoreap = a.handler == kSigIgn || (a.flags & kSaNocldwait);
    }
    if (parent && p->exit_signal) {
        SigInfo info{};
        info.signo = p->exit_signal;
        info.code = (wstatus & 0x7f) ? 2 : 1;  // CLD_KILLED : CLD_EXITED
        info.f[0] = static_cast<uint32_t>(p->pid) | (static_cast<uint64_t>(p->cred.uid[0]) << 32);
        info.f[1] = static_cast<uint64_t>((wstatus & 0x7f) ? (wstatus & 0x7f) : (wstatus >> 8));
        send_to(parent, p->exit_signal, info);
    }
    if (parent) wake_child_waiters(parent);
}

void reap(Process* p) {
    for (Process** pp = &g_procs; *pp; pp = &(*pp)->next) {
        if (*pp != p) continue;
        *pp = p->next;
        break;
    }
    g_nprocs--;
    fs::fdt_free(p->fdt);
    if (p->cwd) fs::inode_put(p->cwd);
    sigproc_free(&p->sig);
    kfree(p->exe);
    kfree(p);
}

// Ends p, which does not run (a fatal signal from another process).
void kill_process(Process* p, int sig) {
    if (p == &g_first) {
        console_flush();
        klog("killed by signal %d", sig);
        exit_instance(128 + sig);
    }
    for (Thread* t = g_threads; t; t = t->all_next)
        if (t->proc == p) sched_kill(t);
    make_zombie(p, sig);
    proc_mm_drop(p->mm);
    p->mm = nullptr;
    if (p->autoreap) reap(p);
}

void send_to(Process* p, Thread* t, int sig, const SigInfo& info) {
    if (p->state != ProcState::kLive) return;
    if (p == g_loaded) {
        signal_send(t, sig, info);
        return;
    }
    Process* self = g_loaded;
    swap_state(self, p);
    const int kill = signal_send_borrowed(t, sig, info);
    swap_state(p, self);
    if (kill) kill_process(p, kill);
}

bool matches(const Process* c, int64_t pid, const Process* self) {
    if (pid > 0) return c->pid == pid;
    if (pid == 0) return c->pgid == self->pgid;
    if (pid == -1) return true;
    return c->pgid == -pid;
}

}  // namespace

Process* proc_current() { return g_loaded; }

void proc_mm_drop(Mm* m) {
    if (m->refs == 1) sites_forget(m);
    mm_release(m);
}
Process* proc_list() { return g_procs; }
Process* proc_find(int64_t pid) { return find(pid); }
void proc_load(Process* p) {
    if (p != g_loaded) swap_state(g_loaded, p);
}
void proc_send(Process* p, int sig, const SigInfo& info) { send_to(p, sig, info); }
void proc_send_thread(Process* p, Thread* t, int sig, const SigInfo& info) {
    send_to(p, t, sig, info);
}
void proc_wake_child_waiters(Process* p) { wake_child_waiters(p); }
const KSigaction& proc_sigaction(const Process* p, int sig) {
    return p == g_loaded ? g_sigactions[sig] : p->sig.actions[sig];
}
Process* proc_running() { return current()->proc; }

void proc_init() {
    g_first.pid = g_first.pgid = g_first.sid = 1;
    g_first.live_threads = 1;
    g_first.mm = mm_current();
    g_first.umask = 022;
    g_first.cred.dumpable = 1;
    // comm: the program's file name, as Linux sets it at exec.
    const char* fn = boot()->execfn;
    const char* base = fn;
    for (const char* q = fn; *q; ++q)
        if (*q == '/') base = q + 1;
    memcpy(g_first.comm, base, strnlen(base, sizeof g_first.comm - 1));
    current()->proc = &g_first;
    fs::lock_pid_hook = [] { return proc_running()->pid; };
}

void proc_switch(Process* from, Process* to) {
    swap_state(from, to);
    Mm* old = mm_current();
    mm_set_current(to->mm);
    // The dying process's memory can go once its tables are not live.
    if (from->state == ProcState::kZombie && from->mm) {
        KCHECK(from->mm == old);
        proc_mm_drop(from->mm);
        from->mm = nullptr;
        if (from->autoreap) reap(from);
    }
}

int64_t proc_fork(uint64_t flags, uint64_t newsp, uint64_t ptid, uint64_t ctid, uint64_t tls,
                  int exit_signal) {
    if ((flags & kCloneSettls) && (tls >> 47)) return -EPERM;
    if (g_nprocs >= kMaxProcesses) return -EAGAIN;
    const uint64_t t0 = __builtin_ia32_rdtsc();
    Process* self = current()->proc;
    auto* c = static_cast<Process*>(kmalloc(sizeof(Process)));
    if (!c) return -ENOMEM;
    memset(c, 0, sizeof *c);
    const bool share_vm = flags & kCloneVm;
    c->mm = share_vm ? mm_current() : mm_fork(current_frame()->rsp);
    c->fdt = fs::fdt_fork();
    if (!c->mm || !c->fdt) {
        if (c->fdt) fs::fdt_free(c->fdt);
        if (c->mm && !share_vm) mm_release(c->mm);
        kfree(c);
        return -ENOMEM;
    }
    if (share_vm)
        mm_share(c->mm);
    else
        sites_fork(mm_current(), c->mm);
    Thread* t = thread_create(c, flags, newsp, tls);
    if (!t) {
        fs::fdt_free(c->fdt);
        proc_mm_drop(c->mm);
        kfree(c);
        return -ENOMEM;
    }
    c->pid = t->tid;
    c->pgid = self->pgid;
    c->sid = self->sid;
    c->state = ProcState::kLive;
    c->exit_signal = exit_signal;
    c->parent = self;
    c->cwd = fs::cwd();
    if (c->cwd) fs::inode_get(c->cwd);
    c->umask = fs::umask();
    sigproc_fork(&c->sig);
    c->cred = self->cred;
    memcpy(c->comm, self->comm, sizeof c->comm);
    if (self->exe) {
        const size_t n = strlen(self->exe) + 1;
        if ((c->exe = static_cast<char*>(kmalloc(n)))) memcpy(c->exe, self->exe, n);
    }
    Process** tail = &g_procs;
    while (*tail) tail = &(*tail)->next;
    *tail = c;
    g_nprocs++;
    if (flags & kCloneChildCleartid) t->clear_tid = ctid;
    if (flags & kCloneParentSettid) (void)put_user(ptid, c->pid);
    if (flags & kCloneChildSettid) {
        // The child's copy of the word: written through its frame.
        const uint64_t page = pt_lookup(c->mm, ctid & ~(EMBER_PAGE_SIZE - 1));
        if (user_ok_write(ctid, 4) && (ctid & (EMBER_PAGE_SIZE - 1)) <= EMBER_PAGE_SIZE - 4)
            *reinterpret_cast<int32_t*>(page + (ctid & (EMBER_PAGE_SIZE - 1))) = c->pid;
    }
    make_runnable(t);
    boot()->stat_forks++;
    boot()->stat_fork_tsc += __builtin_ia32_rdtsc() - t0;
    if (flags & kCloneVfork) {
        // The parent sleeps until the child has execed or exited: they
        // share the memory (and the child runs on the parent's stack).
        c->vfork_parent = current();
        while (c->vfork_parent) {
            current()->state = ThreadState::kBlocked;
            current()->wait = WaitKind::kChild;
            current()->deadline = 0;
            schedule();
        }
    }
    return c->pid;
}

void proc_release_vfork(Process* p) {
    if (Thread* t = p->vfork_parent) {
        p->vfork_parent = nullptr;
        if (t->state == ThreadState::kBlocked) make_runnable(t);
    }
}

void proc_kill_other_threads() {
    Process* p = current()->proc;
    for (Thread* t = g_threads; t; t = t->all_next)
        if (t->proc == p && t != current()) sched_kill(t);
}

[[noreturn]] void proc_exit_current(int wstatus) {
    Process* p = current()->proc;
    volmap_sync_current();  // what it wrote to shared volume mappings stays
    if (p == &g_first) {
        const int sig = wstatus & 0x7f;
        exit_instance(sig ? 128 + sig : (wstatus >> 8) & 0xff);
    }
    proc_kill_other_threads();
    make_zombie(p, wstatus);
    // The last thread: its process's memory goes at the switch away
    // (proc_switch), when its tables are no longer live.
    exit_current_thread();
}

// As Linux's kill_something_info: -1 means every process but the first and
// the caller.
int64_t proc_kill(int64_t pid, int sig, const SigInfo& info) {
    Process* self = current()->proc;
    if (pid == INT32_MIN) return -ESRCH;
    int found = 0;
    for (Process* p = g_procs; p;) {
        Process* next = p->next;
        const bool hit = pid == -1 ? (p != &g_first && p != self) : matches(p, pid, self);
        if (hit && p->state == ProcState::kLive) {
            found++;
            if (sig) send_to(p, sig, info);
        }
        p = next;
    }
    return found ? 0 : -ESRCH;
}

namespace {

constexpr uint64_t kWnohang = 1, kWuntraced = 2, kWexited = 4, kWcontinued = 8,
                   kWnowait = 0x01000000, kWnothread = 0x20000000, kWall = 0x40000000,
                   kWclone = 0x80000000;

// What a wait reports about a child.
enum class Event : uint8_t { kExited, kStopped, kContinued };

// wait4 / waitid: the first child matching pid with something to report,
// as Linux's wait_consider_task looks at each child in turn: its exit (when
// `exited`), a stop not yet reported (WUNTRACED), a continue not yet
// reported (WCONTINUED). *none when there is no matching child at all.
Process* find_event(int64_t pid, uint64_t options, bool exited, Event* ev, bool* none) {
    Process* self = current()->proc;
    *none = true;
    for (Process* c = g_procs; c; c = c->next) {
        if (c->parent != self || !matches(c, pid, self)) continue;
        if (c->state == ProcState::kZombie && c->autoreap) continue;  // being reaped
        *none = false;
        if (c->state == ProcState::kZombie) {
            if (!exited) continue;
            *ev = Event::kExited;
            return c;
        }
        if ((options & kWuntraced) && c->stopped && c->stop_report) {
            *ev = Event::kStopped;
            return c;
        }
        if ((options & kWcontinued) && c->cont_report) {
            *ev = Event::kContinued;
            return c;
        }
    }
    return nullptr;
}

// Blocks until a child changes state or a signal comes; -kErestartsys when
// a signal is already pending (the caller looked for a child first, so a
// child's exit that also sent SIGCHLD is reported, as on Linux).
int64_t wait_for_child() {
    if (signal_pending_now()) return -kErestartsys;
    current()->state = ThreadState::kBlocked;
    current()->wait = WaitKind::kChild;
    current()->deadline = 0;
    schedule();
    return 0;
}

int64_t sys_wait4(uint64_t pid, uint64_t status, uint64_t options, uint64_t rusage, uint64_t,
                  uint64_t) {
    if (options & ~(kWnohang | kWuntraced | kWcontinued | kWnothread | kWall | kWclone))
        return -EINVAL;
    const int64_t want = static_cast<int32_t>(pid);
    for (;;) {
        bool none;
        Event ev;
        if (Process* c = find_event(want, options, true, &ev, &none)) {
            const int32_t cpid = c->pid;
            // Linux's encodings: 0x7f | sig << 8 for a stop, 0xffff for a continue.
            const int32_t st = ev == Event::kExited    ? c->wstatus
                               : ev == Event::kStopped ? 0x7f | (c->stop_sig << 8)
                                                       : 0xffff;
            if (status && put_user(status, st) < 0) return -EFAULT;
            if (rusage && clear_user(rusage, 144) < 0) return -EFAULT;
            if (ev == Event::kExited) reap(c);
            if (ev == Event::kStopped) c->stop_report = false;
            if (ev == Event::kContinued) c->cont_report = false;
            return cpid;
        }
        if (none) return -ECHILD;
        if (options & kWnohang) return 0;
        if (int64_t r = wait_for_child(); r < 0) return r;
    }
}

int64_t sys_waitid(uint64_t idtype, uint64_t id, uint64_t infop, uint64_t options, uint64_t rusage,
                   uint64_t) {
    constexpr uint64_t kPAll = 0, kPPid = 1, kPPgid = 2;
    constexpr int32_t kCldExited = 1, kCldKilled = 2, kCldStopped = 5, kCldContinued = 6;
    if (options &
        ~(kWnohang | kWexited | kWuntraced | kWcontinued | kWnowait | kWnothread | kWall | kWclone))
        return -EINVAL;
    if (!(options & (kWexited | kWuntraced | kWcontinued))) return -EINVAL;
    int64_t want;
    if (idtype == kPAll)
        want = -1;
    else if (idtype == kPPid && static_cast<int32_t>(id) > 0)
        want = static_cast<int32_t>(id);
    else if (idtype == kPPgid)
        want = id ? -static_cast<int64_t>(static_cast<int32_t>(id)) : 0;
    else
        return -EINVAL;
    for (;;) {
        bool none;
        Event ev;
        if (Process* c = find_event(want, options, options & kWexited, &ev, &none)) {
            uint8_t si[128] = {};
            int32_t code, status;
            if (ev == Event::kExited) {
                const int32_t st = c->wstatus, sig = st & 0x7f;
                code = sig ? kCldKilled : kCldExited;
                status = sig ? sig : (st >> 8) & 0xff;
            } else if (ev == Event::kStopped) {
                code = kCldStopped;
                status = c->stop_sig;
            } else {
                code = kCldContinued;
                status = kSigCont;
            }
            const int32_t fields[7] = {
                kSigChld, 0, code, 0, c->pid, static_cast<int32_t>(c->cred.uid[0]), status};
            memcpy(si, fields, sizeof fields);
            if (infop && copy_to_user(infop, si, sizeof si) < 0) return -EFAULT;
            if (rusage && clear_user(rusage, 144) < 0) return -EFAULT;
            if (!(options & kWnowait)) {
                if (ev == Event::kExited) reap(c);
                if (ev == Event::kStopped) c->stop_report = false;
                if (ev == Event::kContinued) c->cont_report = false;
            }
            return 0;
        }
        if (none) return -ECHILD;
        if (options & kWnohang) {
            if (infop && clear_user(infop, 128) < 0) return -EFAULT;
            return 0;
        }
        if (int64_t r = wait_for_child(); r < 0) return r;
    }
}

int64_t sys_getpid(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return current()->proc->pid;
}
int64_t sys_getppid(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    Process* p = current()->proc->parent;
    return p ? p->pid : 0;
}

Process* target(uint64_t pid) {
    return pid == 0 ? current()->proc : find(static_cast<int32_t>(pid));
}

int64_t sys_getpgid(uint64_t pid, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    Process* p = target(pid);
    return p ? p->pgid : -ESRCH;
}
int64_t sys_getpgrp(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return current()->proc->pgid;
}
int64_t sys_getsid(uint64_t pid, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    Process* p = target(pid);
    return p ? p->sid : -ESRCH;
}

int64_t sys_setpgid(uint64_t pid, uint64_t pgid, uint64_t, uint64_t, uint64_t, uint64_t) {
    Process* self = current()->proc;
    if (static_cast<int64_t>(pgid) < 0) return -EINVAL;
    Process* p = target(pid);
    if (!p || (p != self && p->parent != self)) return -ESRCH;
    if (p->sid != self->sid) return -EPERM;
    if (p->pid == p->sid) return -EPERM;  // a session leader
    const int32_t g = pgid ? static_cast<int32_t>(pgid) : p->pid;
    if (g != p->pid) {
        bool exists = false;
        for (Process* q = g_procs; q; q = q->next)
            exists = exists || (q->pgid == g && q->sid == self->sid);
        if (!exists) return -EPERM;
    }
    p->pgid = g;
    return 0;
}

int64_t sys_setsid(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    Process* self = current()->proc;
    for (Process* q = g_procs; q; q = q->next)
        if (q->pgid == self->pid) return -EPERM;  // already a group leader
    self->sid = self->pgid = self->pid;
    return self->sid;
}

int64_t sys_exit_group(uint64_t status, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    proc_exit_current(static_cast<int>((status & 0xff) << 8));
}

int64_t sys_prctl(uint64_t option, uint64_t arg2, uint64_t, uint64_t, uint64_t, uint64_t) {
    constexpr uint64_t kSetPdeathsig = 1, kGetPdeathsig = 2, kGetDumpable = 3, kSetDumpable = 4,
                       kSetName = 15, kGetName = 16;
    Process* self = current()->proc;
    switch (option) {
        case kSetPdeathsig:
            if (arg2 > 64) return -EINVAL;
            self->pdeathsig = static_cast<int>(arg2);
            return 0;
        case kGetPdeathsig:
            return put_user(arg2, int32_t{self->pdeathsig});
        case kGetDumpable:
            return self->cred.dumpable;
        case kSetDumpable:
            if (arg2 > 1) return -EINVAL;
            self->cred.dumpable = static_cast<uint32_t>(arg2);
            return 0;
        case kSetName: {
            char name[16] = {};
            for (int i = 0; i < 15; ++i) {
                if (get_user(&name[i], arg2 + i) < 0) return -EFAULT;
                if (!name[i]) break;
            }
            memcpy(self->comm, name, sizeof name);
            return 0;
        }
        case kGetName:
            return copy_to_user(arg2, self->comm, sizeof self->comm);
        default:
            return -EINVAL;
    }
}

}  // namespace

void register_proc_syscalls() {
    syscall_register(nr::wait4, "wait4", sys_wait4);
    syscall_register(nr::waitid, "waitid", sys_waitid);
    syscall_register(nr::getpid, "getpid", sys_getpid);
    syscall_register(nr::getppid, "getppid", sys_getppid);
    syscall_register(nr::getpgid, "getpgid", sys_getpgid);
    syscall_register(nr::getpgrp, "getpgrp", sys_getpgrp);
    syscall_register(nr::getsid, "getsid", sys_getsid);
    syscall_register(nr::setpgid, "setpgid", sys_setpgid);
    syscall_register(nr::setsid, "setsid", sys_setsid);
    syscall_register(nr::exit_group, "exit_group", sys_exit_group);
    syscall_register(nr::prctl, "prctl", sys_prctl);
    register_exec_syscalls();
    register_cred_syscalls();
}

}  // namespace k
