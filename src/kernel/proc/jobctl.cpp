// jobctl.cpp - job-control stops: SIGSTOP, SIGTSTP, SIGTTIN and SIGTTOU
// with the default action stop the whole process (every thread blocks as
// kStopped where it would return to the application), SIGCONT continues it;
// the parent learns both through SIGCHLD (CLD_STOPPED, CLD_CONTINUED, unless
// it set SA_NOCLDSTOP) and wait4/waitid with WUNTRACED/WSTOPPED and
// WCONTINUED. As on Linux, signals other than SIGKILL and SIGCONT stay
// pending while the process is stopped, a stop signal other than SIGSTOP
// is discarded in an orphaned process group (no member has a parent in
// another group of the same session), and a group that a process's end
// orphans gets SIGHUP and SIGCONT if a member is stopped.
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

// Linux's will_become_orphaned_pgrp: no live member of group pgid (but
// `ignore`, which is ending) has a parent in another group of the same
// session. The first process counts as a parent like any other (natively
// the same program runs under a shell, not as init), but the processes it
// adopted count as init's children, and so do the children of `ignore`.
bool pgrp_orphaned(int32_t pgid, const Process* ignore) {
    for (const Process* q = proc_list(); q; q = q->next) {
        if (q->pgid != pgid || q == ignore || q->state != ProcState::kLive) continue;
        if (!q->parent || q->reparented || q->parent == ignore) continue;
        if (q->parent->pgid != pgid && q->parent->sid == q->sid) return false;
    }
    return true;
}

// Linux's kill_orphaned_pgrp: group pgid, orphaned by ignore's end, has a
// stopped member: SIGHUP then SIGCONT to every member.
void hangup_if_orphaned(int32_t pgid, const Process* ignore) {
    bool stopped = false;
    uint32_t n = 0;
    for (const Process* q = proc_list(); q; q = q->next) {
        if (q->pgid != pgid || q == ignore || q->state != ProcState::kLive) continue;
        stopped = stopped || q->stopped;
        n++;
    }
    if (!stopped || !pgrp_orphaned(pgid, ignore)) return;
    // By pid: a SIGHUP may end a member (and reap it) while the list is walked.
    auto* pids = static_cast<int32_t*>(kcalloc(n, sizeof(int32_t)));
    if (!pids) return;
    uint32_t k = 0;
    for (const Process* q = proc_list(); q && k < n; q = q->next)
        if (q->pgid == pgid && q != ignore && q->state == ProcState::kLive) pids[k++] = q->pid;
    constexpr int kSigHup = 1;
    constexpr int32_t kSiKernel = 0x80;
    const int sigs[] = {kSigHup, kSigCont};
    for (int sig : sigs) {
        SigInfo info{};
        info.signo = sig;
        info.code = kSiKernel;
        for (uint32_t i = 0; i < k; i++)
            if (Process* q = proc_find(pids[i])) proc_send(q, sig, info);
    }
    kfree(pids);
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
    if (sig != kSigStop && pgrp_orphaned(p->pgid, nullptr)) return;
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

void jobctl_exit(Process* p) {
    // p's own group, which its parent kept from being orphaned.
    if (p->parent && p->parent->pgid != p->pgid && p->parent->sid == p->sid)
        hangup_if_orphaned(p->pgid, p);
    // Its children's groups that p kept from being orphaned.
    for (Process* c = proc_list(); c; c = c->next)
        if (c->parent == p && c->state == ProcState::kLive && c->pgid != p->pgid &&
            c->sid == p->sid)
            hangup_if_orphaned(c->pgid, p);
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
