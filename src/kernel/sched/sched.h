// sched.h - threads of the one process and the cooperative scheduler.
//
// Every thread has its own kernel stack, whose top holds the thread's
// SyscallFrame (entry.S builds it at every syscall: the application's whole
// integer register file but rcx/r11), plus its FS/GS base and XSAVE area
// while it is switched out. Threads switch only inside the kernel, where a
// syscall blocks (futex, wait_events, a pipe), yields or exits, and at
// preemption (the VMM re-enters a thread spinning in userspace at
// preempt_entry when boot_info.preempt_want says it is worth it). When no thread is runnable, the
// CPU makes one EMBER_HC_WAIT for the union of what the blocked threads wait for, with the earliest
// deadline.
//
// The state of "this CPU" is one struct (Cpu); there is one vCPU, so one
// instance of it. Everything lives in guest memory, so a snapshot taken at
// that wait carries every thread.
#pragma once

#include "kernel.h"

// Built by syscall_common in entry.S; offsets are used there.
struct SyscallFrame {
    uint64_t nr, a0, a1, a2, a3, a4, a5;
    uint64_t rbx, rbp, r12, r13, r14, r15;
    uint64_t rip, rflags, rsp;
    uint64_t path;  // 0: trapped `syscall`; 1: a patched site (fast path)
    uint64_t pad;
};
static_assert(sizeof(SyscallFrame) == 144 && sizeof(SyscallFrame) % 16 == 0, "entry.S frame");
static_assert(offsetof(SyscallFrame, rip) == 104 && offsetof(SyscallFrame, rsp) == 120,
              "entry.S frame offsets");

