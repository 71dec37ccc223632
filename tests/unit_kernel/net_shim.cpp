// net_shim.cpp - the host end of the kernel's waits and hypercalls for the
// net tests: k::wait_events and k::hypercall forward to the test's fake VMM
// (shim::host_wait, shim::host_kick). Kernel headers only (see kernel_shim.h).
// The clock syscalls (time.cpp) are linked here too: they sleep through the
// same k::wait_events.
#include "kernel_shim.h"
#include "net/net.h"
#include "net/usock.h"

namespace k {

uint32_t wait_events(uint32_t events, uint64_t deadline_ns) {
    return shim::host_wait(events, deadline_ns);
}

int64_t hypercall(uint32_t nr, uint64_t) {
    if (nr == EMBER_HC_CONSOLE) shim::host_kick();
    return EMBER_OK;
}

// No signals or timers on the host (sched/signal.cpp, sched/timer.cpp):
// nothing is ever pending, so no wait is interrupted.
bool signal_pending_now() { return false; }
int64_t restart_block_set(const RestartBlock&) { return -kErestartRestartblock; }
uint64_t signal_pending_in(uint64_t) { return 0; }
int64_t signal_wait(uint64_t, uint64_t, SigInfo*) { return -EAGAIN; }
uint64_t g_sig_gen;
uint64_t g_timer_next;

namespace net {
// One process on the host (net_cred.cpp reads the process list in the guest).
void cred_current(Cred* c) { *c = {kProcessId, 0, 0}; }
}  // namespace net

}  // namespace k

namespace shim {

void net_boot(void* rx, uint64_t rx_size, void* tx, uint64_t tx_size) {
    k::register_net_syscalls();
    k::net::rings_init(rx, rx_size, tx, tx_size);
}

void time_boot() { k::register_time_syscalls(); }

}  // namespace shim
