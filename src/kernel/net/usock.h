// usock.h - sockets served entirely inside the guest (private to src/kernel/net):
// AF_UNIX (stream, datagram, seqpacket) and UDP on the loopback addresses.
//
// Both ends live in this instance, so nothing crosses to the host: a send
// copies the bytes into a message on the receiver's queue (kernel memory,
// the same in every process's address space), a receive copies them out in
// the receiver's context. A blocked sender or receiver waits for another
// thread or process to act (block_for_others), as pipes do; with no other
// thread it fails with EDEADLK instead of hanging.
//
// Lifetime: a USock is owned by its File; a stream connection's server end
// is owned by its listener's accept queue until accept() gives it a File.
// Peers point at each other and unlink themselves when freed, so a pointer
// to a peer is valid whenever it is non-null.
#pragma once

#include "net/net.h"

namespace k::net {

constexpr uint32_t kUnixPathMax = 108;               // sizeof sun_path
constexpr uint32_t kUnixAddrMax = 2 + kUnixPathMax;  // sizeof(struct sockaddr_un)
constexpr uint64_t kUsockBuf = 212992;               // net.core.[rw]mem_default
constexpr uint32_t kScmMaxFd = 253;                  // SCM_MAX_FD

struct Cred {
    int32_t pid;
    uint32_t uid, gid;
};

// One message: a datagram, a seqpacket record, or a piece of a stream (one
// send's bytes, split at 64 KiB), with what travelled with it.
struct UMsg {
    UMsg* next;
    uint32_t len;  // bytes of data
    uint32_t off;  // stream: bytes already read
    uint32_t cap;  // kStreamPiece for the large pieces that are recycled, else 0
    File** fds;    // SCM_RIGHTS: nfds references owned by the message
    uint32_t nfds;
    Cred cred;  // the sender's, for SCM_CREDENTIALS
    // The sender's address: AF_UNIX bytes (ulen, 0 = unnamed) or an inet one.
    uint32_t ulen;
    uint8_t uaddr[kUnixAddrMax];
    ember_net_addr in;
    uint8_t* data() { return reinterpret_cast<uint8_t*>(this + 1); }
};

enum class UState : uint8_t { kUnconnected, kListening, kConnected };

struct USock {
    USock* all_next;  // every USock (name lookup, peers to unlink)
    USock* all_prev;
    USock* qnext;     // the accept queue of a listener
    File* file;       // null while in an accept queue
    uint16_t family;  // AF_UNIX, AF_INET, AF_INET6
    uint8_t type;     // SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET
    UState state;
    // Stream/seqpacket: the other end (null once it is gone). Datagram: the
    // connect()ed destination.
    USock* peer;
    bool rcv_shut;   // reads end after the queue (own SHUT_RD or the peer's SHUT_WR/close)
    bool snd_shut;   // writes fail with EPIPE
    bool peer_dead;  // datagram: the connected peer was closed (ECONNREFUSED)
    bool reset;      // stream: the peer closed with unread data (ECONNRESET once)
    int32_t so_error;
    // Receive queue.
    UMsg* rx_head;
    UMsg* rx_tail;
    uint64_t rx_bytes;
    uint32_t rx_msgs;
    // Listener: connected server ends not yet accepted.
    USock* acc_head;
    USock* acc_tail;
    uint32_t acc_len;
    int32_t backlog;
    // Address. AF_UNIX: the sockaddr_un bytes as bound (ulen 0: unnamed),
    // and the file system node a path name created (a reference held).
    uint32_t ulen;
    uint8_t uaddr[kUnixAddrMax];
    bool name_owner;  // bound by bind() (accepted ends carry the listener's name too)
    fs::Inode* node;
    // AF_INET/AF_INET6 datagram: the local and connected addresses.
    bool bound;
    ember_net_addr local;
    ember_net_addr remote;
    bool remote_host;  // the connected address is outside the instance (udp_host.cpp)
    // The datagram socket id the host knows this socket by (0: none yet):
    // given at the first datagram to a destination outside the instance.
    uint32_t host_id;
    Cred cred;       // the creator's (connect/listen/socketpair time)
    Cred peer_cred;  // SO_PEERCRED
    bool has_peer_cred;
    int32_t opt_passcred, opt_rcvbuf, opt_sndbuf, opt_reuseaddr, opt_reuseport, opt_broadcast;
    int64_t rcvtimeo_ns, sndtimeo_ns;
    uint64_t gen;  // readiness generation (epoll edge-triggered mode)
};

// A kernel view of the caller's buffers (user memory already checked).
struct IoVec {
    uint8_t* base;
    uint64_t len;
};

struct USend {
    const IoVec* iov;
    uint32_t niov;
    uint64_t total;
    File** fds;  // references passed to the message (taken back on failure)
    uint32_t nfds;
    bool nonblock;
    USock* dest;     // datagram: a resolved destination (null: the connected peer)
    bool dest_in;    // inet datagram: send to `in` (dest null: nobody bound: dropped)
    bool dest_host;  // inet datagram: `in` is outside the instance: the host carries it
    ember_net_addr in;
};

struct URecv {
    IoVec* iov;
    uint32_t niov;
    uint64_t total;
    uint64_t flags;  // MSG_PEEK, MSG_TRUNC, MSG_WAITALL
    bool nonblock;
    // out
    int32_t msg_flags;  // MSG_TRUNC, MSG_CTRUNC (set by the caller)
    File** fds;         // kmalloc'd, nfds references the caller installs or drops
    uint32_t nfds;
    bool has_cred;
    Cred cred;
    uint32_t ulen;
    uint8_t uaddr[kUnixAddrMax];
    bool has_in;
    ember_net_addr in;
};

USock* usock_of(File* f);  // null unless f is a guest-local socket
bool is_usock(const File* f);
uint64_t usock_gen(File* f);
USock* usock_new(uint16_t family, uint8_t type);
void usock_free(USock* s);  // a socket without a File (the caller unlinked it)
int64_t usock_install(USock* s, bool nonblock, bool cloexec);
void usock_link(USock* a, USock* b);  // connects two fresh stream/seqpacket ends
void cred_current(Cred* c);

// Name lookup. AF_UNIX: by node (path names) or bytes (abstract names);
// inet: the socket bound to the port (and the address, or the any-address).
USock* usock_find_node(const fs::Inode* node);
USock* usock_find_abstract(const uint8_t* addr, uint32_t len);
USock* usock_find_port(uint16_t family, const ember_net_addr& a);
bool usock_port_used(const USock* self, uint16_t port);

int64_t usock_send(USock* s, USend* m);
int64_t usock_recv(USock* s, URecv* m);
uint32_t usock_poll_mask(USock* s);
// Waits for another thread or process (or deadline, 0 = none): 0, -EAGAIN on
// timeout, -EINTR/-kErestartsys for a signal, -EDEADLK alone.
int64_t usock_wait(uint64_t deadline);
// A stream connect to listener l: queues a new server end. 0, -EAGAIN (full).
int64_t usock_connect_stream(USock* s, USock* l);

extern const fs::FileOps kUsockOps;

// ---- UDP through the host (udp_host.cpp) ----------------------------------------
// A loopback (or unspecified) address: a datagram to it stays in the
// instance when a socket here is bound to it (sys_usock.cpp).
bool loopback(const ember_net_addr& a);
// A datagram of s to m->in, outside the instance: one EMBER_NET_DGRAM record.
// Returns the bytes sent, -EMSGSIZE, or -ENOBUFS (EMBER_NET_MAX_DGRAM
// sockets already have host ids, or the tx ring is stuck).
int64_t usock_send_host(USock* s, USend* m);
// An EMBER_NET_DGRAM or EMBER_NET_DGRAM_ERROR record from the host.
void usock_host_rx(const ember_net_rec& r, const uint8_t* payload);
// s is being freed: the host closes its socket.
void usock_host_release(USock* s);
// Blocks as usock_wait does, but sockets the host feeds also wake on host events.
int64_t usock_wait_for(const USock* s, uint64_t deadline);
// For udp_host.cpp (usock.cpp): the socket with a host id, and queueing a
// received datagram (false: dropped, the queue is full).
USock* usock_find_host_id(uint32_t id);
bool usock_deliver(USock* s, const ember_net_addr& from, const uint8_t* data, uint32_t len);

// The syscalls on a guest-local socket, called by sys_socket.cpp when the fd
// is one (sys_usock.cpp). Arguments as the syscall's.
int64_t usock_socket(uint64_t domain, uint64_t type, uint64_t protocol);
int64_t usock_socketpair(uint64_t domain, uint64_t type, uint64_t protocol, uint64_t usv);
int64_t usock_bind(File* f, uint64_t uaddr, uint64_t len);
int64_t usock_listen(File* f, uint64_t backlog);
int64_t usock_accept(File* f, uint64_t uaddr, uint64_t ulen, uint64_t flags);
int64_t usock_connect(File* f, uint64_t uaddr, uint64_t len);
int64_t usock_shutdown(File* f, uint64_t how);
int64_t usock_name(File* f, uint64_t uaddr, uint64_t ulen, bool peer);
int64_t usock_sendto(File* f, uint64_t buf, uint64_t len, uint64_t flags, uint64_t uaddr,
                     uint64_t alen);
int64_t usock_recvfrom(File* f, uint64_t buf, uint64_t len, uint64_t flags, uint64_t uaddr,
                       uint64_t ulen);
int64_t usock_sendmsg(File* f, uint64_t umsg, uint64_t flags);
int64_t usock_recvmsg(File* f, uint64_t umsg, uint64_t flags);
int64_t usock_setsockopt(File* f, uint64_t level, uint64_t name, uint64_t uval, uint64_t len);
int64_t usock_getsockopt(File* f, uint64_t level, uint64_t name, uint64_t uval, uint64_t ulen);

}  // namespace k::net
