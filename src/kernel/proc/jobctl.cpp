// jobctl.cpp - job-control stops: SIGSTOP, SIGTSTP, SIGTTIN and SIGTTOU
// with the default action stop the whole process (every thread blocks as
// kStopped where it would return to the application), SIGCONT continues it;
// the parent learns both through SIGCHLD (CLD_STOPPED, CLD_CONTINUED, unless
// it set SA_NOCLDSTOP) and wait4/waitid with WUNTRACED/WSTOPPED and
// WCONTINUED. As on Linux, signals other than SIGKILL and SIGCONT stay
// pending while the process is stopped, and a stop signal other than
// SIGSTOP is discarded in an orphaned process group (no member has a parent
// in another group of the same session).
#include "proc/proc.h"

namespace k {
namespace {

constexpr int32_t kCldStopped = 5, kCldContinued = 6;
constexpr uint64_t kSaNocldstop = 1;

// Tells p's parent that p stopped or continued: a SIGCHLD unless the parent
// asked for none (SA_NOCLDSTOP), and a wake-up of its wait4/waitid.
void notify_parent(Process* p, int32_t code, int status) {
    Process* parent = p->parent;
    if (!parent) return;
    if (!(proc_sigaction(parent, kSigChld).flags & kSaNocldstop)) {
        SigInfo info{};
        info.signo = kSigChld;
        info.code = code;
        info.f[0] = static_cast<uint32_t>(p->pid) | (static_cast<uint64_t>(p->cred.uid[0]) << 32);
        info.f[1] = static_cast<uint32_t>(status);
        proc_send(parent, kSigChld, info);
    }
    proc_wake_child_waiters(parent);
}

// Linux's will_become_orphaned_pgrp, except that the first process counts
// as a parent like any other (it is the instance's init, but natively the
// same program runs under a shell).
bool pgrp_orphaned(const Process* self) {
    for (const Process* q = proc_list(); q; q = q->next) {
        if (q->pgid != self->pgid || q->state != ProcState::kLive || !q->parent) continue;
        if (q->parent->pgid != self->pgid && q->parent->sid == q->sid) return false;
    }
    return true;
}

}  // namespace

bool jobctl_stopped() { return current()->proc->stopped; }

void jobctl_continue() {
    Process* p = proc_current();
    if (!p->stopped) return;
    p->stopped = false;
    p->stop_report = false;
    p->cont_report = true;
    for (Thread* t = g_threads; t; t = t->all_next)
        if (t->proc == p && t->state == ThreadState::kBlocked && t->wait == WaitKind::kStopped)
            make_runnable(t);
    notify_parent(p, kCldContinued, kSigCont);
}

void jobctl_stop(int sig) {
    Process* p = current()->proc;
    if (sig != kSigStop && pgrp_orphaned(p)) return;
    if (p->stopped) return;
    p->stopped = true;
    p->stop_sig = sig;
    p->stop_report = true;
    p->cont_report = false;
    // The other threads leave their blocking calls (which restart after
    // SIGCONT) and stop where they would return to the application.
    for (Thread* t = g_threads; t; t = t->all_next) {
        if (t->proc != p || t == current() || t->state != ThreadState::kBlocked) continue;
        if (t->wait == WaitKind::kStopped) continue;
        if (t->wait == WaitKind::kFutex) futex_unqueue(t);
        make_runnable(t);
    }
    notify_parent(p, kCldStopped, sig);
}

void jobctl_wait_while_stopped() {
    Thread* t = current();
    while (t->proc->stopped) {
        t->state = ThreadState::kBlocked;
        t->wait = WaitKind::kStopped;
        t->deadline = 0;
        schedule();
    }
}

}  // namespace k
