// usock.cpp - guest-local sockets (AF_UNIX, loopback UDP): objects, names,
// the message queues, send and receive, readiness, close. See usock.h.
#include "net/usock.h"

namespace k::net {

namespace {

constexpr uint32_t kStreamPiece = 64 * 1024;  // a stream send is queued in pieces of this size
constexpr uint32_t kMaxDgramQlen = 10;        // net.unix.max_dgram_qlen
constexpr uint64_t kUdpMax = 65507;           // the largest UDP payload over IPv4

USock* g_usocks;

// What a receiver's queue holds against kUsockBuf: the bytes plus a fixed
// cost per message, so that a flood of tiny messages (each with up to 253
// file references) cannot pin unbounded kernel memory.
constexpr uint64_t kMsgCost = 256;
uint64_t queued(const USock* d) { return d->rx_bytes + d->rx_msgs * kMsgCost; }

// Large stream pieces are kept for reuse: a fresh one costs a page
// allocation and the zeroing of ~17 pages, for bytes that are overwritten.
constexpr uint32_t kPieceCache = 4;
UMsg* g_pieces[kPieceCache];
uint32_t g_npieces;

UMsg* msg_alloc(uint32_t len) {
    if (len < 4096) {
        auto* m = static_cast<UMsg*>(kmalloc(sizeof(UMsg) + len));
        if (m) memset(m, 0, sizeof *m);
        return m;
    }
    UMsg* m = g_npieces ? g_pieces[--g_npieces]
                        : static_cast<UMsg*>(kmalloc(sizeof(UMsg) + kStreamPiece));
    if (!m) return nullptr;
    memset(m, 0, sizeof *m);
    m->cap = kStreamPiece;
    return m;
}

void msg_release(UMsg* m) {
    if (m->cap == kStreamPiece && g_npieces < kPieceCache)
        g_pieces[g_npieces++] = m;
    else
        kfree(m);
}

void msg_free(UMsg* m) {
    for (uint32_t i = 0; i < m->nfds; i++) fs::file_put(m->fds[i]);
    kfree(m->fds);
    msg_release(m);
}

void queue_free(USock* s) {
    while (UMsg* m = s->rx_head) {
        s->rx_head = m->next;
        msg_free(m);
    }
    s->rx_tail = nullptr;
    s->rx_bytes = 0;
    s->rx_msgs = 0;
}

void queue_push(USock* d, UMsg* m) {
    if (d->rx_tail)
        d->rx_tail->next = m;
    else
        d->rx_head = m;
    d->rx_tail = m;
    d->rx_bytes += m->len;
    d->rx_msgs++;
    d->gen++;
}

void queue_pop(USock* s) {
    UMsg* m = s->rx_head;
    s->rx_head = m->next;
    if (!s->rx_head) s->rx_tail = nullptr;
    s->rx_msgs--;
    s->rx_bytes -= m->len - m->off;
    m->nfds = 0;  // the receiver took them
    kfree(m->fds);
    msg_release(m);
}

bool alive(const USock* d) {
    for (const USock* o = g_usocks; o; o = o->all_next)
        if (o == d) return true;
    return false;
}

// Gathers len bytes from the iovec at byte offset `at` into dst.
void iov_gather(const IoVec* v, uint32_t n, uint64_t at, uint8_t* dst, uint64_t len) {
    for (uint32_t i = 0; i < n && len; i++) {
        if (at >= v[i].len) {
            at -= v[i].len;
            continue;
        }
        uint64_t k = v[i].len - at < len ? v[i].len - at : len;
        memcpy(dst, v[i].base + at, k);
        dst += k;
        len -= k;
        at = 0;
    }
}

void iov_scatter(IoVec* v, uint32_t n, uint64_t at, const uint8_t* src, uint64_t len) {
    for (uint32_t i = 0; i < n && len; i++) {
        if (at >= v[i].len) {
            at -= v[i].len;
            continue;
        }
        uint64_t k = v[i].len - at < len ? v[i].len - at : len;
        memcpy(v[i].base + at, src, k);
        src += k;
        len -= k;
        at = 0;
    }
}

// A message of `len` bytes from the sender's iovec at `at`, stamped with the
// sender's address and credentials; it takes over m's fds when `with_fds`.
UMsg* msg_make(USock* s, USend* m, uint64_t at, uint32_t len, bool with_fds) {
    UMsg* u = msg_alloc(len);
    if (!u) return nullptr;
    u->len = len;
    iov_gather(m->iov, m->niov, at, u->data(), len);
    cred_current(&u->cred);
    u->ulen = s->ulen;
    memcpy(u->uaddr, s->uaddr, s->ulen);
    u->in = s->local;
    if (s->family != AF_UNIX) {
        // Sent from the any-address: the receiver sees the loopback address.
        bool zero = true;
        for (uint8_t b : u->in.addr) zero = zero && b == 0;
        if (zero && m->in.family == EMBER_NET_AF_INET6) {
            u->in.family = EMBER_NET_AF_INET6;
            u->in.addr[15] = 1;
        } else if (zero) {
            u->in.family = EMBER_NET_AF_INET;
            u->in.addr[0] = 127;
            u->in.addr[3] = 1;
        }
    }
    if (with_fds && m->nfds) {
        u->fds = m->fds;
        u->nfds = m->nfds;
        m->fds = nullptr;
        m->nfds = 0;
    }
    return u;
}

// Hands a message's fds (and creds, address) to the receiver; peek takes
// new references instead.
bool take_extras(UMsg* c, URecv* m, bool peek) {
    m->has_cred = true;
    m->cred = c->cred;
    m->ulen = c->ulen;
    memcpy(m->uaddr, c->uaddr, c->ulen);
    m->in = c->in;
    m->has_in = true;
    if (!c->nfds) return true;
    File** fds = static_cast<File**>(kcalloc(c->nfds, sizeof(File*)));
    if (!fds) return false;
    for (uint32_t i = 0; i < c->nfds; i++) {
        fds[i] = c->fds[i];
        if (peek) fs::file_get(fds[i]);
    }
    m->fds = fds;
    m->nfds = c->nfds;
    if (!peek) {
        kfree(c->fds);
        c->fds = nullptr;
        c->nfds = 0;
    }
    return true;
}

bool connection(const USock* s) { return s->type != SOCK_DGRAM; }

// Two inet addresses name the same host (IPv4 and its v4-mapped form alike).
bool same_host(const ember_net_addr& a, const ember_net_addr& b) {
    auto v4 = [](const ember_net_addr& x, uint8_t* out) {
        static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (x.family == EMBER_NET_AF_INET) {
            memcpy(out, x.addr, 4);
            return true;
        }
        if (memcmp(x.addr, kMapped, 12) != 0) return false;
        memcpy(out, x.addr + 12, 4);
        return true;
    };
    uint8_t a4[4], b4[4];
    const bool av4 = v4(a, a4), bv4 = v4(b, b4);
    if (av4 || bv4) return av4 && bv4 && memcmp(a4, b4, 4) == 0;
    return memcmp(a.addr, b.addr, 16) == 0;
}

int64_t send_stream(USock* s, USend* m, uint64_t deadline) {
    uint64_t done = 0;
    for (;;) {
        if (s->snd_shut || !s->peer || s->peer->rcv_shut)
            return done ? static_cast<int64_t>(done) : -EPIPE;
        USock* p = s->peer;
        const uint64_t space = queued(p) < kUsockBuf ? kUsockBuf - queued(p) : 0;
        if (s->type == SOCK_SEQPACKET) {
            if (m->total > kUsockBuf - 32) return -EMSGSIZE;
            if (space >= m->total + kMsgCost || p->rx_msgs == 0) {
                UMsg* u = msg_make(s, m, 0, static_cast<uint32_t>(m->total), true);
                if (!u) return -ENOBUFS;
                queue_push(p, u);
                return static_cast<int64_t>(m->total);
            }
        } else {
            while (done < m->total && queued(p) + kMsgCost < kUsockBuf) {
                uint64_t n = m->total - done;
                const uint64_t room = kUsockBuf - queued(p) - kMsgCost;
                if (n > room) n = room;
                if (n > kStreamPiece) n = kStreamPiece;
                UMsg* u = msg_make(s, m, done, static_cast<uint32_t>(n), done == 0);
                if (!u) return done ? static_cast<int64_t>(done) : -ENOBUFS;
                queue_push(p, u);
                done += n;
            }
            if (done == m->total && (done || m->total == 0)) return static_cast<int64_t>(done);
        }
        if (m->nonblock) return done ? static_cast<int64_t>(done) : -EAGAIN;
        if (int64_t e = usock_wait(deadline)) return done ? static_cast<int64_t>(done) : e;
    }
}

int64_t send_dgram(USock* s, USend* m, uint64_t deadline) {
    const bool inet = s->family != AF_UNIX;
    if (m->total > (inet ? kUdpMax : kUsockBuf - 32)) return -EMSGSIZE;
    if (inet && m->dest_host) return usock_send_host(s, m);
    USock* d = m->dest;
    bool connected = false;
    if (!d && !m->dest_in) {
        if (inet) {
            if (s->state != UState::kConnected) return -EDESTADDRREQ;
            m->dest_in = connected = true;
            m->in = s->remote;
            if (s->remote_host) return usock_send_host(s, m);
            d = usock_find_port(s->family, s->remote);
        } else {
            if (s->peer_dead) return -ECONNREFUSED;
            if (!s->peer) return -ENOTCONN;
            d = s->peer;
        }
    }
    if (!d) {
        // A loopback port nobody in the instance is bound to: the host may
        // carry it to a host service the egress policy allows, as it does
        // for TCP connects to loopback; when it refuses, a connected socket
        // learns ECONNREFUSED (ICMP port unreachable) at its next call.
        // With every host id taken it fails with ENOBUFS (the bound on the
        // host's UDP sockets); too large for a record, it is just lost.
        if (inet) {
            const int64_t r = usock_send_host(s, m);
            if (r >= 0 || r == -ENOBUFS) return r;
        }
        if (connected) s->so_error = static_cast<int32_t>(ECONNREFUSED);
        return static_cast<int64_t>(m->total);
    }
    for (;;) {
        if (!alive(d)) return -ECONNREFUSED;
        if (!inet && d->peer && d->peer != s) return -EPERM;
        if (d->rcv_shut) return inet ? static_cast<int64_t>(m->total) : -EPIPE;
        const bool full = (d->rx_msgs && queued(d) + kMsgCost + m->total > kUsockBuf) ||
                          (d->peer != s && d->rx_msgs > kMaxDgramQlen && !inet);
        if (!full) break;
        if (inet) return static_cast<int64_t>(m->total);  // UDP drops, never blocks
        if (m->nonblock) return -EAGAIN;
        if (int64_t e = usock_wait(deadline)) return e;
    }
    UMsg* u = msg_make(s, m, 0, static_cast<uint32_t>(m->total), true);
    if (!u) return -ENOBUFS;
    if (inet && d->state == UState::kConnected &&
        (d->remote.port != u->in.port || !same_host(d->remote, u->in))) {
        msg_free(u);  // a connected UDP socket hears only its peer
        return static_cast<int64_t>(m->total);
    }
    queue_push(d, u);
    return static_cast<int64_t>(m->total);
}

int64_t recv_stream(USock* s, URecv* m, uint64_t deadline) {
    if (s->state != UState::kConnected) return -EINVAL;
    const bool peek = m->flags & MSG_PEEK;
    const bool waitall = (m->flags & MSG_WAITALL) && !peek;
    uint64_t done = 0;
    for (;;) {
        for (UMsg* c = s->rx_head; c && done < m->total;) {
            if (done > 0 && (c->nfds || m->nfds)) break;  // fds travel with their own bytes
            if ((c->nfds || !m->has_cred) && !take_extras(c, m, peek))
                return done ? static_cast<int64_t>(done) : -ENOMEM;
            const uint64_t avail = c->len - c->off;
            const uint64_t n = m->total - done < avail ? m->total - done : avail;
            iov_scatter(m->iov, m->niov, done, c->data() + c->off, n);
            done += n;
            if (peek) {
                if (n < avail) break;
                c = c->next;
                continue;
            }
            c->off += static_cast<uint32_t>(n);
            s->rx_bytes -= n;
            if (c->off < c->len) break;
            UMsg* next = c->next;
            queue_pop(s);  // nothing of it is left to subtract
            c = next;
        }
        if (done > 0) s->gen++;
        if (done && (!waitall || done == m->total)) return static_cast<int64_t>(done);
        if (m->total == 0) return 0;
        if (s->reset) {
            s->reset = false;
            if (!done) return -ECONNRESET;
        }
        if (s->rcv_shut) return static_cast<int64_t>(done);
        if (m->nonblock) return done ? static_cast<int64_t>(done) : -EAGAIN;
        if (int64_t e = usock_wait(deadline)) return done ? static_cast<int64_t>(done) : e;
    }
}

int64_t recv_record(USock* s, URecv* m, uint64_t deadline) {
    if (s->type == SOCK_SEQPACKET && s->state != UState::kConnected) return -ENOTCONN;
    const bool peek = m->flags & MSG_PEEK;
    bool pumped = false;
    for (;;) {
        if (UMsg* c = s->rx_head) {
            if (!take_extras(c, m, peek)) return -ENOMEM;
            const uint64_t n = c->len < m->total ? c->len : m->total;
            iov_scatter(m->iov, m->niov, 0, c->data(), n);
            if (c->len > m->total) m->msg_flags |= static_cast<int32_t>(MSG_TRUNC);
            const int64_t r = static_cast<int64_t>((m->flags & MSG_TRUNC) ? c->len : n);
            if (!peek) {
                queue_pop(s);
                s->gen++;
            }
            return r;
        }
        if (s->so_error) {
            const int32_t e = s->so_error;
            s->so_error = 0;
            return -e;
        }
        if (s->rcv_shut) return 0;
        if (m->nonblock && s->host_id && !pumped) {
            // What the host has for us now (a reply, a refusal of the
            // datagram just sent) is what Linux would have queued already.
            net_pump(EMBER_WAIT_NET);
            pumped = true;
            continue;
        }
        if (m->nonblock) return -EAGAIN;
        if (int64_t e = usock_wait_for(s, deadline)) return e;
    }
}

}  // namespace

// ---- objects ---------------------------------------------------------------------

USock* usock_new(uint16_t family, uint8_t type) {
    auto* s = static_cast<USock*>(kmalloc(sizeof(USock)));
    if (!s) return nullptr;
    memset(s, 0, sizeof *s);
    s->family = family;
    s->type = type;
    s->local.family = s->remote.family =
        family == AF_INET6 ? EMBER_NET_AF_INET6 : EMBER_NET_AF_INET;
    s->opt_rcvbuf = s->opt_sndbuf = static_cast<int32_t>(kUsockBuf);
    cred_current(&s->cred);
    s->all_next = g_usocks;
    if (g_usocks) g_usocks->all_prev = s;
    g_usocks = s;
    return s;
}

void usock_free(USock* s) {
    if (s->all_prev)
        s->all_prev->all_next = s->all_next;
    else
        g_usocks = s->all_next;
    if (s->all_next) s->all_next->all_prev = s->all_prev;
    // Whoever pointed at s learns that it is gone.
    for (USock* o = g_usocks; o; o = o->all_next) {
        if (o->peer != s) continue;
        o->peer = nullptr;
        o->gen++;
        if (connection(o)) {
            o->rcv_shut = o->snd_shut = true;
            if (s->rx_bytes) o->reset = true;
        } else {
            o->peer_dead = true;
        }
    }
    while (USock* q = s->acc_head) {  // connections nobody accepted
        s->acc_head = q->qnext;
        if (q->peer) q->peer->reset = true;
        usock_free(q);
    }
    if (s->node) fs::inode_put(s->node);
    if (s->host_id) usock_host_release(s);
    queue_free(s);
    kfree(s);
}

void usock_link(USock* a, USock* b) {
    a->peer = b;
    b->peer = a;
    a->state = b->state = UState::kConnected;
    a->peer_cred = b->cred;
    b->peer_cred = a->cred;
    a->has_peer_cred = b->has_peer_cred = true;
    a->gen++;
    b->gen++;
}

USock* usock_find_node(const fs::Inode* node) {
    for (USock* o = g_usocks; o; o = o->all_next)
        if (o->node == node) return o;
    return nullptr;
}

USock* usock_find_abstract(const uint8_t* addr, uint32_t len) {
    for (USock* o = g_usocks; o; o = o->all_next)
        if (o->name_owner && !o->node && o->ulen == len && memcmp(o->uaddr, addr, len) == 0)
            return o;
    return nullptr;
}

USock* usock_find_port(uint16_t family, const ember_net_addr& a) {
    (void)family;
    USock* any = nullptr;
    for (USock* o = g_usocks; o; o = o->all_next) {
        if (o->family == AF_UNIX || !o->bound || !o->file || o->local.port != a.port) continue;
        bool zero = true;
        for (uint8_t b : o->local.addr) zero = zero && b == 0;
        if (o->local.family == a.family && memcmp(o->local.addr, a.addr, 16) == 0) return o;
        if (zero && (a.family == EMBER_NET_AF_INET || o->family == AF_INET6)) any = o;
    }
    return any;
}

bool usock_port_used(const USock* self, uint16_t port) {
    for (const USock* o = g_usocks; o; o = o->all_next) {
        if (o == self || o->family == AF_UNIX || !o->bound || o->local.port != port) continue;
        if (self->opt_reuseport && o->opt_reuseport) continue;
        if (self->opt_reuseaddr && o->opt_reuseaddr) continue;
        return true;
    }
    return false;
}

USock* usock_find_host_id(uint32_t id) {
    if (id == 0) return nullptr;  // "none": never a record's target
    for (USock* o = g_usocks; o; o = o->all_next)
        if (o->host_id == id) return o;
    return nullptr;
}

bool usock_deliver(USock* s, const ember_net_addr& from, const uint8_t* data, uint32_t len) {
    if (s->rcv_shut || (s->rx_msgs && queued(s) + kMsgCost + len > kUsockBuf)) return false;
    if (s->state == UState::kConnected &&
        (s->remote.port != from.port || !same_host(s->remote, from)))
        return false;  // a connected UDP socket hears only its peer
    UMsg* u = msg_alloc(len);
    if (!u) return false;
    u->len = len;
    memcpy(u->data(), data, len);
    u->in = from;
    queue_push(s, u);
    return true;
}

int64_t usock_connect_stream(USock* s, USock* l) {
    if (l->acc_len >= static_cast<uint32_t>(l->backlog) + 1) return -EAGAIN;
    USock* q = usock_new(l->family, l->type);
    if (!q) return -ENOMEM;
    q->ulen = l->ulen;
    memcpy(q->uaddr, l->uaddr, l->ulen);
    q->cred = l->cred;
    q->opt_passcred = l->opt_passcred;
    usock_link(s, q);
    if (l->acc_tail)
        l->acc_tail->qnext = q;
    else
        l->acc_head = q;
    l->acc_tail = q;
    l->acc_len++;
    l->gen++;
    return 0;
}

// ---- the data path -------------------------------------------------------------------

int64_t usock_wait(uint64_t deadline) {
    if (deadline && monotonic_ns() >= deadline) return -EAGAIN;
    if (signal_pending_now()) return deadline ? -EINTR : -kErestartsys;
    if (deadline) {
        // Other threads wake us early; alone, only the deadline can.
        wait_events(0, deadline);
        return 0;
    }
    const int64_t r = block_for_others();
    return r == -EDEADLK ? would_block() : r;
}

int64_t usock_send(USock* s, USend* m) {
    const uint64_t deadline = s->sndtimeo_ns ? deadline_after(s->sndtimeo_ns) : 0;
    if (s->so_error && s->type == SOCK_DGRAM && s->family != AF_UNIX) {
        const int32_t e = s->so_error;
        s->so_error = 0;
        return -e;
    }
    if (connection(s) && s->state != UState::kConnected) return s->snd_shut ? -EPIPE : -ENOTCONN;
    const int64_t r = connection(s) ? send_stream(s, m, deadline) : send_dgram(s, m, deadline);
    s->gen++;
    return r;
}

int64_t usock_recv(USock* s, URecv* m) {
    if (s->host_id) net_poll_rx();  // datagrams the host has delivered
    const uint64_t deadline = s->rcvtimeo_ns ? deadline_after(s->rcvtimeo_ns) : 0;
    return s->type == SOCK_STREAM ? recv_stream(s, m, deadline) : recv_record(s, m, deadline);
}

uint32_t usock_poll_mask(USock* s) {
    uint32_t m = 0;
    if (s->state == UState::kListening) return s->acc_head ? POLLIN | POLLRDNORM : 0;
    if (s->so_error) m |= POLLERR;
    if (s->rcv_shut && s->snd_shut) m |= POLLHUP;
    if (s->rcv_shut) m |= POLLRDHUP | POLLIN | POLLRDNORM;
    if (s->rx_head) m |= POLLIN | POLLRDNORM;
    if (connection(s) && s->state == UState::kUnconnected) m |= POLLHUP;
    bool writable;
    if (connection(s))
        writable = s->state != UState::kConnected || !s->peer || s->snd_shut ||
                   queued(s->peer) + kMsgCost < kUsockBuf;
    else
        writable = !s->peer || s->family != AF_UNIX ||
                   (queued(s->peer) + kMsgCost < kUsockBuf &&
                    (s->peer->peer == s || s->peer->rx_msgs <= kMaxDgramQlen));
    if (writable) m |= POLLOUT | POLLWRNORM | POLLWRBAND;
    return m;
}

// ---- the file ops ----------------------------------------------------------------------

USock* usock_of(File* f) { return f->ops == &kUsockOps ? static_cast<USock*>(f->priv) : nullptr; }
bool is_usock(const File* f) { return f->ops == &kUsockOps; }
uint64_t usock_gen(File* f) {
    USock* s = usock_of(f);
    return s ? s->gen : 0;
}

namespace {

int64_t usock_read_op(File* f, void* buf, uint64_t len, uint64_t*) {
    IoVec v{static_cast<uint8_t*>(buf), len};
    URecv m{};
    m.iov = &v;
    m.niov = 1;
    m.total = len;
    m.nonblock = f->flags & O_NONBLOCK;
    const int64_t r = usock_recv(usock_of(f), &m);
    for (uint32_t i = 0; i < m.nfds; i++) fs::file_put(m.fds[i]);  // read() drops passed fds
    kfree(m.fds);
    return r;
}

int64_t usock_write_op(File* f, const void* buf, uint64_t len, uint64_t*) {
    IoVec v{static_cast<uint8_t*>(const_cast<void*>(buf)), len};
    USend m{};
    m.iov = &v;
    m.niov = 1;
    m.total = len;
    m.nonblock = f->flags & O_NONBLOCK;
    return usock_send(usock_of(f), &m);
}

int64_t usock_ioctl_op(File* f, uint64_t cmd, uint64_t arg) {
    USock* s = usock_of(f);
    int32_t n;
    switch (cmd) {
        case FIONREAD:
            if (s->state == UState::kListening) return -EINVAL;
            // Datagram sockets report the next message's size (Linux: for
            // AF_UNIX too the whole queue... of the next skb for datagrams).
            n = static_cast<int32_t>(s->type == SOCK_STREAM ? s->rx_bytes
                                     : s->rx_head           ? s->rx_head->len
                                                            : 0);
            break;
        case SIOCOUTQ:
            n = s->peer && s->type == SOCK_STREAM ? static_cast<int32_t>(s->peer->rx_bytes) : 0;
            break;
        default:
            return -ENOTTY;
    }
    return copy_to_user(arg, &n, sizeof n);
}

uint32_t usock_poll_op(File* f) { return usock_poll_mask(usock_of(f)); }

void usock_release_op(File* f) {
    USock* s = usock_of(f);
    if (!s) return;
    s->file = nullptr;
    usock_free(s);
}

}  // namespace

const fs::FileOps kUsockOps = {usock_read_op, usock_write_op,   usock_ioctl_op,
                               usock_poll_op, usock_release_op, false};

int64_t usock_install(USock* s, bool nonblock, bool cloexec) {
    File* f = nullptr;
    const uint32_t flags =
        static_cast<uint32_t>(O_RDWR) | (nonblock ? static_cast<uint32_t>(O_NONBLOCK) : 0);
    const int64_t fd = anon_fd(S_IFSOCK | 0777, &kUsockOps, flags, s, cloexec, &f);
    if (fd >= 0) s->file = f;
    return fd;
}

}  // namespace k::net
