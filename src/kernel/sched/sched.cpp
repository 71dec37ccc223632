// sched.cpp - the run queue, context switches and blocking (see sched.h).
#include "proc/proc.h"

extern "C" void switch_stacks(uint64_t* save_sp, uint64_t next_sp);

namespace k {

uint64_t g_state_gen;
uint64_t g_xsave_pages;
XsaveLayout g_xsave;

// CPUID 0xD.i gives each component's size (EAX) and offset (EBX); x87 and
// SSE live in the 512-byte legacy area, followed by the 64-byte header.
// A few CPUID exits, once per instance (when a second thread or the first
// signal frame needs it).
void xsave_probe() {
    if (g_xsave.rfbm) return;
    uint32_t lo, hi;
    asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    const uint64_t xcr0 = (static_cast<uint64_t>(hi) << 32) | lo;
    uint64_t rfbm = xcr0 & 3, size = 576;
    for (uint32_t i = 2; i < 64; ++i) {
        if (!(xcr0 & (1ull << i))) continue;
        uint32_t a = 0xd, b, c = i, d;
        asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
        if (a == 0 || b < 576) continue;  // not described (or a supervisor component)
        rfbm |= 1ull << i;
        if (static_cast<uint64_t>(a) + b > size) size = static_cast<uint64_t>(a) + b;
    }
    g_xsave = {rfbm, size, xcr0};
}

namespace {
// The boot thread runs on the static kernel stack (EMBER_GPA_KSTACK_*).
Thread g_main_thread = {.kstack_top = EMBER_GPA_KSTACK_TOP, .tid = 1};
}  // namespace
}  // namespace k

// entry.S reads kstack_top at offset 0 at every syscall entry.
extern "C" {
k::Cpu ember_cpu0 = {EMBER_GPA_KSTACK_TOP, &k::g_main_thread, nullptr, nullptr};
}
static_assert(offsetof(k::Cpu, kstack_top) == 0, "entry.S loads ember_cpu0.kstack_top");

