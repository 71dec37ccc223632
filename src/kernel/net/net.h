// net.h - sockets carried by the host, and readiness (poll, select, epoll,
// eventfd, timerfd). Private to src/kernel/net.
//
// There is no TCP/IP stack here: a socket is a stream that the VMM carries
// (src/vmm/stream_host.cpp) over two rings of records in guest memory (the "streams
// carried by the host" section of src/abi/ember_abi.h). The kernel is single
// threaded and cooperative, so every blocking call is the same loop:
//     for (;;) { net_poll_rx(); if (done) return; net_wait(sources, deadline); }
// where net_wait makes the EMBER_HC_WAIT hypercall (which also lets the VMM
// drain the tx ring) and processes whatever arrived.
#pragma once

#include "fs/fd.h"
#include "sched/signal.h"

namespace k::net {

using fs::File;

// ---- the rings (ring.cpp) ---------------------------------------------------
// Points the ring code at the rx and tx ring regions (each a struct
// ember_ring followed by its data area). The kernel uses the fixed GPAs; the
// host tests use their own buffers.
void rings_init(void* rx_region, uint64_t rx_size, void* tx_region, uint64_t tx_size);
// Appends a record to the tx ring. When the ring is full, the VMM is asked to
// drain it (EMBER_HC_CONSOLE) and the append is retried. payload may be null
// when len is 0; len <= EMBER_NET_DATA_MAX. false only when the host does not
// drain the ring (the record is dropped; logged).
bool tx_put(uint16_t type, uint32_t stream, uint32_t arg, const void* payload, uint32_t len);
// The next rx record, validated: its header and a pointer to its payload in
// the ring (valid until rx_consume). PAD records are skipped here. false when
// the ring is empty (or corrupted: then it is reset, and the event logged).
bool rx_peek(ember_net_rec* rec, const uint8_t** payload);
void rx_consume();  // drops the record returned by the last rx_peek
bool rx_pending();  // the rx ring is not empty
// Free bytes in the tx ring (for tests and tx batching decisions).
uint64_t tx_free();

// ---- waiting (wait.cpp) -------------------------------------------------------
// What could make a file ready: host event kinds (EMBER_WAIT_*) and the
// earliest monotonic deadline (0 = none). Files whose readiness can only be
// changed by the application itself (pipes, eventfds) contribute nothing.
struct WakeSet {
    uint32_t events;
    uint64_t deadline;
};
void wake_add_deadline(WakeSet* w, uint64_t deadline);
void file_wake_sources(File* f, WakeSet* w, int depth);

// Processes every pending rx record into socket state. Call it before
// looking at any socket state, and after every wait.
void net_poll_rx();
// One blocking step: waits for w->events or the deadline (the earlier of
// w->deadline and `deadline`, 0 = none), then runs net_poll_rx. Returns false
// without waiting when nothing could ever wake the caller: the caller then
// fails with would_block().
bool net_wait(uint32_t events, uint64_t deadline);
// Lets the VMM deliver what it has for `events` right now without blocking (a
// wait with a deadline in the past), then processes it. For zero timeouts.
void net_pump(uint32_t events);
// What a blocking call that nothing could complete returns (-EDEADLK, logged
// once), like the fs layer's pipes.
int64_t would_block();

// Converts a relative timeout to an absolute monotonic deadline. ns < 0:
// none (0); ns == 0: "now" (the caller does not block).
uint64_t deadline_after(int64_t ns);
// Reads a user timespec as nanoseconds: 0 ok, -EFAULT, -EINVAL.
int64_t timespec_in(uint64_t uts, int64_t* ns);

// ---- sockets (socket.cpp, sys_socket.cpp) ------------------------------------
bool is_socket(const File* f);
void sockets_reset();  // forgets every socket (boot, and between host tests)
// Processes one rx record (called by net_poll_rx).
void socket_rx(const ember_net_rec& rec, const uint8_t* payload);
// Ends sockets that lingered after close() too long (called by net_poll_rx).
void sockets_tick();
// Live streams the host counts against EMBER_NET_MAX_STREAMS.
uint32_t streams_open();
uint64_t socket_gen(File* f);  // bumped whenever the socket's readiness may change
void register_socket_syscalls();
// Reads a user sockaddr for a socket of family sfamily (AF_INET/AF_INET6):
// -EINVAL (length), -EAFNOSUPPORT, -EFAULT; v4-mapped IPv6 becomes IPv4.
int64_t inet_addr_in(uint16_t sfamily, uint64_t uaddr, uint64_t len, ember_net_addr* out);
// Formats an address as a socket of family sfamily sees it; returns its length.
uint32_t inet_addr_format(uint16_t sfamily, const ember_net_addr& a, uint8_t* buf);

// ---- readiness (poll.cpp, epoll.cpp, eventfd.cpp, timerfd.cpp) -----------------
// A generation counter per file for epoll's edge-triggered mode: it changes
// whenever new readiness arrives (0 for kinds that have none; epoll then uses
// transitions of the poll mask only).
uint64_t file_gen(File* f);
bool is_epoll(const File* f);
bool is_timerfd(const File* f);
bool is_signalfd(const File* f);
void register_signalfd_syscalls();
bool is_eventfd(const File* f);
uint64_t eventfd_gen(File* f);
uint64_t timerfd_gen(File* f);
uint64_t epoll_gen(File* f);
uint64_t timerfd_deadline(File* f);  // next expiry (monotonic ns) or 0
// Epoll sources of an epoll file: the union of its members' sources.
void epoll_wake_sources(File* f, WakeSet* w, int depth);
// A file is being freed: every epoll set forgets it (fs::file_release_hook).
void epoll_forget(File* f);
void epoll_reset();

void register_poll_syscalls();
void register_epoll_syscalls();
void register_eventfd_syscalls();
void register_timerfd_syscalls();

// The wait loop of poll, select and epoll_wait. eval() computes readiness (returns the count of
// ready entries) and adds each file's wake sources to *w. timeout_ns < 0:
// no timeout. Returns the count, or -EDEADLK when nothing could wake us.
template <class Eval>
int64_t wait_ready(int64_t timeout_ns, uint64_t* deadline_out, Eval eval) {
    const uint64_t deadline = timeout_ns > 0 ? deadline_after(timeout_ns) : 0;
    *deadline_out = deadline;
    bool pumped = false;
    for (;;) {
        net_poll_rx();
        WakeSet w{0, 0};
        const int64_t n = eval(&w);
        if (n != 0) return n;
        if (timeout_ns == 0) {
            // Zero timeout: let the VMM deliver what it has once, then answer.
            if (pumped || !w.events) return 0;
            net_pump(w.events);
            pumped = true;
            continue;
        }
        if (deadline && monotonic_ns() >= deadline) return 0;
        if (signal_pending_now()) return -EINTR;  // never restarted, as on Linux
        wake_add_deadline(&w, deadline);
        if (!net_wait(w.events, w.deadline)) return would_block();
    }
}

// fd arguments are C ints: the upper half of the register is ignored.
inline int64_t fd_arg(uint64_t a) { return static_cast<int32_t>(a); }

// A new anonymous file of a net kind (inode mode `mode`, f->priv = priv),
// installed in the lowest free fd. Returns the fd, or -ENOMEM / -EMFILE; on
// failure nothing was created and the caller still owns priv.
int64_t anon_fd(uint32_t mode, const fs::FileOps* ops, uint32_t flags, void* priv, bool cloexec,
                File** out);

}  // namespace k::net
