// signal.h - POSIX signals with Linux semantics (signal.cpp, sigframe.cpp).
//
// Dispositions are process-wide; every thread has its own mask, pending set
// and alternate stack, and the process has one pending set for signals sent
// to it as a whole. A signal is delivered to the current thread where the
// kernel returns to the application: at the end of a syscall
// (syscall_dispatch), at preemption (preempt_dispatch) and after a CPU
// exception in application code (main.cpp). Delivery builds Linux's
// rt_sigframe on the user stack (ucontext with every register and the
// XSAVE area), and rt_sigreturn restores all of it. A blocked thread that a
// signal can be delivered to is woken, and its call ends with -EINTR or,
// under SA_RESTART, is restarted (kErestartsys).
#pragma once

#include "sched/sched.h"

namespace k {

// Every register of the application where it was stopped (the order of
// boot_info.preempt_regs; entry.S resume_user loads it).
struct UserRegs {
    uint64_t rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rflags;
};
static_assert(sizeof(UserRegs) == 144, "entry.S resume_user offsets");

// A blocking call interrupted by a signal: restarted if the handler has
// SA_RESTART (or no handler runs), else -EINTR. Never reaches the
// application.
constexpr int64_t kErestartsys = 512;
// Restarted when no handler runs (a stop and SIGCONT), else -EINTR (pause,
// rt_sigsuspend: Linux's ERESTARTNOHAND).
constexpr int64_t kErestartnohand = 514;
// A timed wait interrupted by a signal: -EINTR if a handler runs, else the
// call goes on as restart_syscall with the block restart_block_set saved
// (Linux's ERESTART_RESTARTBLOCK: nanosleep and a futex wait with a timeout
// resume after a stop, with the time they had left).
constexpr int64_t kErestartRestartblock = 516;
// Saves b for restart_syscall and returns -kErestartRestartblock.
int64_t restart_block_set(const RestartBlock& b);

constexpr int kSigKill = 9, kSigSegv = 11, kSigChld = 17, kSigCont = 18, kSigStop = 19;
// SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU: their default action stops the process.
constexpr bool stop_signal(int sig) { return sig >= 19 && sig <= 22; }
constexpr uint64_t sigbit(int sig) { return 1ull << (sig - 1); }

// Whether the current thread has a signal it does not block pending: a
// blocking call checks this before it blocks and after it wakes.
bool signal_pending_now();
// Sends sig (1..64) with `info` to thread t, or to the process (t ==
// nullptr). A signal whose default action terminates and that the chosen
// thread does not block ends the instance at once, as Linux does.
void signal_send(Thread* t, int sig, const SigInfo& info);
// A thread exits: its queued real-time signals go.
void signal_thread_gone(Thread* t);
// Runs every deliverable signal of the current thread on the context `r`
// (handlers get frames; default actions act). `syscall_nr` >= 0 when r is
// the return of that syscall with rax = its result, for the restart rules.
void signal_deliver(UserRegs* r, int64_t syscall_nr);
// Back to the application with every register from r. Never returns.
[[noreturn]] void return_to_user(UserRegs* r);
// The slow path of a syscall's return (a signal is pending, or the call was
// interrupted): returns only when nothing changes r's context.
int64_t signal_syscall_exit(SyscallFrame* f, int64_t result);
// A write or send (without MSG_NOSIGNAL) that failed with EPIPE: SIGPIPE
// to the calling thread, as Linux sends it.
void signal_epipe(uint64_t nr, const SyscallFrame* f);
// A CPU exception in application code: when the signal has a handler the
// thread does not block, delivers it and never returns; else returns false
// (the caller reports the crash as before).
bool signal_fault(int sig, int code, uint64_t addr, uint64_t vector, uint64_t error, UserRegs* r);

// sigframe.cpp: frames on the user stack.
struct KSigaction {
    uint64_t handler, flags, restorer, mask;
};
constexpr uint64_t kSigDfl = 0, kSigIgn = 1;
constexpr uint64_t kSaSiginfo = 4, kSaOnstack = 0x08000000, kSaRestart = 0x10000000,
                   kSaNodefer = 0x40000000, kSaResethand = 0x80000000, kSaRestorer = 0x04000000;
extern KSigaction g_sigactions[65];
// Builds the frame for sig on r's stack and points r at the handler; the
// frame saves `saved_mask`. False when the stack cannot take it.
bool sigframe_setup(UserRegs* r, int sig, const SigInfo& info, const KSigaction& act,
                    uint64_t saved_mask, uint64_t trapno, uint64_t err, uint64_t cr2);
int64_t sys_rt_sigreturn(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);
int64_t sys_sigaltstack(uint64_t ss, uint64_t oss, uint64_t, uint64_t, uint64_t, uint64_t);

void register_signal_syscalls();

// The process-wide signal state (dispositions and the process's pending
// set) of a process that does not run; the running one's is in globals.
struct SigProc {
    KSigaction actions[65];
    uint64_t pending;
    SigInfo info[64];
    SigQueued* queue;
};
void sigproc_save(SigProc* s);
void sigproc_load(const SigProc* s);
// fork: the child's state (the dispositions, nothing pending).
void sigproc_fork(SigProc* s);
// execve: handlers go back to the default; ignored signals stay ignored.
void sigproc_exec();
void sigproc_free(SigProc* s);  // its queued signals
// signal_send for a process whose state is loaded but that does not run
// (proc.cpp swaps it in): 0, or the signal that must kill it.
int signal_send_borrowed(Thread* t, int sig, const SigInfo& info);
// Whether sig is SIG_IGN (or ignored by default) for the loaded process,
// and whether it has SA_NOCLDWAIT (SIGCHLD).
bool signal_ignored(int sig);

// For rt_sigtimedwait and signalfd: the signals of `set` pending for the
// current thread (its own and the process's), and taking one out, blocking
// until the deadline (0 = none) if there is none yet. Returns the signal,
// -EAGAIN at the deadline, or -kErestartsys when a signal outside the set
// is deliverable.
uint64_t signal_pending_in(uint64_t set);
int64_t signal_wait(uint64_t set, uint64_t deadline, SigInfo* info);
// Bumped at every signal sent (a signalfd's generation for epoll).
extern uint64_t g_sig_gen;

// Job control (proc/jobctl.cpp), for the process whose state is loaded.
// SIGCONT continues it if stopped (and reports that to its parent).
void jobctl_continue();
// The running thread took a stop signal with the default action: the
// process stops (unless its process group is orphaned and sig is not
// SIGSTOP), its parent is told, and its other threads are woken to stop.
void jobctl_stop(int sig);
// While the running thread's process is stopped, the thread blocks.
void jobctl_wait_while_stopped();
bool jobctl_stopped();  // the running thread's process is stopped

// timer.cpp: the earliest expiry of an armed timer (monotonic ns), 0 =
// none; timers_fire() sends the signals of the expired ones.
extern uint64_t g_timer_next;
void timers_fire();
// exec: the process's POSIX timers go (its interval timers stay); exit:
// all of p's go.
void timers_exec();
void timers_exit(Process* p);
void register_timer_syscalls();

}  // namespace k
