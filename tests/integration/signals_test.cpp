// Signal syscalls against a native run of the same binary.
#include <string>

#include "test_env.h"

namespace ember::test {
namespace {

class SignalsTest : public EmberTest, public ::testing::WithParamInterface<const char*> {};

// rt_sigaction and rt_sigprocmask with one pointer for the new and the old
// value: Linux reads the new value first, so the call both takes effect and
// returns the old value; a bad new-value pointer leaves the old one unwritten.
TEST_P(SignalsTest, SamePointerForNewAndOldValueBehavesAsNatively) {
    const std::string prog = example_path(GetParam(), "signal_alias");
    RunResult native = run_native({prog});
    ASSERT_TRUE(native.exited && native.exit_code == 0) << describe(native);
    ASSERT_NE(native.out.find("done\n"), std::string::npos) << native.out;
    RunResult ember = run_ember({"run", prog});
    EXPECT_TRUE(ember.exited && ember.exit_code == 0) << describe(ember);
    EXPECT_EQ(ember.out, native.out);
}

// Handlers with siginfo, masks and pending sets, deferral and SA_NODEFER,
// SA_RESETHAND, sigaltstack, the vector state around a handler,
// rt_sigsuspend, rt_sigtimedwait, ignored signals.
TEST_P(SignalsTest, HandlersMasksAltstackSuspendAndWaitAsNatively) {
    expect_as_native({example_path(GetParam(), "signals")});
}

// abort(), raise(SIGTERM) and a write to a pipe without readers (SIGPIPE)
// with the default action: 134, 143 and 141, the status a shell reports
// for the native process.
TEST_P(SignalsTest, DefaultActionTerminatesWith128PlusSignal) {
    for (const char* mode : {"abort", "term", "pipe"}) {
        RunResult native = run_native({example_path(GetParam(), "signals"), mode});
        ASSERT_FALSE(native.exited) << mode << " " << describe(native);
        expect_as_native({example_path(GetParam(), "signals"), mode});
    }
}

// A handler interrupts read (pipe), futex and nanosleep blocked in the main
// thread: EINTR, or a restart under SA_RESTART (not for nanosleep); and a
// signal from another thread reaches the main thread while it spins (at
// its preemption).
TEST_P(SignalsTest, BlockedCallIsInterruptedOrRestartedAsNatively) {
    expect_as_native({example_path(GetParam(), "signal_block")});
}

// CPU exceptions in application code become Linux's synchronous signals
// (SIGSEGV with SEGV_MAPERR and si_addr from CR2, SIGILL, SIGFPE, SIGTRAP),
// handlers siglongjmp out or edit the ucontext's RIP; without a handler, or
// with the signal blocked, the crash ends the instance with 128 + the signal
// as it ends the native process (139 SIGSEGV, 132 SIGILL, 136 SIGFPE, 133
// SIGTRAP).
TEST_P(SignalsTest, CpuExceptionsBecomeSignalsWithLinuxSiginfo) {
    RunResult native = run_native({example_path(GetParam(), "signal_fault")});
    ASSERT_TRUE(native.exited && native.exit_code == 0) << describe(native);
    ASSERT_NE(native.out.find("skipped the faulting write"), std::string::npos) << native.out;
    expect_as_native({example_path(GetParam(), "signal_fault")});
    for (const char* mode :
         {"segv-default", "segv-blocked", "ill-default", "fpe-default", "trap-default"})
        expect_as_native({example_path(GetParam(), "signal_fault"), mode});
}

// alarm, setitimer/getitimer (a periodic ITIMER_REAL interrupts a thread
// that spins), timer_create with SIGEV_SIGNAL, SIGEV_NONE and
// SIGEV_THREAD_ID, timer_gettime, timer_delete; and SIGALRM's default
// action (142).
TEST_P(SignalsTest, TimersSendSignalsAsNatively) {
    expect_as_native({example_path(GetParam(), "signal_timer")});
    RunResult native = run_native({example_path(GetParam(), "signal_timer"), "alarm"});
    ASSERT_FALSE(native.exited) << describe(native);
    expect_as_native({example_path(GetParam(), "signal_timer"), "alarm"});
}

// signalfd: records for blocked signals (raise, a timer, another thread's
// kill), EAGAIN when empty, poll and epoll woken, a blocking read.
TEST_P(SignalsTest, SignalfdReadsBlockedSignalsAsNatively) {
    expect_as_native({example_path(GetParam(), "signal_fd")});
}

INSTANTIATE_TEST_SUITE_P(Libc, SignalsTest, ::testing::Values("gcc", "musl"));

}  // namespace
}  // namespace ember::test
