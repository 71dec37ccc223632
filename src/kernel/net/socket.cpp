// socket.cpp - socket objects: the id table, records from the host, the
// receive buffer and credit, send and receive, readiness, close.
#include "net/socket.h"

#include "net/usock.h"

namespace k::net {

namespace {

constexpr uint32_t kIdBuckets = 1024;
constexpr uint32_t kChunkData = 2048 - 16 - sizeof(RxChunk);  // the largest small kmalloc class
constexpr uint32_t kCreditBatch = 16 * 1024;  // return credit at least this many bytes at a time
constexpr uint64_t kLingerNs = 30ull * 1000000000ull;
constexpr uint32_t kMaxCredit = 4 * EMBER_NET_WINDOW_INIT;  // more is a host bug

Socket* g_ids[kIdBuckets];
Socket* g_all;         // every socket
Socket* g_lingering;   // closed sockets the host still sends data for
uint32_t g_streams;    // ids that the host counts as streams
uint32_t g_next_id;    // the next guest-chosen id to try
uint16_t g_next_port;  // the next ephemeral port to try
bool g_warned_nomem;

Socket*& bucket(uint32_t id) { return g_ids[id % kIdBuckets]; }

Socket* find(uint32_t id) {
    for (Socket* s = bucket(id); s; s = s->hnext)
        if (s->id == id) return s;
    return nullptr;
}

void detach_id(Socket* s) {
    if (!s->id) return;
    for (Socket** p = &bucket(s->id); *p; p = &(*p)->hnext) {
        if (*p == s) {
            *p = s->hnext;
            break;
        }
    }
    if (s->state != SockState::kListening) g_streams--;
    s->id = 0;
    s->hnext = nullptr;
}

void rx_free_all(Socket* s) {
    for (RxChunk* c = s->rx_head; c;) {
        RxChunk* next = c->next;
        kfree(c);
        c = next;
    }
    s->rx_head = s->rx_tail = nullptr;
    s->rx_bytes = 0;
}

// Tells the host the stream is finished with and forgets its id.
void send_close(Socket* s) {
    if (!s->id) return;
    tx_put(EMBER_NET_CLOSE, s->id, 0, nullptr, 0);
    detach_id(s);
}

// Appends received bytes; false when out of memory.
bool rx_append(Socket* s, const uint8_t* p, uint32_t len) {
    while (len > 0) {
        RxChunk* t = s->rx_tail;
        if (!t || t->len == kChunkData) {
            t = static_cast<RxChunk*>(kmalloc(sizeof(RxChunk) + kChunkData));
            if (!t) return false;
            if (s->rx_tail)
                s->rx_tail->next = t;
            else
                s->rx_head = t;
            s->rx_tail = t;
        }
        uint32_t n = kChunkData - t->len;
        if (n > len) n = len;
        memcpy(t->data() + t->len, p, n);
        t->len += n;
        s->rx_bytes += n;
        p += n;
        len -= n;
    }
    return true;
}

// Copies (dst non-null) or discards up to len buffered bytes; consumes them
// unless peek.
uint64_t rx_take(Socket* s, uint8_t* dst, uint64_t len, bool peek) {
    uint64_t done = 0;
    RxChunk* c = s->rx_head;
    uint32_t off = c ? c->off : 0;
    while (c && done < len) {
        uint64_t n = c->len - off;
        if (n > len - done) n = len - done;
        if (dst) memcpy(dst + done, c->data() + off, n);
        done += n;
        off += static_cast<uint32_t>(n);
        if (off < c->len) break;
        c = c->next;
        off = 0;
        if (!peek) {
            kfree(s->rx_head);
            s->rx_head = c;
        }
    }
    if (peek) return done;
    if (c)
        c->off = off;
    else
        s->rx_tail = nullptr;
    s->rx_bytes -= done;
    return done;
}

// Returns consumed bytes to the host as credit, in batches.
void credit_host(Socket* s, uint64_t consumed) {
    if (s->local_stream) {
        // The writer in this instance may send as much again.
        if (s->lpeer && consumed) {
            s->lpeer->credit += static_cast<uint32_t>(consumed);
            s->lpeer->gen++;
        }
        return;
    }
    s->unacked += static_cast<uint32_t>(consumed);
    if (!s->id || s->unacked == 0) return;
    if (s->unacked >= kCreditBatch || s->rx_bytes == 0) {
        tx_put(EMBER_NET_WINDOW, s->id, s->unacked, nullptr, 0);
        s->unacked = 0;
    }
}

void linger_remove(Socket* s) {
    for (Socket** p = &g_lingering; *p; p = &(*p)->qnext) {
        if (*p == s) {
            *p = s->qnext;
            break;
        }
    }
    s->qnext = nullptr;
}

void linger_finish(Socket* s) {
    linger_remove(s);
    send_close(s);
    sock_destroy(s);
}

// Queues a new connection on its listener; it inherits the listener's
// options, as on Linux.
void accept_queue(Socket* l, Socket* s) {
    s->opt_nodelay = l->opt_nodelay;
    s->opt_keepalive = l->opt_keepalive;
    s->opt_rcvbuf = l->opt_rcvbuf;
    s->opt_sndbuf = l->opt_sndbuf;
    s->opt_linger_on = l->opt_linger_on;
    s->opt_linger_secs = l->opt_linger_secs;
    s->rcvtimeo_ns = l->rcvtimeo_ns;
    s->sndtimeo_ns = l->sndtimeo_ns;
    if (l->acc_tail)
        l->acc_tail->qnext = s;
    else
        l->acc_head = s;
    l->acc_tail = s;
    l->acc_len++;
    l->gen++;
}

bool addr_zero(const ember_net_addr& a) {
    for (uint8_t b : a.addr)
        if (b) return false;
    return true;
}

// 127.0.0.0/8, ::1, or the any-address (Linux connects those locally too).
bool addr_local(const ember_net_addr& a) {
    if (addr_zero(a)) return true;
    if (a.family == EMBER_NET_AF_INET) return a.addr[0] == 127;
    for (int i = 0; i < 15; i++)
        if (a.addr[i]) return false;
    return a.addr[15] == 1;
}

void rx_accept(const ember_net_rec& r, const uint8_t* payload) {
    Socket* l = find(r.arg);
    if (r.arg >= EMBER_NET_HOST_ID || !l || l->state != SockState::kListening || find(r.stream) ||
        !(r.stream & EMBER_NET_HOST_ID)) {
        // The listener is gone (or the record is bogus): refuse the stream.
        if ((r.stream & EMBER_NET_HOST_ID) && !find(r.stream))
            tx_put(EMBER_NET_CLOSE, r.stream, 0, nullptr, 0);
        return;
    }
    Socket* s = sock_new(l->family);
    if (!s) {
        tx_put(EMBER_NET_CLOSE, r.stream, 0, nullptr, 0);
        return;
    }
    KCHECK(sock_attach_id(s, r.stream));
    s->state = SockState::kConnected;
    s->bound = true;
    s->local = l->local;
    if (r.len == sizeof(ember_net_addr)) memcpy(&s->peer, payload, sizeof s->peer);
    accept_queue(l, s);
}

}  // namespace

// ---- objects and ids -----------------------------------------------------------

Socket* sock_new(uint16_t family) {
    auto* s = static_cast<Socket*>(kmalloc(sizeof(Socket)));
    if (!s) return nullptr;
    s->family = family;
    s->state = SockState::kNew;
    s->credit = EMBER_NET_WINDOW_INIT;
    s->local.family = s->peer.family = family == AF_INET6 ? EMBER_NET_AF_INET6 : EMBER_NET_AF_INET;
    s->opt_rcvbuf = 131072;
    s->opt_sndbuf = 16384;
    s->opt_keepidle = 7200;
    s->opt_keepintvl = 75;
    s->opt_keepcnt = 9;
    s->opt_linger_secs = 0;
    s->all_next = g_all;
    if (g_all) g_all->all_prev = s;
    g_all = s;
    return s;
}

void sock_destroy(Socket* s) {
    KCHECK(s->id == 0);
    if (Socket* p = s->lpeer) {
        // The other end of a guest-local stream reads EOF, or a reset when
        // this end dropped unread data (Linux sends RST).
        p->lpeer = nullptr;
        p->peer_eof = true;
        if (s->rx_bytes) {
            p->reset = true;
            p->reset_err = static_cast<int32_t>(ECONNRESET);
        }
        p->gen++;
        s->lpeer = nullptr;
    }
    rx_free_all(s);
    if (s->all_prev)
        s->all_prev->all_next = s->all_next;
    else
        g_all = s->all_next;
    if (s->all_next) s->all_next->all_prev = s->all_prev;
    kfree(s);
}

bool sock_attach_id(Socket* s, uint32_t id) {
    if (id == 0 || find(id)) return false;
    s->id = id;
    s->hnext = bucket(id);
    bucket(id) = s;
    if (s->state != SockState::kListening) g_streams++;
    return true;
}

uint32_t sock_alloc_id(bool listener) {
    if (!listener && g_streams >= EMBER_NET_MAX_STREAMS) return 0;
    for (;;) {
        uint32_t id = g_next_id++;
        if (g_next_id >= EMBER_NET_HOST_ID) g_next_id = 1;
        if (id != 0 && !find(id)) return id;
    }
}

uint32_t streams_open() { return g_streams; }

Socket* local_listener(const Socket* s, const ember_net_addr& a) {
    if (!addr_local(a)) return nullptr;
    for (Socket* l = g_all; l; l = l->all_next) {
        if (l->state != SockState::kListening || l->local.port != a.port || l == s) continue;
        const bool v4 = a.family == EMBER_NET_AF_INET;
        if (l->family == AF_INET && !v4) continue;
        if (l->family == AF_INET6 && v4 && l->opt_v6only) continue;
        if (addr_zero(l->local) || addr_zero(a)) return l;
        if (l->local.family == a.family && memcmp(l->local.addr, a.addr, 16) == 0) return l;
    }
    return nullptr;
}

int64_t local_connect(Socket* s, Socket* l, const ember_net_addr& a) {
    Socket* q = sock_new(l->family);
    if (!q) return -ENOMEM;
    // Connecting to the any-address reaches the loopback address.
    ember_net_addr dst = a;
    if (addr_zero(dst)) {
        if (dst.family == EMBER_NET_AF_INET)
            dst.addr[0] = 127, dst.addr[3] = 1;
        else
            dst.addr[15] = 1;
    }
    if (addr_zero(s->local)) {
        const uint16_t port = s->local.port;
        s->local = dst;
        s->local.port = port;
    }
    s->peer = dst;
    s->state = q->state = SockState::kConnected;
    s->local_stream = q->local_stream = true;
    s->lpeer = q;
    q->lpeer = s;
    s->credit = q->credit = EMBER_NET_WINDOW_INIT;
    s->peer_eof = s->reset = s->reset_seen = s->shut_rd = s->shut_wr = false;
    q->bound = true;
    q->local = dst;
    q->peer = s->local;
    accept_queue(l, q);
    s->gen++;
    return 0;
}

bool port_in_use(const Socket* self, uint16_t port) {
    for (const Socket* o = g_all; o; o = o->all_next) {
        if (o == self || !o->explicit_port || o->local.port != port) continue;
        if (o->state == SockState::kLingering) continue;
        if (self->opt_reuseport && o->opt_reuseport) continue;
        if (self->opt_reuseaddr && o->opt_reuseaddr && o->state != SockState::kListening) continue;
        return true;
    }
    return false;
}

uint16_t ephemeral_port() {
    // Above Linux's default ip_local_port_range (32768-60999): the guest's
    // port space is its own, yet 127.0.0.1 reaches the host's loopback too
    // (egress), so a guest socket autobound to the port of a host server
    // that bound port 0 there would take that server's datagrams and
    // connections. Host ports from that range never meet these.
    constexpr uint16_t kLo = 61000, kHi = 65535;
    Socket probe{};
    for (uint32_t tries = 0; tries <= kHi - kLo; tries++) {
        if (g_next_port < kLo || g_next_port > kHi) g_next_port = kLo;
        uint16_t p = g_next_port++;
        if (!port_in_use(&probe, p)) return p;
    }
    return 0;
}

void sockets_reset() {
    g_listening = 0;
    // Sockets with files are freed by their files; free the rest.
    while (g_lingering) {
        Socket* s = g_lingering;
        g_lingering = s->qnext;
        detach_id(s);
        sock_destroy(s);
    }
    for (Socket* s = g_all; s;) {
        Socket* next = s->all_next;
        if (!s->file) {
            detach_id(s);
            sock_destroy(s);
        }
        s = next;
    }
    for (auto& b : g_ids) b = nullptr;
    g_streams = 0;
    g_next_id = 1;
    g_next_port = 0;
}

// ---- records from the host ---------------------------------------------------------

void socket_rx(const ember_net_rec& r, const uint8_t* payload) {
    if (r.type == EMBER_NET_DGRAM || r.type == EMBER_NET_DGRAM_ERROR) {
        usock_host_rx(r, payload);
        return;
    }
    if (r.type == EMBER_NET_ACCEPT) {
        rx_accept(r, payload);
        return;
    }
    Socket* s = find(r.stream);
    if (!s || s->state == SockState::kListening) return;  // raced with our close
    s->gen++;
    switch (r.type) {
        case EMBER_NET_DATA:
            if (s->state == SockState::kLingering || s->shut_rd) {
                // Nobody will read it: hand the credit straight back.
                if (s->state != SockState::kLingering && r.len)
                    tx_put(EMBER_NET_WINDOW, s->id, r.len, nullptr, 0);
                return;
            }
            if (s->peer_eof || s->reset) return;
            if (!rx_append(s, payload, r.len)) {
                if (!g_warned_nomem) {
                    g_warned_nomem = true;
                    klog("net: out of memory for received data: stream reset");
                }
                s->reset = true;
                s->reset_err = static_cast<int32_t>(ENOBUFS);
                send_close(s);
            }
            return;
        case EMBER_NET_WINDOW:
            if (s->credit + static_cast<uint64_t>(r.arg) > kMaxCredit) return;
            s->credit += r.arg;
            if (s->state == SockState::kLingering && s->credit >= EMBER_NET_WINDOW_INIT)
                linger_finish(s);
            return;
        case EMBER_NET_SHUTDOWN:
            s->peer_eof = true;
            return;
        case EMBER_NET_CLOSE:
            if (s->state == SockState::kLingering) {
                linger_finish(s);
                return;
            }
            s->reset = true;
            s->reset_err = r.arg && r.arg < 4096 ? static_cast<int32_t>(r.arg)
                                                 : static_cast<int32_t>(ECONNRESET);
            send_close(s);  // the host keeps the stream until it hears from us
            return;
        case EMBER_NET_CONNECTED:
            if (s->state != SockState::kConnecting) return;
            if (r.arg == 0) {
                s->state = SockState::kConnected;
                return;
            }
            s->state = SockState::kNew;
            s->so_error =
                r.arg < 4096 ? static_cast<int32_t>(r.arg) : static_cast<int32_t>(ECONNREFUSED);
            send_close(s);
            return;
        default:
            return;  // unknown record types are ignored (a newer host)
    }
}

void sockets_tick() {
    if (!g_lingering) return;
    const uint64_t now = monotonic_ns();
    for (Socket* s = g_lingering; s;) {
        Socket* next = s->qnext;
        if (now >= s->linger_deadline) linger_finish(s);
        s = next;
    }
}

uint32_t g_listening;

void sock_unlisten(Socket* s) {
    if (g_listening) --g_listening;
    tx_put(EMBER_NET_UNLISTEN, s->id, 0, nullptr, 0);
    detach_id(s);
    while (Socket* q = s->acc_head) {  // connections nobody accepted
        s->acc_head = q->qnext;
        if (q->lpeer) {
            q->lpeer->reset = true;
            q->lpeer->reset_err = static_cast<int32_t>(ECONNRESET);
        }
        send_close(q);
        sock_destroy(q);
    }
    s->acc_tail = nullptr;
    s->acc_len = 0;
    s->state = SockState::kBound;
    s->gen++;
}

// ---- the data path -----------------------------------------------------------------

int64_t sock_wait(uint64_t deadline) {
    if (deadline && monotonic_ns() >= deadline) return -EAGAIN;
    // As Linux's sock_intr_errno: restartable unless a timeout is set.
    if (signal_pending_now()) return deadline ? -EINTR : -kErestartsys;
    net_wait(EMBER_WAIT_NET, deadline);
    return 0;
}

// A guest-local stream changes only when another thread or process acts.
int64_t stream_wait(Socket* s, uint64_t deadline) {
    return s->local_stream ? usock_wait(deadline) : sock_wait(deadline);
}

int64_t sock_send(Socket* s, const void* buf, uint64_t len, bool nonblock) {
    const auto* src = static_cast<const uint8_t*>(buf);
    const uint64_t deadline = s->sndtimeo_ns ? deadline_after(s->sndtimeo_ns) : 0;
    uint64_t done = 0;
    net_poll_rx();
    for (;;) {
        if (s->state == SockState::kConnecting) {
            if (nonblock) return -EAGAIN;
            if (int64_t e = sock_wait(deadline)) return e;
            continue;
        }
        if (s->so_error) {
            int32_t e = s->so_error;
            s->so_error = 0;
            return -e;
        }
        if (s->state != SockState::kConnected || s->reset || s->shut_wr ||
            (s->local_stream && (!s->lpeer || s->lpeer->shut_rd)))
            return done ? static_cast<int64_t>(done) : -EPIPE;
        while (done < len && s->credit > 0) {
            uint64_t n = len - done;
            if (n > s->credit) n = s->credit;
            if (n > EMBER_NET_DATA_MAX) n = EMBER_NET_DATA_MAX;
            if (s->local_stream) {
                // Straight into the other end's receive buffer.
                if (!rx_append(s->lpeer, src + done, static_cast<uint32_t>(n)))
                    return done ? static_cast<int64_t>(done) : -ENOBUFS;
                s->lpeer->gen++;
            } else if (!tx_put(EMBER_NET_DATA, s->id, 0, src + done, static_cast<uint32_t>(n))) {
                return done ? static_cast<int64_t>(done) : -EIO;
            }
            s->credit -= static_cast<uint32_t>(n);
            done += n;
        }
        if (done == len) return static_cast<int64_t>(done);
        if (nonblock) return done ? static_cast<int64_t>(done) : -EAGAIN;
        if (int64_t e = stream_wait(s, deadline)) return done ? static_cast<int64_t>(done) : e;
    }
}

int64_t sock_recv(Socket* s, void* buf, uint64_t len, uint64_t flags, bool nonblock) {
    auto* dst = static_cast<uint8_t*>(buf);
    const bool peek = flags & MSG_PEEK;
    const bool waitall = (flags & MSG_WAITALL) && !peek;
    const uint64_t deadline = s->rcvtimeo_ns ? deadline_after(s->rcvtimeo_ns) : 0;
    uint64_t done = 0;
    net_poll_rx();
    if (s->state == SockState::kListening) return -ENOTCONN;
    for (;;) {
        if (s->rx_bytes > 0 && done < len) {
            uint64_t n = rx_take(s, (flags & MSG_TRUNC) ? nullptr : dst + done, len - done, peek);
            done += n;
            if (!peek) credit_host(s, n);
            if (!waitall || done == len) return static_cast<int64_t>(done);
            continue;
        }
        if (len == 0 || s->peer_eof || s->shut_rd) return static_cast<int64_t>(done);
        if (s->reset) {
            if (done) return static_cast<int64_t>(done);
            if (s->reset_seen) return 0;
            s->reset_seen = true;
            return s->reset_err == EPIPE ? -ECONNRESET : -s->reset_err;
        }
        if (s->state != SockState::kConnected && s->state != SockState::kConnecting) {
            if (s->so_error) {
                int32_t e = s->so_error;
                s->so_error = 0;
                return -e;
            }
            return done ? static_cast<int64_t>(done) : -ENOTCONN;
        }
        if (nonblock) return done ? static_cast<int64_t>(done) : -EAGAIN;
        if (int64_t e = stream_wait(s, deadline)) return done ? static_cast<int64_t>(done) : e;
    }
}

uint32_t sock_poll_mask(Socket* s) {
    uint32_t m = 0;
    switch (s->state) {
        case SockState::kListening:
            return s->acc_head ? POLLIN | POLLRDNORM : 0;
        case SockState::kConnecting:
            return 0;
        case SockState::kNew:
        case SockState::kBound:
        case SockState::kLingering:
            // Linux: an unconnected TCP socket is writable and hung up; a
            // failed connect adds the error and the read side.
            m = POLLOUT | POLLWRNORM | POLLHUP;
            if (s->so_error) m |= POLLERR | POLLIN | POLLRDNORM | POLLRDHUP;
            return m;
        case SockState::kConnected:
            break;
    }
    if (s->rx_bytes > 0) m |= POLLIN | POLLRDNORM;
    if (s->peer_eof || s->shut_rd) m |= POLLIN | POLLRDNORM | POLLRDHUP;
    if (s->reset) m |= POLLIN | POLLRDNORM | POLLRDHUP | POLLHUP | (s->reset_seen ? 0 : POLLERR);
    if ((s->peer_eof || s->shut_rd) && s->shut_wr) m |= POLLHUP;
    // Writable once a full DATA record fits (or a write would fail at once).
    if (s->reset || s->shut_wr || s->credit >= EMBER_NET_DATA_MAX) m |= POLLOUT | POLLWRNORM;
    return m;
}

// ---- the file ops ------------------------------------------------------------------

Socket* sock_of(File* f) { return f->ops == &kSocketOps ? static_cast<Socket*>(f->priv) : nullptr; }
bool is_socket(const File* f) { return f->ops == &kSocketOps; }
uint64_t socket_gen(File* f) {
    Socket* s = sock_of(f);
    return s ? s->gen : 0;
}

namespace {

int64_t sock_read_op(File* f, void* buf, uint64_t len, uint64_t*) {
    return sock_recv(sock_of(f), buf, len, 0, (f->flags & O_NONBLOCK) != 0);
}

int64_t sock_write_op(File* f, const void* buf, uint64_t len, uint64_t*) {
    return sock_send(sock_of(f), buf, len, (f->flags & O_NONBLOCK) != 0);
}

int64_t sock_ioctl_op(File* f, uint64_t cmd, uint64_t arg) {
    Socket* s = sock_of(f);
    net_poll_rx();
    int32_t n;
    switch (cmd) {
        case FIONREAD:
            if (s->state == SockState::kListening) return -EINVAL;
            n = s->rx_bytes > 0x7fffffff ? 0x7fffffff : static_cast<int32_t>(s->rx_bytes);
            break;
        case SIOCOUTQ:
            if (s->state == SockState::kListening) return -EINVAL;
            n = static_cast<int32_t>(EMBER_NET_WINDOW_INIT - (s->credit < EMBER_NET_WINDOW_INIT
                                                                  ? s->credit
                                                                  : EMBER_NET_WINDOW_INIT));
            break;
        case SIOCATMARK:
            n = 0;
            break;
        default:
            return -ENOTTY;
    }
    return copy_to_user(arg, &n, sizeof n);
}

uint32_t sock_poll_op(File* f) {
    net_poll_rx();
    return sock_poll_mask(sock_of(f));
}

// The application closed the last fd of the socket.
void sock_release_op(File* f) {
    Socket* s = sock_of(f);
    if (!s) return;  // the file never got its socket (anon_fd failed)
    s->file = nullptr;
    net_poll_rx();
    if (s->state == SockState::kListening) {
        sock_unlisten(s);
        sock_destroy(s);
        return;
    }
    const bool abortive = s->opt_linger_on && s->opt_linger_secs == 0;
    if (s->id && s->state == SockState::kConnected && !s->reset && !abortive &&
        s->credit < EMBER_NET_WINDOW_INIT) {
        // The host still holds data we sent: let it finish, then close.
        if (!s->shut_wr) tx_put(EMBER_NET_SHUTDOWN, s->id, 0, nullptr, 0);
        s->shut_wr = true;
        s->state = SockState::kLingering;
        s->linger_deadline = monotonic_ns() + kLingerNs;
        rx_free_all(s);
        s->qnext = g_lingering;
        g_lingering = s;
        return;
    }
    send_close(s);
    sock_destroy(s);
}

}  // namespace

const fs::FileOps kSocketOps = {sock_read_op, sock_write_op,   sock_ioctl_op,
                                sock_poll_op, sock_release_op, false};

int64_t sock_install(Socket* s, bool nonblock, bool cloexec) {
    File* f = nullptr;
    const uint32_t flags =
        static_cast<uint32_t>(O_RDWR) | (nonblock ? static_cast<uint32_t>(O_NONBLOCK) : 0);
    int64_t fd = anon_fd(S_IFSOCK | 0777, &kSocketOps, flags, s, cloexec, &f);
    if (fd >= 0) s->file = f;
    return fd;
}

}  // namespace k::net
