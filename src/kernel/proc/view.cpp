// view.cpp - what /proc/<pid> reads about a process (kernel.h,
// "introspection"): its ids and state, and a view that loads another
// process's per-process state for the code of fs/procfs, which was written
// for the running process (fd table, cwd, mappings, initial stack).
#include "proc/proc.h"

namespace k {

namespace {

// The process view in effect: the process that was loaded before it, and
// the address space to go back to (nullptr: unchanged). A view may be asked
// for again inside one (a path through /proc/<pid>/fd looked up while a
// file of /proc is generated): the same process nests, another is refused.
Process* g_view_prev;
Mm* g_view_mm;
uint32_t g_view_depth;

}  // namespace

int32_t current_pid() { return current()->proc->pid; }

uint32_t process_pids(int32_t* out, uint32_t cap) {
    uint32_t n = 0;
    for (Process* p = proc_list(); p; p = p->next) {
        if (n < cap) out[n] = p->pid;
        n++;
    }
    return n;
}

bool process_info(int32_t pid, ProcessInfo* out) {
    const Process* p = proc_find(pid);
    if (!p) return false;
    *out = ProcessInfo{};
    out->pid = p->pid;
    out->ppid = p->parent ? p->parent->pid : 0;
    out->pgid = p->pgid;
    out->sid = p->sid;
    out->exit_signal = p->exit_signal;
    if (p->state == ProcState::kZombie) out->state = 'Z';
    if (p->state == ProcState::kLive && p->stopped) out->state = 'T';
    out->stop_sig = p->stop_sig;
    for (int i = 0; i < 3; ++i) {
        out->uid[i] = p->cred.uid[i];
        out->gid[i] = p->cred.gid[i];
    }
    out->uid[3] = p->cred.fsuid;
    out->gid[3] = p->cred.fsgid;
    out->ngroups = p->cred.ngroups;
    out->groups = p->cred.groups;
    memcpy(out->comm, p->comm, sizeof out->comm);
    out->exe = p->exe ? p->exe : boot()->execfn;
    return true;
}

bool process_view_begin(int32_t pid, bool memory) {
    Process* p = proc_find(pid);
    if (!p || (memory && !p->mm)) return false;
    if (g_view_depth) {
        if (p != proc_current() || (memory && p->mm != mm_current())) return false;
        g_view_depth++;
        return true;
    }
    g_view_depth = 1;
    g_view_prev = proc_current();
    g_view_mm = nullptr;
    proc_load(p);
    // Another address space: one CR3 load there and one back (kernel
    // memory reads the same in every space, so the kernel runs on).
    if (memory && p->mm != mm_current()) {
        g_view_mm = mm_current();
        mm_set_current(p->mm);
    }
    return true;
}

void process_view_end() {
    KCHECK(g_view_depth > 0);
    if (--g_view_depth) return;
    if (g_view_mm) mm_set_current(g_view_mm);
    proc_load(g_view_prev);
}

}  // namespace k