namespace k {

Thread* g_threads = &g_main_thread;  // every thread not yet reaped (thread.cpp appends)
uint32_t g_live_threads = 1;

Cpu& this_cpu() { return ember_cpu0; }
bool threaded() { return g_live_threads > 1; }

Thread* thread_by_tid(int64_t tid) {
    for (Thread* t = g_threads; t; t = t->all_next)
        if (t->tid == tid && t->state != ThreadState::kDead) return t;
    return nullptr;
}

void make_runnable(Thread* t) {
    Cpu& c = this_cpu();
    boot()->preempt_want = 1;  // the VMM may now preempt the running thread
    t->state = ThreadState::kRunnable;
    t->wait = WaitKind::kNone;
    t->run_next = nullptr;
    if (c.run_tail)
        c.run_tail->run_next = t;
    else
        c.run_head = t;
    c.run_tail = t;
}

// The VMM's time slice is wanted while another thread is runnable, and
// while a blocked thread waits for a deadline or a host event that only a
// look at the clock or the host can notice (a sleeper must wake while
// another thread spins), and while a timer is armed (its signal must
// interrupt a thread that spins). A single busy thread with nothing else to wait for
// is never kicked: it would cost an exit per time slice for nothing.
void update_preempt_want() {
    bool want = this_cpu().run_head != nullptr || g_timer_next != 0;
    for (Thread* t = g_threads; t && !want; t = t->all_next)
        want = t->state == ThreadState::kBlocked &&
               (t->deadline || (t->wait == WaitKind::kHost && t->events));
    boot()->preempt_want = want;
}

namespace {

Thread* run_pop() {
    Cpu& c = this_cpu();
    Thread* t = c.run_head;
    if (!t) return nullptr;
    c.run_head = t->run_next;
    if (!c.run_head) c.run_tail = nullptr;
    t->run_next = nullptr;
    update_preempt_want();
    return t;
}

void switch_to(Thread* prev, Thread* next) {
    Cpu& c = this_cpu();
    if (prev->state != ThreadState::kDead) {
        prev->fs_base = rdfsbase();
        prev->gs_base = rdgsbase();
        xsave(prev->xsave);
    }
    if (prev->proc != next->proc) proc_switch(prev->proc, next->proc);
    xrstor(next->xsave);
    wrfsbase(next->fs_base);
    wrgsbase(next->gs_base);
    next->state = ThreadState::kRunning;
    c.current = next;
    c.kstack_top = next->kstack_top;
    switch_stacks(&prev->ksp, next->ksp);
}

// Waiters on host events or on other threads re-check when a syscall may
// have changed what they wait for (another thread consumed the rx ring,
// wrote a pipe, ...).
// Deadlines are checked here too, so that a thread that only yields does
// not keep a sleeper from waking.
void wake_changed() {
    timers_fire();
    uint64_t now = 0;
    for (Thread* t = g_threads; t; t = t->all_next) {
        if (t->state != ThreadState::kBlocked) continue;
        if ((t->wait == WaitKind::kHost || t->wait == WaitKind::kOthers) && t->gen != g_state_gen) {
            make_runnable(t);
            continue;
        }
        if (!t->deadline) continue;
        if (!now) now = monotonic_ns();
        if (now < t->deadline) continue;
        if (t->wait == WaitKind::kFutex) {
            futex_unqueue(t);
            t->timed_out = true;
        }
        make_runnable(t);
    }
}

uint32_t hc_wait(uint32_t events, uint64_t deadline_ns) {
    auto* w = reinterpret_cast<ember_hc_wait*>(EMBER_HC_SLOT_WAIT);
    w->deadline_ns = deadline_ns;
    w->events = events;
    w->ready = 0;
    const int64_t st = hypercall(EMBER_HC_WAIT, EMBER_HC_SLOT_WAIT);
    after_resume();
    if (st != EMBER_OK) return 0;
    return w->ready;
}

// Nothing is runnable: one host wait for every blocked thread. With nothing
// to wait for at all the VMM ends the instance as deadlocked.
void idle_wait() {
    uint32_t events = 0;
    uint64_t deadline = 0;
    for (Thread* t = g_threads; t; t = t->all_next) {
        if (t->state != ThreadState::kBlocked) continue;
        if (t->wait == WaitKind::kHost) events |= t->events;
        if (t->deadline && (deadline == 0 || t->deadline < deadline)) deadline = t->deadline;
    }
    if (g_timer_next && (deadline == 0 || g_timer_next < deadline)) deadline = g_timer_next;
    const uint32_t ready = hc_wait(events, deadline);
    const uint64_t now = monotonic_ns();
    for (Thread* t = g_threads; t; t = t->all_next) {
        if (t->state != ThreadState::kBlocked) continue;
        if (t->wait == WaitKind::kHost) {
            // As before threads: one host wait, then the caller re-checks.
            t->ready = ready & t->events;
            make_runnable(t);
        } else if (t->wait == WaitKind::kFutex && t->deadline && now >= t->deadline) {
            futex_unqueue(t);
            t->timed_out = true;
            make_runnable(t);
        }
    }
    timers_fire();  // may wake a thread blocked for a signal
}

// A look at the host without blocking (a deadline in the past): the kHost
// waiters whose events are ready become runnable and re-check.
void poll_host_waiters() {
    uint32_t events = 0;
    for (Thread* t = g_threads; t; t = t->all_next)
        if (t->state == ThreadState::kBlocked && t->wait == WaitKind::kHost) events |= t->events;
    if (!events) return;
    const uint32_t ready = hc_wait(events, 1);
    if (!ready) return;
    for (Thread* t = g_threads; t; t = t->all_next) {
        if (t->state != ThreadState::kBlocked || t->wait != WaitKind::kHost) continue;
        t->ready = ready & t->events;
        if (t->ready) make_runnable(t);
    }
}

void reap() {
    for (Thread** pp = &g_threads; *pp;) {
        Thread* t = *pp;
        if (t->state == ThreadState::kDead && t != current()) {
            *pp = t->all_next;
            if (t->kstack_lo)
                pages_free(t->kstack_lo, (t->kstack_top - t->kstack_lo) / EMBER_PAGE_SIZE);
            if (t->xsave) pages_free(reinterpret_cast<uint64_t>(t->xsave), g_xsave_pages);
            if (t != &g_main_thread) kfree(t);
            continue;
        }
        pp = &t->all_next;
    }
}

}  // namespace

void schedule() {
    Thread* prev = current();
    for (;;) {
        wake_changed();
        Thread* next = run_pop();
        if (!next) {
            idle_wait();
            continue;
        }
        if (next != prev) {
            switch_to(prev, next);
            reap();  // back in prev, which was resumed by some other thread
        }
        prev->state = ThreadState::kRunning;
        return;
    }
}

// The VMM stopped the running thread in application code at the end of its
// time slice (entry.S, preempt_entry): save its registers on its kernel
// stack and let the others run; it resumes where it was stopped.
// Sleepers whose deadline passed and waiters whose host events are ready
// (one poll of the host, only when some thread waits for one) become
// runnable first.
extern "C" void preempt_dispatch(uint64_t* regs) {
    const ember_boot_info* b = boot();
    for (int i = 0; i < 18; ++i) regs[i] = b->preempt_regs[i];
    wake_changed();
    poll_host_waiters();
    if (this_cpu().run_head) {
        make_runnable(current());
        schedule();
    } else {
        update_preempt_want();
    }
    // Signals sent while it was switched out (its context is `regs`).
    if (signal_pending_now()) signal_deliver(reinterpret_cast<UserRegs*>(regs), -1);
}

void sched_kill(Thread* t) {
    Cpu& c = this_cpu();
    if (t->state == ThreadState::kDead) return;
    if (t->state == ThreadState::kRunnable) {
        Thread* prev = nullptr;
        for (Thread* u = c.run_head; u; prev = u, u = u->run_next) {
            if (u != t) continue;
            if (prev)
                prev->run_next = u->run_next;
            else
                c.run_head = u->run_next;
            if (c.run_tail == u) c.run_tail = prev;
            break;
        }
    } else if (t->state == ThreadState::kBlocked && t->wait == WaitKind::kFutex) {
        futex_unqueue(t);
    }
    signal_thread_gone(t);
    t->state = ThreadState::kDead;
    t->proc->live_threads--;
    g_live_threads--;
}

int64_t block_for_others() {
    if (!threaded()) return -EDEADLK;
    if (signal_pending_now()) return -kErestartsys;
    Thread* t = current();
    t->state = ThreadState::kBlocked;
    t->wait = WaitKind::kOthers;
    t->gen = g_state_gen;
    t->deadline = 0;
    schedule();
    return signal_pending_now() ? -kErestartsys : 0;
}

// Every blocking call of the kernel ends here (stdin, sockets, poll, epoll,
// sleeps). A single thread waits in the VMM at once, as before threads; a
// deadline already past is a poll of the host (net_pump) and never yields.
uint32_t wait_events(uint32_t events, uint64_t deadline_ns) {
    if (!threaded() || (deadline_ns && deadline_ns <= monotonic_ns())) {
        uint64_t d = deadline_ns;
        if (g_timer_next && (d == 0 || g_timer_next < d)) d = g_timer_next;
        const uint32_t ready = hc_wait(events, d);
        timers_fire();  // the caller sees the signal (signal_pending_now)
        return ready;
    }
    Thread* t = current();
    t->state = ThreadState::kBlocked;
    t->wait = WaitKind::kHost;
    t->events = events;
    t->deadline = deadline_ns;
    t->ready = 0;
    t->gen = g_state_gen;
    schedule();
    t->deadline = 0;
    return t->ready;
}

// A thread exits: it never runs again; its stack is freed by whoever runs
// next (reap).
[[noreturn]] void exit_current_thread() {
    Thread* t = current();
    signal_thread_gone(t);
    t->state = ThreadState::kDead;
    t->proc->live_threads--;
    g_live_threads--;
    schedule();
    panic("a dead thread was scheduled");
}

}  // namespace k
