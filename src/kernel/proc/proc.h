// proc.h - processes: several in one instance, each with its own address
// space (mm_space.h), fd table and signal dispositions; fork, execve,
// wait4/waitid, exit, process groups and sessions (docs/architecture.md,
// "Processes").
//
// The running process's per-process state lives in the globals the
// subsystems always used (the fd table pointer, g_sigactions, the mm
// globals); proc_switch saves them into the Process that stops and loads
// the next one's, so a program that never forks runs exactly as before.
#pragma once

#include "fs/fd.h"
#include "mm_space.h"
#include "sched/signal.h"

namespace k {

struct ProcTimers;  // timer.cpp

// What a new program's initial stack holds (process.cpp): the first
// program's at boot, and every execve's.
struct InitialStack {
    uint64_t lo, size;                 // the stack mapping
    const char* strings;               // argv then envp strings, NUL-separated
    uint64_t strings_len, argc, envc;  // argc + envc strings in strings
    const char* execfn;                // AT_EXECFN (not NUL-terminated)
    uint64_t execfn_len;
    uint64_t phdr, phent, phnum, base, entry;  // AT_PHDR ... AT_ENTRY
};
// Builds the stack per the x86-64 SysV ABI at the top of [lo, lo + size),
// records it for /proc (note_process_start) and returns the entry rsp.
uint64_t build_initial_stack(const InitialStack& in);

enum class ProcState : uint8_t { kLive, kZombie };

// User and group ids (cred.cpp): real, effective, saved; the filesystem
// ids; supplementary groups. All 0 in the first process.
constexpr uint32_t kMaxGroups = 32;
struct Cred {
    uint32_t uid[3], gid[3];
    uint32_t fsuid, fsgid;
    uint32_t ngroups;
    uint32_t groups[kMaxGroups];
    // prctl(PR_SET_DUMPABLE): 1 at start and after exec (0 when ids
    // differ); a change of effective or filesystem ids sets it to 0, as
    // Linux's default fs.suid_dumpable does.
    uint32_t dumpable;
};
// cred.cpp: at exec, dumpable as Linux sets it.
void cred_exec(Cred* c);

struct Process {
    int32_t pid, pgid, sid;
    ProcState state;
    int32_t wstatus;  // a zombie's Linux wait status
    int exit_signal;  // sent to the parent at exit (SIGCHLD, or 0)
    int pdeathsig;    // prctl(PR_SET_PDEATHSIG): sent when the parent ends
    bool autoreap;    // the parent ignores SIGCHLD (or SA_NOCLDWAIT): no zombie stays
    uint32_t live_threads;
    Process* parent;       // nullptr for the first process
    Process* next;         // every process not yet reaped
    Thread* vfork_parent;  // blocked in vfork until this one execs or exits
    Mm* mm;
    // Saved while another process runs.
    fs::FdTable* fdt;
    fs::Inode* cwd;
    uint32_t umask;
    SigProc sig;
    Cred cred;  // inherited by fork, kept by exec
    char comm[16];
    char* exe;  // the executable's path (kmalloc'd; nullptr: boot()->execfn)
    // Job control (jobctl.cpp): stopped by stop_sig; a stop and a continue
    // not yet reported to a wait with WUNTRACED / WCONTINUED.
    bool stopped, stop_report, cont_report;
    int stop_sig;
    // Its parent ended and the first process adopted it (natively init
    // would have: for orphaned process groups, it has no parent).
    bool reparented;
    ProcTimers* timers;  // its interval and POSIX timers (timer.cpp), nullptr: none yet
};

void proc_init();  // the first process, before the program starts

// Every process not yet reaped (linked by next), the first one first.
Process* proc_list();
Process* proc_find(int64_t pid);
// Loads p's per-process state into the globals (no address space change:
// mm_set_current does that), saving the loaded one's.
void proc_load(Process* p);
// Sends sig to p, which may be another process than the running one (a
// fatal signal ends it at once).
void proc_send(Process* p, int sig, const SigInfo& info);
// The same for one thread t of p (nullptr: the process).
void proc_send_thread(Process* p, Thread* t, int sig, const SigInfo& info);
// Wakes p's threads blocked in wait4/waitid (a child changed state).
void proc_wake_child_waiters(Process* p);
// p's action for sig (the loaded process's is in g_sigactions).
const KSigaction& proc_sigaction(const Process* p, int sig);

// New processes (fork, vfork, clone without CLONE_VM, clone3): returns the
// child's pid. flags as clone's; exit_signal for the parent at its end.
int64_t proc_fork(uint64_t flags, uint64_t newsp, uint64_t ptid, uint64_t ctid, uint64_t tls,
                  int exit_signal);
// thread.cpp's thread creation, for the first thread of a new process too.
Thread* thread_create(Process* p, uint64_t flags, uint64_t newsp, uint64_t tls);

// exec.cpp: the vfork parent may go on (the child no longer uses its
// memory).
void proc_release_vfork(Process* p);
// Kills the other threads of the running process (exec, exit_group).
void proc_kill_other_threads();
void register_exec_syscalls();
// jobctl.cpp: p is ending: process groups that its end orphans and that
// have a stopped member get SIGHUP then SIGCONT, as on Linux.
void jobctl_exit(Process* p);

// Patched syscall sites (syscall.cpp): a fork child's address space holds
// its parent's; an address space that is freed gives its slots back.
void sites_fork(const Mm* parent, const Mm* child);
void sites_forget(const Mm* m);
// Drops a process's reference to m; the last one frees it (and its sites).
void proc_mm_drop(Mm* m);
void register_cred_syscalls();

}  // namespace k