namespace k {

enum class ThreadState : uint8_t { kRunning, kRunnable, kBlocked, kDead };
// What a blocked thread waits for, and so what wakes it.
enum class WaitKind : uint8_t {
    kNone,
    kHost,     // wait_events: host events / deadline; woken by every host wait
    kFutex,    // a futex queue (futex.cpp), optional deadline
    kOthers,   // something only another thread can do (a pipe): woken when
               // another thread made a syscall since this one blocked
    kSignal,   // pause, rt_sigsuspend, rt_sigtimedwait: only a signal (or
               // the deadline) wakes it
    kChild,    // wait4/waitid, a vfork parent: a child's exit or exec (or a
               // signal) wakes it
    kStopped,  // its process is stopped (SIGSTOP, ...): only SIGCONT (or
               // SIGKILL) ends it; other signals stay pending
};

struct Process;  // proc/proc.h
struct SigInfo;

// The fields of a siginfo_t that differ between signals (signal.h): f[]
// are the union's words at byte 16, 24 and 32 (si_pid/si_uid, si_addr,
// si_tid/si_overrun and si_value, ...).
struct SigInfo {
    int32_t signo, err, code, pad;
    uint64_t f[3];
};
// A real-time signal sent again while pending: queued behind the one in
// the pending slot (signal.cpp).
struct SigQueued {
    SigQueued* next;
    SigInfo info;
};

// What restart_syscall continues after a stop and SIGCONT interrupted a
// timed wait (Linux's restart_block): a nanosleep (a = its rem pointer) or
// a FUTEX_WAIT (a = uaddr, b = val, c = bitset), until deadline
// (monotonic ns). fn == nullptr: nothing to continue.
struct RestartBlock {
    int64_t (*fn)(const RestartBlock& b);
    uint64_t deadline, a, b, c;
};

struct Thread {
    uint64_t ksp;         // saved kernel rsp while switched out
    Process* proc;        // the process it belongs to
    uint64_t kstack_top;  // its SyscallFrame sits just below
    uint64_t kstack_lo;   // pages_alloc'd stack (0 for the boot stack)
    Thread* all_next;     // every thread, live or dead-not-reaped
    Thread* run_next;     // run queue link
    int32_t tid;
    ThreadState state;
    WaitKind wait;
    // a blocked thread
    uint32_t events;    // kHost: EMBER_WAIT_* set
    uint32_t ready;     // kHost: what the host reported when woken
    uint64_t deadline;  // monotonic ns, 0 = none
    uint64_t gen;       // kHost/kOthers: state generation when it blocked
    bool timed_out;
    bool futex_woken;
    // futex queue (futex.cpp)
    uint64_t futex_addr;
    uint32_t futex_bitset;
    Thread* futex_next;
    // saved while switched out
    uint64_t fs_base, gs_base;
    uint8_t* xsave;  // 64-byte aligned; allocated when a second thread appears
    // Linux per-thread state
    uint64_t clear_tid;  // CLONE_CHILD_CLEARTID / set_tid_address
    uint64_t robust_head, robust_len;
    uint64_t rseq;  // registered struct rseq, 0 = none
    uint32_t rseq_len, rseq_sig;
    // signals (signal.h); bit sig-1 for signal sig
    uint64_t sigmask;
    uint64_t sigpending;  // sent to this thread
    uint64_t sigwait;     // the set a blocked rt_sigtimedwait waits for
    uint64_t saved_mask;  // rt_sigsuspend's mask to restore after the handler
    bool restore_mask;
    // A timed wait interrupted by a stop: restart_syscall continues it.
    RestartBlock restart;
    uint32_t ss_flags;  // sigaltstack
    uint64_t ss_sp, ss_size;
    SigInfo siginfo[64];
    SigQueued* sigqueue;  // more real-time signals, in the order sent
};

struct Cpu {
    uint64_t kstack_top;  // must stay first: entry.S loads it (ember_cpu0)
    Thread* current;
    Thread* run_head;
    Thread* run_tail;
};

Cpu& this_cpu();
inline Thread* current() { return this_cpu().current; }
inline SyscallFrame* current_frame() {
    return reinterpret_cast<SyscallFrame*>(current()->kstack_top - sizeof(SyscallFrame));
}
// More than one live thread (the single-threaded fast paths skip the
// scheduler entirely).
bool threaded();
// A live thread with this tid, or nullptr.
Thread* thread_by_tid(int64_t tid);

extern Thread* g_threads;  // every thread not yet reaped, the boot thread first

// Processes (proc/proc.cpp). proc_current(): the process whose per-process
// state (fds, signal dispositions, memory) is loaded; proc_running(): the
// running thread's. The same but while a signal is sent to another one.
Process* proc_current();
Process* proc_running();
// At a switch between threads of different processes (sched.cpp).
void proc_switch(Process* from, Process* to);
// Ends the running process with a Linux wait status (code << 8, or the
// signal that killed it); the first process's end ends the instance.
[[noreturn]] void proc_exit_current(int wstatus);
// kill(2): pid > 0, 0 (own group), -1 (all but the first), < -1 (group).
int64_t proc_kill(int64_t pid, int sig, const SigInfo& info);
// Removes a thread that is not running from every queue and marks it
// dead (its process is being killed).
void sched_kill(Thread* t);
// A new thread id (threads and processes share the numbers, as Linux).
int32_t alloc_tid();
extern uint32_t g_live_threads;

// Bumped for every syscall that may change what a kHost/kOthers waiter waits
// for (all but futex and sched_yield: syscall.cpp).
extern uint64_t g_state_gen;

// The current thread must have set state/wait (and be queued wherever it
// waits); runs others until it is runnable again. Returns in its context.
void schedule();
void make_runnable(Thread* t);
// Recomputes boot_info.preempt_want (sched.cpp).
void update_preempt_want();
// Blocks until another thread has made a syscall (kOthers). -EDEADLK when
// there is no other thread (the caller's old single-threaded answer).
int64_t block_for_others();
// Marks the current thread dead and runs the others; the last live thread
// must end the instance instead (thread.cpp).
[[noreturn]] void exit_current_thread();

inline uint64_t rdfsbase() {
    uint64_t v;
    asm volatile("rdfsbase %0" : "=r"(v));
    return v;
}
inline uint64_t rdgsbase() {
    uint64_t v;
    asm volatile("rdgsbase %0" : "=r"(v));
    return v;
}
inline void wrfsbase(uint64_t v) { asm volatile("wrfsbase %0" : : "r"(v) : "memory"); }
inline void wrgsbase(uint64_t v) { asm volatile("wrgsbase %0" : : "r"(v) : "memory"); }
// The kernel never touches vector state (-mgeneral-regs-only), so the
// application's is live in the CPU until a switch or a signal: save the
// XCR0 components whose layout CPUID reports (xsave_probe). Not every bit
// of XCR0: on a PVM host XCR0 may hold AMX tile state that CPUID does not
// describe, and XSAVE would write its 8 KiB past the area.
struct XsaveLayout {
    uint64_t rfbm;  // the components saved and restored
    uint64_t size;  // bytes of the standard-format area for them
    uint64_t xcr0;
};
extern XsaveLayout g_xsave;  // zero until xsave_probe()
void xsave_probe();
inline void xsave(uint8_t* area) {
    asm volatile("xsave64 (%0)"
                 :
                 : "r"(area), "a"(static_cast<uint32_t>(g_xsave.rfbm)),
                   "d"(static_cast<uint32_t>(g_xsave.rfbm >> 32))
                 : "memory");
}
inline void xrstor(const uint8_t* area) {
    asm volatile("xrstor64 (%0)"
                 :
                 : "r"(area), "a"(static_cast<uint32_t>(g_xsave.rfbm)),
                   "d"(static_cast<uint32_t>(g_xsave.rfbm >> 32))
                 : "memory");
}
// Pages of one XSAVE area (set when the second thread is created).
extern uint64_t g_xsave_pages;

// futex.cpp
void futex_unqueue(Thread* t);
int64_t futex_wake(uint64_t uaddr, int64_t n, uint32_t bitset);
void register_futex_syscalls();

}  // namespace k
