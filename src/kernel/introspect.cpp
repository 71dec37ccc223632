// introspect.cpp - what /proc/<pid>/task and the Threads: line show: the
// live threads of the loaded process (the running one, or the one a
// process_view loaded) and their states, read from the
// scheduler's list (sched/) without changing it.
#include "sched/sched.h"

namespace k {

namespace {

uint32_t list_threads(ThreadInfo* out, uint32_t cap, bool all) {
    uint32_t n = 0;
    for (Thread* t = g_threads; t; t = t->all_next) {
        if (t->state == ThreadState::kDead || (!all && t->proc != proc_current())) continue;
        if (n < cap) out[n] = {t->tid, t->state == ThreadState::kBlocked ? 'S' : 'R'};
        n++;
    }
    return n;
}

}  // namespace

uint32_t thread_list(ThreadInfo* out, uint32_t cap) { return list_threads(out, cap, false); }
uint32_t thread_list_all(ThreadInfo* out, uint32_t cap) { return list_threads(out, cap, true); }

int32_t current_tid() { return current()->tid; }

}  // namespace k
