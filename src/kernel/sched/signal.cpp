// signal.cpp - generation, delivery and the signal syscalls (signal.h).
#include "proc/proc.h"

namespace k {

KSigaction g_sigactions[65];
uint64_t g_sig_gen;

namespace {

uint64_t g_proc_pending;  // sent to the process as a whole
SigInfo g_proc_info[64];
SigQueued* g_proc_queue;
uint32_t g_queued;  // real-time signals queued, process-wide
// Linux's RLIMIT_SIGPENDING default is in the thousands; beyond this a
// real-time signal is merged with the pending one, as a standard one is.
constexpr uint32_t kMaxQueued = 1024;
constexpr int kSigRtmin = 32;

constexpr uint64_t kUnblockable = sigbit(kSigKill) | sigbit(kSigStop);
// Delivered before others, as Linux does (SIGSEGV SIGBUS SIGILL SIGTRAP SIGFPE SIGSYS).
constexpr uint64_t kSynchronous =
    sigbit(11) | sigbit(7) | sigbit(4) | sigbit(5) | sigbit(8) | sigbit(31);
constexpr int32_t kSiUser = 0, kSiTkill = -6;

// Linux's default actions: ignore (SIGCONT's continuing happens when it is
// sent), stop (stop_signal), or terminate.
bool default_ignored(int sig) {
    switch (sig) {
        case 17:  // SIGCHLD
        case 18:  // SIGCONT
        case 23:  // SIGURG
        case 28:  // SIGWINCH
            return true;
        default:
            return false;
    }
}

bool ignored(int sig) {
    const uint64_t h = g_sigactions[sig].handler;
    return sig != kSigKill && (h == kSigIgn || (h == kSigDfl && default_ignored(sig)));
}

bool default_stop(int sig) { return stop_signal(sig) && g_sigactions[sig].handler == kSigDfl; }

bool fatal(int sig) {
    return sig == kSigKill ||
           (g_sigactions[sig].handler == kSigDfl && !ignored(sig) && !stop_signal(sig));
}

// signal_send_borrowed: a fatal signal for a process that does not run.
bool g_borrowed;
int g_borrowed_kill;

[[noreturn]] void terminate(int sig) {
    console_flush();
    if (proc_current()->pid == 1) klog("killed by signal %d", sig);
    proc_exit_current(sig);
}

// The main thread of the process whose signal state is loaded.
Thread* main_thread() {
    for (Thread* u = g_threads; u; u = u->all_next)
        if (u->proc == proc_current() && u->state != ThreadState::kDead) return u;
    return g_threads;
}

// Wants sig: does not block it, or waits for it in rt_sigtimedwait.
bool takes(const Thread* t, uint64_t bit) {
    return t->state != ThreadState::kDead && (!(t->sigmask & bit) || (t->sigwait & bit));
}

void wake(Thread* t) {
    if (t->state != ThreadState::kBlocked) return;  // running or runnable: it will look
    if (t->wait == WaitKind::kStopped) return;      // only SIGCONT or SIGKILL end a stop
    if (t->wait == WaitKind::kFutex) futex_unqueue(t);
    make_runnable(t);
}

uint64_t deliverable(const Thread* t) { return (t->sigpending | g_proc_pending) & ~t->sigmask; }

// Takes the next signal out of `set` (synchronous ones first, then the
// lowest number; the thread's own before the process's).
// Moves the next queued instance of sig (if any) into its pending slot;
// false when there is none.
bool unqueue(SigQueued** q, int sig, SigInfo* slot) {
    for (SigQueued** pp = q; *pp; pp = &(*pp)->next) {
        SigQueued* e = *pp;
        if (e->info.signo != sig) continue;
        *slot = e->info;
        *pp = e->next;
        kfree(e);
        g_queued--;
        return true;
    }
    return false;
}

// Drops every queued instance of sig.
void drop_queued(SigQueued** q, int sig) {
    SigInfo dummy;
    while (unqueue(q, sig, &dummy)) {
    }
}

int dequeue(Thread* t, uint64_t set, SigInfo* info) {
    uint64_t pick = set & kSynchronous ? set & kSynchronous : set;
    const int sig = __builtin_ctzll(pick) + 1;
    const uint64_t bit = sigbit(sig);
    const bool own = t->sigpending & bit;
    uint64_t& pending = own ? t->sigpending : g_proc_pending;
    SigInfo* slot = own ? &t->siginfo[sig - 1] : &g_proc_info[sig - 1];
    *info = *slot;
    if (!unqueue(own ? &t->sigqueue : &g_proc_queue, sig, slot)) pending &= ~bit;
    return sig;
}

SigInfo user_info(int sig, int32_t code) {
    SigInfo i{};
    i.signo = sig;
    i.code = code;
    i.f[0] = static_cast<uint32_t>(proc_running()->pid);  // si_pid, si_uid = 0
    return i;
}

// The restart rules for the syscall whose result is r->rax, once it is
// known whether a handler runs (Linux's handle_signal / the no-handler
// case of arch_do_signal_or_restart).
void fix_restart(UserRegs* r, int64_t* syscall_nr, const KSigaction* act) {
    if (*syscall_nr < 0) return;
    if (static_cast<int64_t>(r->rax) == -kErestartRestartblock) {
        if (act) {
            r->rax = static_cast<uint64_t>(-EINTR);
            current()->restart = RestartBlock{};
        } else {
            r->rax = nr::restart_syscall;
            r->rip -= 2;
        }
    } else if (static_cast<int64_t>(r->rax) == -kErestartnohand) {
        if (act) {
            r->rax = static_cast<uint64_t>(-EINTR);
        } else {
            r->rax = static_cast<uint64_t>(*syscall_nr);
            r->rip -= 2;
        }
    } else if (static_cast<int64_t>(r->rax) == -kErestartsys) {
        if (!act || (act->flags & kSaRestart)) {
            r->rax = static_cast<uint64_t>(*syscall_nr);
            r->rip -= 2;  // the `syscall` instruction again (a patched site keeps it)
        } else {
            r->rax = static_cast<uint64_t>(-EINTR);
        }
    }
    *syscall_nr = -1;
}

}  // namespace

int64_t restart_block_set(const RestartBlock& b) {
    current()->restart = b;
    return -kErestartRestartblock;
}

namespace {
// The rest of a timed wait a stop interrupted; with none to continue,
// EINTR as Linux's do_no_restart_syscall.
int64_t sys_restart_syscall(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    const RestartBlock b = current()->restart;
    current()->restart = RestartBlock{};
    return b.fn ? b.fn(b) : -EINTR;
}
}  // namespace

bool signal_pending_now() { return deliverable(current()) != 0 || jobctl_stopped(); }

// Linux's prepare_signal: a stop signal discards a pending SIGCONT, and
// SIGCONT the pending stop signals (of the process and its threads).
void discard_pending(uint64_t mask) {
    g_proc_pending &= ~mask;
    for (Thread* t = g_threads; t; t = t->all_next)
        if (t->proc == proc_current()) t->sigpending &= ~mask;
}

void sigproc_save(SigProc* s) {
    memcpy(s->actions, g_sigactions, sizeof g_sigactions);
    s->pending = g_proc_pending;
    memcpy(s->info, g_proc_info, sizeof g_proc_info);
    s->queue = g_proc_queue;
}

void sigproc_load(const SigProc* s) {
    memcpy(g_sigactions, s->actions, sizeof g_sigactions);
    g_proc_pending = s->pending;
    memcpy(g_proc_info, s->info, sizeof g_proc_info);
    g_proc_queue = s->queue;
}

void sigproc_fork(SigProc* s) {
    memset(s, 0, sizeof *s);
    memcpy(s->actions, g_sigactions, sizeof g_sigactions);
}

void sigproc_exec() {
    for (auto& a : g_sigactions) {
        if (a.handler != kSigIgn) a.handler = kSigDfl;
        a.flags = 0;
        a.restorer = 0;
        a.mask = 0;
    }
}

void sigproc_free(SigProc* s) {
    while (SigQueued* e = s->queue) {
        s->queue = e->next;
        kfree(e);
        g_queued--;
    }
}

int signal_send_borrowed(Thread* t, int sig, const SigInfo& info) {
    // Nests: SIGCONT to another process tells that one's parent.
    const bool outer = g_borrowed;
    const int outer_kill = g_borrowed_kill;
    g_borrowed = true;
    g_borrowed_kill = 0;
    signal_send(t, sig, info);
    const int kill = g_borrowed_kill;
    g_borrowed = outer;
    g_borrowed_kill = outer_kill;
    return kill;
}

bool signal_ignored(int sig) { return ignored(sig); }

void signal_sets(int32_t tid, SignalSets* out) {
    *out = SignalSets{};
    out->shared = g_proc_pending;
    for (int sig = 1; sig <= 64; ++sig) {
        const uint64_t h = g_sigactions[sig].handler;
        if (h == kSigIgn) out->ignored |= sigbit(sig);
        if (h != kSigIgn && h != kSigDfl) out->caught |= sigbit(sig);
    }
    for (const Thread* t = g_threads; t; t = t->all_next) {
        if (t->tid != tid || t->state == ThreadState::kDead || t->proc != proc_current()) continue;
        out->pending = t->sigpending;
        out->blocked = t->sigmask;
    }
}

void signal_thread_gone(Thread* t) {
    while (SigQueued* e = t->sigqueue) {
        t->sigqueue = e->next;
        kfree(e);
        g_queued--;
    }
}

void signal_send(Thread* t, int sig, const SigInfo& info) {
    const uint64_t bit = sigbit(sig);
    Thread* target = t;
    if (!t) {  // as Linux's complete_signal: the main thread first, then the others
        for (Thread* u = g_threads; u && !target; u = u->all_next)
            if (u->proc == proc_current() && takes(u, bit)) target = u;
    }
    g_sig_gen++;
    g_state_gen++;  // a waiter in poll/epoll on a signalfd re-checks
    // Job control acts when the signal is sent, whatever its disposition.
    if (sig == kSigCont) {
        discard_pending(sigbit(19) | sigbit(20) | sigbit(21) | sigbit(22));
        jobctl_continue();
    } else if (stop_signal(sig)) {
        discard_pending(sigbit(kSigCont));
    }
    // An ignored signal is discarded unless the thread (for the process:
    // the main thread, as Linux checks the group leader) blocks it.
    if (ignored(sig) && !((t ? t : main_thread())->sigmask & bit)) return;
    if (target && takes(target, bit) && !(target->sigwait & bit) && fatal(sig)) {
        if (g_borrowed) {
            g_borrowed_kill = sig;
            return;
        }
        terminate(sig);
    }
    uint64_t& pending = t ? t->sigpending : g_proc_pending;
    SigInfo* slot = t ? &t->siginfo[sig - 1] : &g_proc_info[sig - 1];
    // A standard signal already pending is merged; a real-time one is
    // queued, each instance with its siginfo.
    if (!(pending & bit)) {
        pending |= bit;
        *slot = info;
        slot->signo = sig;
    } else if (sig >= kSigRtmin && g_queued < kMaxQueued) {
        if (auto* e = static_cast<SigQueued*>(kmalloc(sizeof(SigQueued)))) {
            e->info = info;
            e->info.signo = sig;
            SigQueued** tail = t ? &t->sigqueue : &g_proc_queue;
            while (*tail) tail = &(*tail)->next;
            *tail = e;
            g_queued++;
        }
    }
    if (target) wake(target);  // also the current thread, blocked in the idle wait
}

void signal_deliver(UserRegs* r, int64_t syscall_nr) {
    Thread* t = current();
    for (;;) {
        jobctl_wait_while_stopped();
        const uint64_t set = deliverable(t);
        if (!set) break;
        SigInfo info;
        const int sig = dequeue(t, set, &info);
        KSigaction act = g_sigactions[sig];
        if (ignored(sig)) continue;
        if (default_stop(sig)) {
            jobctl_stop(sig);
            continue;
        }
        if (fatal(sig)) terminate(sig);
        fix_restart(r, &syscall_nr, &act);
        const uint64_t saved = t->restore_mask ? t->saved_mask : t->sigmask;
        t->restore_mask = false;
        if (!sigframe_setup(r, sig, info, act, saved, 0, 0, 0)) {
            klog("signal %d: the handler's stack at %#lx is not writable", sig, r->rsp);
            terminate(kSigSegv);
        }
        if (act.flags & kSaResethand) g_sigactions[sig].handler = kSigDfl;
        t->sigmask |= act.mask | ((act.flags & kSaNodefer) ? 0 : sigbit(sig));
        t->sigmask &= ~kUnblockable;
    }
    fix_restart(r, &syscall_nr, nullptr);
    if (t->restore_mask) {  // rt_sigsuspend woken by a signal no handler took
        t->sigmask = t->saved_mask;
        t->restore_mask = false;
    }
}

int64_t signal_syscall_exit(SyscallFrame* f, int64_t result) {
    UserRegs r = {static_cast<uint64_t>(result),
                  f->rip,
                  f->a2,
                  f->rbx,
                  f->rsp,
                  f->rbp,
                  f->a1,
                  f->a0,
                  f->a4,
                  f->a5,
                  f->a3,
                  f->rflags,
                  f->r12,
                  f->r13,
                  f->r14,
                  f->r15,
                  f->rip,
                  f->rflags};
    signal_deliver(&r, static_cast<int64_t>(f->nr));
    if (r.rip == f->rip && r.rsp == f->rsp && r.rax == static_cast<uint64_t>(result)) return result;
    return_to_user(&r);
}

void signal_epipe(uint64_t nr, const SyscallFrame* f) {
    constexpr uint64_t kMsgNosignal = 0x4000;
    if (nr == nr::sendto && (f->a3 & kMsgNosignal)) return;
    if (nr == nr::sendmsg && (f->a2 & kMsgNosignal)) return;
    if (nr != nr::write && nr != nr::writev && nr != nr::pwrite64 && nr != nr::pwritev &&
        nr != nr::pwritev2 && nr != nr::sendto && nr != nr::sendmsg)
        return;
    signal_send(current(), 13, user_info(13, kSiUser));  // SIGPIPE
}

bool signal_fault(int sig, int code, uint64_t addr, uint64_t vector, uint64_t error, UserRegs* r) {
    Thread* t = current();
    const KSigaction act = g_sigactions[sig];
    // As Linux's force_sig_fault: a blocked or ignored fault signal kills.
    if (act.handler == kSigDfl || act.handler == kSigIgn || (t->sigmask & sigbit(sig)))
        return false;
    SigInfo info{};
    info.signo = sig;
    info.code = code;
    info.f[0] = addr;
    const uint64_t saved = t->sigmask;
    if (!sigframe_setup(r, sig, info, act, saved, vector, error, addr)) return false;
    if (act.flags & kSaResethand) g_sigactions[sig].handler = kSigDfl;
    t->sigmask |= act.mask | ((act.flags & kSaNodefer) ? 0 : sigbit(sig));
    t->sigmask &= ~kUnblockable;
    return_to_user(r);
}

namespace {

bool valid_sig(uint64_t sig) { return sig >= 1 && sig <= 64; }

int64_t sys_rt_sigaction(uint64_t sig, uint64_t act, uint64_t oact, uint64_t size, uint64_t,
                         uint64_t) {
    if (!valid_sig(sig) || size != 8) return -EINVAL;
    if (act && (sig == kSigKill || sig == kSigStop)) return -EINVAL;
    // As Linux: read the new action before writing the old one, so act ==
    // oact sets the new action and returns the old one.
    const KSigaction old = g_sigactions[sig];
    if (act) {
        KSigaction n;
        if (get_user(&n, act) < 0) return -EFAULT;
        n.mask &= ~kUnblockable;
        g_sigactions[sig] = n;
        // A signal that becomes ignored is discarded from every pending set.
        if (ignored(static_cast<int>(sig))) {
            g_proc_pending &= ~sigbit(static_cast<int>(sig));
            drop_queued(&g_proc_queue, static_cast<int>(sig));
            for (Thread* t = g_threads; t; t = t->all_next) {
                t->sigpending &= ~sigbit(static_cast<int>(sig));
                drop_queued(&t->sigqueue, static_cast<int>(sig));
            }
        }
    }
    return oact && put_user(oact, old) < 0 ? -EFAULT : 0;
}

int64_t sys_rt_sigprocmask(uint64_t how, uint64_t set, uint64_t oset, uint64_t size, uint64_t,
                           uint64_t) {
    if (size != 8) return -EINVAL;
    Thread* t = current();
    // As Linux: the new set is read before the old one is written (set ==
    // oset is allowed).
    const uint64_t old = t->sigmask;
    if (set) {
        uint64_t s;
        if (get_user(&s, set) < 0) return -EFAULT;
        switch (how) {
            case 0:  // SIG_BLOCK
                t->sigmask |= s;
                break;
            case 1:  // SIG_UNBLOCK
                t->sigmask &= ~s;
                break;
            case 2:  // SIG_SETMASK
                t->sigmask = s;
                break;
            default:
                return -EINVAL;
        }
        t->sigmask &= ~kUnblockable;
    }
    return oset && put_user(oset, old) < 0 ? -EFAULT : 0;
}

int64_t sys_rt_sigpending(uint64_t set, uint64_t size, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (size > 8) return -EINVAL;
    const Thread* t = current();
    const uint64_t p = (t->sigpending | g_proc_pending) & t->sigmask;
    return copy_to_user(set, &p, size);
}

// Blocks the current thread until a signal wakes it or the deadline passes.
void block_for_signal(uint64_t deadline) {
    Thread* t = current();
    t->state = ThreadState::kBlocked;
    t->wait = WaitKind::kSignal;
    t->deadline = deadline;
    schedule();
    t->deadline = 0;
}

}  // namespace

uint64_t signal_pending_in(uint64_t set) {
    const Thread* t = current();
    return (t->sigpending | g_proc_pending) & set;
}

int64_t signal_wait(uint64_t set, uint64_t deadline, SigInfo* info) {
    set &= ~kUnblockable;
    Thread* t = current();
    for (;;) {
        if (const uint64_t got = (t->sigpending | g_proc_pending) & set)
            return dequeue(t, got, info);
        if (signal_pending_now()) return -kErestartsys;
        if (deadline && monotonic_ns() >= deadline) return -EAGAIN;
        t->sigwait = set;
        block_for_signal(deadline);
        t->sigwait = 0;
    }
}

namespace {

int64_t sys_pause(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    while (!signal_pending_now()) block_for_signal(0);
    return -kErestartnohand;
}

int64_t sys_rt_sigsuspend(uint64_t uset, uint64_t size, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (size != 8) return -EINVAL;
    uint64_t set;
    if (get_user(&set, uset) < 0) return -EFAULT;
    Thread* t = current();
    t->saved_mask = t->sigmask;
    t->restore_mask = true;
    t->sigmask = set & ~kUnblockable;
    while (!signal_pending_now()) block_for_signal(0);
    // The handler's frame restores saved_mask (signal_deliver); a stop
    // without a handler restarts the call.
    return -kErestartnohand;
}

int64_t sys_rt_sigtimedwait(uint64_t uset, uint64_t uinfo, uint64_t uts, uint64_t size, uint64_t,
                            uint64_t) {
    if (size != 8) return -EINVAL;
    uint64_t set;
    if (get_user(&set, uset) < 0) return -EFAULT;
    uint64_t deadline = 0;
    if (uts) {
        linux_timespec ts;
        if (get_user(&ts, uts) < 0) return -EFAULT;
        if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return -EINVAL;
        const uint64_t ns =
            static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
        deadline = monotonic_ns() + (ns > (~0ull >> 2) ? (~0ull >> 2) : ns);
        if (ns == 0) deadline = 1;  // a poll
    }
    SigInfo info;
    const int64_t sig = signal_wait(set, deadline, &info);
    if (sig < 0) return sig == -kErestartsys ? -EINTR : sig;
    if (uinfo) {
        uint8_t buf[128] = {};
        memcpy(buf, &info.signo, 12);
        memcpy(buf + 16, info.f, sizeof info.f);
        if (copy_to_user(uinfo, buf, sizeof buf) < 0) return -EFAULT;
    }
    return sig;
}

int64_t send_checked(Thread* t, uint64_t sig, const SigInfo& info) {
    if (sig == 0) return 0;
    if (!valid_sig(sig)) return -EINVAL;
    signal_send(t, static_cast<int>(sig), info);
    return 0;
}

int64_t sys_kill(uint64_t pid, uint64_t sig, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (sig > 64) return -EINVAL;
    if (sig != 0 && !valid_sig(sig)) return -EINVAL;
    return proc_kill(static_cast<int32_t>(pid), static_cast<int>(sig),
                     user_info(static_cast<int>(sig), kSiUser));
}

int64_t sys_tkill(uint64_t tid, uint64_t sig, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (static_cast<int64_t>(tid) <= 0 || sig > 64) return -EINVAL;
    Thread* t = thread_by_tid(static_cast<int64_t>(tid));
    if (!t || t->proc != proc_current()) return -ESRCH;
    return send_checked(t, sig, user_info(static_cast<int>(sig), kSiTkill));
}

int64_t sys_tgkill(uint64_t tgid, uint64_t tid, uint64_t sig, uint64_t, uint64_t, uint64_t) {
    if (static_cast<int64_t>(tgid) <= 0 || static_cast<int64_t>(tid) <= 0 || sig > 64)
        return -EINVAL;
    Thread* t = thread_by_tid(static_cast<int64_t>(tid));
    if (static_cast<int64_t>(tgid) != proc_current()->pid || !t || t->proc != proc_current())
        return -ESRCH;
    return send_checked(t, sig, user_info(static_cast<int>(sig), kSiTkill));
}

// rt_sigqueueinfo / rt_tgsigqueueinfo: the caller's siginfo; as Linux, a
// process may send itself any si_code, so it is taken as given.
int64_t queueinfo(Thread* t, uint64_t sig, uint64_t uinfo) {
    uint8_t buf[40];
    if (copy_from_user(buf, uinfo, sizeof buf) < 0) return -EFAULT;
    SigInfo info{};
    memcpy(&info.signo, buf, 12);
    memcpy(info.f, buf + 16, sizeof info.f);
    return send_checked(t, sig, info);
}

int64_t sys_rt_sigqueueinfo(uint64_t pid, uint64_t sig, uint64_t uinfo, uint64_t, uint64_t,
                            uint64_t) {
    if (sig > 64) return -EINVAL;
    if (static_cast<int64_t>(pid) != proc_current()->pid) return -ESRCH;
    return queueinfo(nullptr, sig, uinfo);
}

int64_t sys_rt_tgsigqueueinfo(uint64_t tgid, uint64_t tid, uint64_t sig, uint64_t uinfo, uint64_t,
                              uint64_t) {
    if (static_cast<int64_t>(tgid) <= 0 || static_cast<int64_t>(tid) <= 0 || sig > 64)
        return -EINVAL;
    Thread* t = thread_by_tid(static_cast<int64_t>(tid));
    if (static_cast<int64_t>(tgid) != proc_current()->pid || !t || t->proc != proc_current())
        return -ESRCH;
    return queueinfo(t, sig, uinfo);
}

}  // namespace

void register_signal_syscalls() {
    syscall_register(nr::rt_sigaction, "rt_sigaction", sys_rt_sigaction);
    syscall_register(nr::restart_syscall, "restart_syscall", sys_restart_syscall);
    syscall_register(nr::rt_sigprocmask, "rt_sigprocmask", sys_rt_sigprocmask);
    syscall_register(nr::rt_sigpending, "rt_sigpending", sys_rt_sigpending);
    syscall_register(nr::rt_sigsuspend, "rt_sigsuspend", sys_rt_sigsuspend);
    syscall_register(nr::rt_sigtimedwait, "rt_sigtimedwait", sys_rt_sigtimedwait);
    syscall_register(nr::rt_sigreturn, "rt_sigreturn", sys_rt_sigreturn);
    syscall_register(nr::rt_sigqueueinfo, "rt_sigqueueinfo", sys_rt_sigqueueinfo);
    syscall_register(nr::rt_tgsigqueueinfo, "rt_tgsigqueueinfo", sys_rt_tgsigqueueinfo);
    syscall_register(nr::sigaltstack, "sigaltstack", sys_sigaltstack);
    syscall_register(nr::pause, "pause", sys_pause);
    syscall_register(nr::kill, "kill", sys_kill);
    syscall_register(nr::tkill, "tkill", sys_tkill);
    syscall_register(nr::tgkill, "tgkill", sys_tgkill);
    register_timer_syscalls();
}

}  // namespace k
