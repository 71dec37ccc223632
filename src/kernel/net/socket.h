// socket.h - socket objects (private to src/kernel/net).
//
// A Socket is one stream socket. Its lifetime: created by socket() (owned by
// its File), or by an EMBER_NET_ACCEPT record (owned by the listener's
// accept queue until accept() gives it a File). close() releases it; a
// socket whose sent data the host has not yet written out lingers (no File,
// on the linger list) until the host returns all its credit, so that close()
// after write() does not cut the response short.
#pragma once

#include "net/net.h"

namespace k::net {

enum class SockState : uint8_t {
    kNew,         // fresh, or after a failed connect (may connect again)
    kBound,       // bind() (explicit or implicit) but not listening or connected
    kListening,   // LISTEN sent; id is the listener id
    kConnecting,  // CONNECT sent, waiting for CONNECTED
    kConnected,   // a stream: accepted, or connected
    kLingering,   // closed by the application, waiting for the host to send out
};

// Received bytes, as a list of chunks from the small kmalloc classes.
struct RxChunk {
    RxChunk* next;
    uint32_t len;  // bytes of data in the chunk
    uint32_t off;  // bytes already consumed
    uint8_t* data() { return reinterpret_cast<uint8_t*>(this + 1); }
};

struct Socket {
    Socket* hnext;     // id hash chain (while id != 0)
    Socket* qnext;     // accept queue of the listener, or the linger list
    Socket* all_next;  // every socket (for port checks)
    Socket* all_prev;
    File* file;  // null while queued or lingering
    // Loopback TCP inside the instance: the other end of a guest-local stream
    // (id 0, nothing goes to the host); null once that end was freed.
    Socket* lpeer;
    bool local_stream;
    bool connect_unseen;  // a nonblocking local connect completed; the next connect() says 0
    uint32_t id;          // stream or listener id; 0: none (never connected, or the host forgot it)
    uint16_t family;      // AF_INET or AF_INET6
    SockState state;
    bool bound;          // `local` holds an address (bind, listen, connect or accept)
    bool explicit_port;  // bound by bind() or listen(): counts for EADDRINUSE
    bool peer_eof;       // the host sent SHUTDOWN: reads end after the buffer
    bool reset;          // the host sent CLOSE (reset_err): the stream is gone
    bool reset_seen;     // a read has reported the reset once
    bool shut_rd, shut_wr;
    int32_t so_error;   // pending error (a failed connect), for SO_ERROR
    int32_t reset_err;  // errno the host reset the stream with
    uint32_t credit;    // bytes we may still send to the host
    uint32_t unacked;   // bytes the application read and the host has not been credited
    uint64_t rx_bytes;  // bytes buffered in rx_head..rx_tail
    RxChunk* rx_head;
    RxChunk* rx_tail;
    Socket* acc_head;  // listeners: streams not yet accepted
    Socket* acc_tail;
    uint32_t acc_len;
    int32_t backlog;
    uint64_t gen;              // readiness generation (epoll edge-triggered mode)
    uint64_t linger_deadline;  // kLingering: when to give up on the host
    ember_net_addr local;
    ember_net_addr peer;
    // socket options, as set (see sys_socket.cpp)
    int32_t opt_reuseaddr, opt_reuseport, opt_keepalive, opt_nodelay, opt_rcvbuf, opt_sndbuf,
        opt_keepidle, opt_keepintvl, opt_keepcnt, opt_v6only, opt_linger_on, opt_linger_secs,
        opt_rcvlowat, opt_cork, opt_quickack, opt_user_timeout, opt_tos, opt_defer_accept,
        opt_fastopen, opt_oobinline, opt_priority, opt_notsent_lowat;
    int64_t rcvtimeo_ns, sndtimeo_ns;  // 0: none
};

Socket* sock_of(File* f);  // null unless f is a socket
Socket* sock_new(uint16_t family);
// Gives a socket an id and a place in the id table (counts as a stream
// unless it is a listener). false (nothing changed) when the id is taken.
bool sock_attach_id(Socket* s, uint32_t id);
// A fresh guest-chosen id, or 0 when the cap on streams is reached.
uint32_t sock_alloc_id(bool listener);
// Installs a new socket file for s. cloexec/nonblock as for socket().
int64_t sock_install(Socket* s, bool nonblock, bool cloexec);
void sock_destroy(Socket* s);  // frees s and its buffers (the caller unlinked it)
// Stops listening: UNLISTEN, and the queued connections are closed. The
// socket is left bound.
void sock_unlisten(Socket* s);
// Listening sockets in this instance; the VMM accepts at most
// kMaxListeners (src/vmm/stream_host.cpp's cap), so listen() refuses beyond it.
constexpr uint32_t kMaxListeners = 256;
extern uint32_t g_listening;
// A listener of this instance that a connect() to `a` reaches without
// leaving the guest (a loopback or any-address destination), or null.
Socket* local_listener(const Socket* s, const ember_net_addr& a);
// Connects s to the guest listener l with a guest-local stream pair; the
// server end is queued for accept().
int64_t local_connect(Socket* s, Socket* l, const ember_net_addr& a);
// Local ports.
bool port_in_use(const Socket* self, uint16_t port);
uint16_t ephemeral_port();

// Data path (socket.cpp). nonblock: O_NONBLOCK or MSG_DONTWAIT.
int64_t sock_send(Socket* s, const void* buf, uint64_t len, bool nonblock);
int64_t sock_recv(Socket* s, void* buf, uint64_t len, uint64_t flags, bool nonblock);
uint32_t sock_poll_mask(Socket* s);

// Blocks for socket progress until `deadline` (0 = none): 0, -EAGAIN on
// timeout, or -EINTR / -kErestartsys when a signal is pending.
int64_t sock_wait(uint64_t deadline);

extern const fs::FileOps kSocketOps;

}  // namespace k::net
