// sys_socket.cpp - the socket syscalls: socket, bind, listen, accept,
// connect, shutdown, send/recv and their msg forms, addresses and options.
#include "net/socket.h"
#include "net/usock.h"

namespace k::net {

namespace {

constexpr uint64_t kMaxSockaddr = 128;  // sizeof(struct sockaddr_storage)
constexpr int32_t kSomaxconn = 4096;

// Checks that fd is a socket: -EBADF, -ENOTSOCK.
int64_t get_sock(uint64_t fd, File** f, Socket** s) {
    *f = fs::fd_get(fd_arg(fd));
    if (!*f) return -EBADF;
    *s = sock_of(*f);
    return *s ? 0 : -ENOTSOCK;
}

// The file of fd when it is a guest-local socket (usock.h), held for the
// whole call: a call may block while another thread closes the fd.
struct LocalFile {
    File* f;
    explicit LocalFile(uint64_t fd) : f(fs::fd_get(fd_arg(fd))) {
        if (f && !is_usock(f)) f = nullptr;
        if (f) fs::file_get(f);
    }
    ~LocalFile() {
        if (f) fs::file_put(f);
    }
    LocalFile(const LocalFile&) = delete;
    LocalFile& operator=(const LocalFile&) = delete;
};

uint16_t be16(uint16_t v) { return static_cast<uint16_t>((v >> 8) | (v << 8)); }

bool v4_mapped(const uint8_t* a) {
    static const uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, kPrefix, 12) == 0;
}

// Reads a user sockaddr for socket s. -EINVAL (length), -EAFNOSUPPORT
// (family), -EFAULT. A v4-mapped IPv6 address becomes IPv4, which is how the
// host compares it against egress rules.
}  // namespace

int64_t inet_addr_in(uint16_t sfamily, uint64_t uaddr, uint64_t len, ember_net_addr* out) {
    if (len > kMaxSockaddr || len < sizeof(uint16_t)) return -EINVAL;
    uint8_t buf[sizeof(linux_sockaddr_in6)] = {};
    if (copy_from_user(buf, uaddr, len < sizeof buf ? len : sizeof buf) < 0) return -EFAULT;
    uint16_t family;
    memcpy(&family, buf, sizeof family);
    memset(out, 0, sizeof *out);
    // As Linux: the length for the socket's family first, then the family.
    if (sfamily == AF_INET) {
        if (len < sizeof(linux_sockaddr_in)) return -EINVAL;
        if (family != AF_INET) return -EAFNOSUPPORT;
        linux_sockaddr_in in;
        memcpy(&in, buf, sizeof in);
        out->family = EMBER_NET_AF_INET;
        out->port = be16(in.sin_port);
        memcpy(out->addr, in.sin_addr, 4);
        return 0;
    }
    if (len < 24) return -EINVAL;  // SIN6_LEN_RFC2133: without sin6_scope_id
    if (family != AF_INET6) return -EAFNOSUPPORT;
    linux_sockaddr_in6 in6;
    memcpy(&in6, buf, sizeof in6);
    out->port = be16(in6.sin6_port);
    if (v4_mapped(in6.sin6_addr)) {
        out->family = EMBER_NET_AF_INET;
        memcpy(out->addr, in6.sin6_addr + 12, 4);
    } else {
        out->family = EMBER_NET_AF_INET6;
        memcpy(out->addr, in6.sin6_addr, 16);
    }
    return 0;
}

// Formats an address as the socket's family; returns its length.
uint32_t inet_addr_format(uint16_t sfamily, const ember_net_addr& a, uint8_t* buf) {
    if (sfamily == AF_INET) {
        linux_sockaddr_in in = {};
        in.sin_family = AF_INET;
        in.sin_port = be16(a.port);
        if (a.family == EMBER_NET_AF_INET)
            memcpy(in.sin_addr, a.addr, 4);
        else if (v4_mapped(a.addr))
            memcpy(in.sin_addr, a.addr + 12, 4);
        memcpy(buf, &in, sizeof in);
        return sizeof in;
    }
    linux_sockaddr_in6 in6 = {};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = be16(a.port);
    if (a.family == EMBER_NET_AF_INET) {
        in6.sin6_addr[10] = in6.sin6_addr[11] = 0xff;
        memcpy(in6.sin6_addr + 12, a.addr, 4);
    } else {
        memcpy(in6.sin6_addr, a.addr, 16);
    }
    memcpy(buf, &in6, sizeof in6);
    return sizeof in6;
}

namespace {

int64_t addr_in(const Socket* s, uint64_t uaddr, uint64_t len, ember_net_addr* out) {
    return inet_addr_in(s->family, uaddr, len, out);
}
uint32_t addr_format(const Socket* s, const ember_net_addr& a, uint8_t* buf) {
    return inet_addr_format(s->family, a, buf);
}

// Reads *ulen of a (sockaddr, socklen_t*) output pair: -EFAULT, -EINVAL.
int64_t addrlen_in(uint64_t uaddr, uint64_t ulen, int32_t* len) {
    *len = 0;
    if (!uaddr) return 0;
    if (copy_from_user(len, ulen, sizeof *len) < 0) return -EFAULT;
    if (*len < 0) return -EINVAL;
    if (*len && !user_ok_write(uaddr, static_cast<uint64_t>(*len))) return -EFAULT;
    return 0;
}

// Copies an address out as Linux does: truncated to the user's buffer, and
// the full length stored in *ulen.
int64_t addr_out(const Socket* s, const ember_net_addr& a, uint64_t uaddr, uint64_t ulen,
                 int32_t cap) {
    if (!uaddr) return 0;
    uint8_t buf[sizeof(linux_sockaddr_in6)];
    const int32_t n = static_cast<int32_t>(addr_format(s, a, buf));
    if (copy_to_user(uaddr, buf, static_cast<uint64_t>(n < cap ? n : cap)) < 0) return -EFAULT;
    return copy_to_user(ulen, &n, sizeof n);
}

// Gives s a local address if it has none: the any-address and an ephemeral
// port.
int64_t autobind(Socket* s) {
    if (s->bound) return 0;
    const uint16_t port = ephemeral_port();
    if (!port) return -EADDRNOTAVAIL;
    s->local.port = port;
    s->bound = true;
    return 0;
}

// ---- socket, bind, listen, accept, connect, shutdown ---------------------------------

int64_t sys_socket(uint64_t domain, uint64_t type, uint64_t protocol, uint64_t, uint64_t,
                   uint64_t) {
    domain &= 0xffffffff;
    type &= 0xffffffff;
    protocol &= 0xffffffff;
    if (domain != AF_INET && domain != AF_INET6 && domain != AF_UNIX) return -EAFNOSUPPORT;
    if (type & ~(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC)) return -EINVAL;
    const uint64_t base = type & SOCK_TYPE_MASK;
    // AF_UNIX and UDP are served inside the guest (sys_usock.cpp).
    if (domain == AF_UNIX || base == SOCK_DGRAM) return usock_socket(domain, type, protocol);
    if (base == SOCK_RAW) return -EPROTONOSUPPORT;  // no raw IP
    if (base != SOCK_STREAM) return -ESOCKTNOSUPPORT;
    if (protocol != 0 && protocol != IPPROTO_TCP) return -EPROTONOSUPPORT;
    if (!fs::fd_available()) return -EMFILE;
    Socket* s = sock_new(static_cast<uint16_t>(domain));
    if (!s) return -ENOMEM;
    const int64_t fd = sock_install(s, type & SOCK_NONBLOCK, type & SOCK_CLOEXEC);
    if (fd < 0) sock_destroy(s);
    return fd;
}

int64_t sys_socketpair(uint64_t domain, uint64_t type, uint64_t protocol, uint64_t usv, uint64_t,
                       uint64_t) {
    domain &= 0xffffffff;
    type &= 0xffffffff;
    if (domain == AF_UNIX) {
        if (type & ~(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC)) return -EINVAL;
        return usock_socketpair(domain, type, protocol & 0xffffffff, usv);
    }
    return domain == AF_INET || domain == AF_INET6 ? -EOPNOTSUPP : -EAFNOSUPPORT;
}

int64_t sys_bind(uint64_t fd, uint64_t uaddr, uint64_t len, uint64_t, uint64_t, uint64_t) {
    if (LocalFile lf(fd); lf.f) return usock_bind(lf.f, uaddr, len & 0xffffffff);
    File* f;
    Socket* s;
    if (int64_t r = get_sock(fd, &f, &s); r < 0) return r;
    ember_net_addr a;
    if (int64_t r = addr_in(s, uaddr, len & 0xffffffff, &a); r < 0) return r;
    if (s->bound || s->state != SockState::kNew) return -EINVAL;
    if (a.port == 0) {
        a.port = ephemeral_port();
        if (!a.port) return -EADDRINUSE;
    } else if (port_in_use(s, a.port)) {
        return -EADDRINUSE;
    }
    s->local = a;
    s->bound = s->explicit_port = true;
    s->state = SockState::kBound;
    return 0;
}

int64_t sys_listen(uint64_t fd, uint64_t backlog, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (LocalFile lf(fd); lf.f) return usock_listen(lf.f, backlog);
    File* f;
    Socket* s;
    if (int64_t r = get_sock(fd, &f, &s); r < 0) return r;
    int32_t b = static_cast<int32_t>(backlog);
    if (b < 0 || b > kSomaxconn) b = kSomaxconn;
    if (s->state == SockState::kListening) {
        s->backlog = b;
        return 0;
    }
    if (s->state != SockState::kNew && s->state != SockState::kBound) return -EINVAL;
    if (g_listening >= kMaxListeners) return -ENOBUFS;
    if (!s->bound) {
        if (int64_t r = autobind(s); r < 0) return r;
        s->explicit_port = true;
    }
    const uint32_t id = sock_alloc_id(true);
    ++g_listening;
    s->state = SockState::kListening;
    s->backlog = b;
    KCHECK(sock_attach_id(s, id));
    tx_put(EMBER_NET_LISTEN, id, s->local.port, &s->local, sizeof s->local);
    s->gen++;
    return 0;
}

int64_t do_accept(uint64_t fd, uint64_t uaddr, uint64_t ulen, uint64_t flags) {
    if (LocalFile lf(fd); lf.f) return usock_accept(lf.f, uaddr, ulen, flags);
    File* f;
    Socket* l;
    if (int64_t r = get_sock(fd, &f, &l); r < 0) return r;
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) return -EINVAL;
    int32_t cap;
    if (int64_t r = addrlen_in(uaddr, ulen, &cap); r < 0) return r;
    const uint64_t deadline = l->rcvtimeo_ns ? deadline_after(l->rcvtimeo_ns) : 0;
    for (;;) {
        net_poll_rx();
        if (l->state != SockState::kListening) return -EINVAL;
        if (Socket* s = l->acc_head) {
            if (!fs::fd_available()) return -EMFILE;  // the connection stays queued
            const int64_t nfd = sock_install(s, flags & SOCK_NONBLOCK, flags & SOCK_CLOEXEC);
            if (nfd < 0) return nfd;
            l->acc_head = s->qnext;
            if (!l->acc_head) l->acc_tail = nullptr;
            l->acc_len--;
            s->qnext = nullptr;
            addr_out(s, s->peer, uaddr, ulen, cap);  // Linux too keeps the fd on -EFAULT here
            return nfd;
        }
        if (f->flags & O_NONBLOCK) return -EAGAIN;
        if (int64_t e = sock_wait(deadline)) return e;
    }
}

int64_t sys_accept(uint64_t fd, uint64_t uaddr, uint64_t ulen, uint64_t, uint64_t, uint64_t) {
    return do_accept(fd, uaddr, ulen, 0);
}
int64_t sys_accept4(uint64_t fd, uint64_t uaddr, uint64_t ulen, uint64_t flags, uint64_t,
                    uint64_t) {
    return do_accept(fd, uaddr, ulen, flags & 0xffffffff);
}

int64_t sys_connect(uint64_t fd, uint64_t uaddr, uint64_t len, uint64_t, uint64_t, uint64_t) {
    if (LocalFile lf(fd); lf.f) return usock_connect(lf.f, uaddr, len & 0xffffffff);
    File* f;
    Socket* s;
    if (int64_t r = get_sock(fd, &f, &s); r < 0) return r;
    ember_net_addr a;
    if (int64_t r = addr_in(s, uaddr, len & 0xffffffff, &a); r < 0) return r;
    net_poll_rx();
    const bool nonblock = f->flags & O_NONBLOCK;
    switch (s->state) {
        case SockState::kConnected:
            if (s->connect_unseen) {  // as Linux: the call that sees the connection completed
                s->connect_unseen = false;
                return 0;
            }
            return -EISCONN;
        case SockState::kListening:
            return -EISCONN;
        case SockState::kConnecting:
            if (nonblock) return -EALREADY;
            break;
        default: {
            if (s->so_error) {  // the result of an earlier non-blocking connect
                const int32_t e = s->so_error;
                s->so_error = 0;
                return -e;
            }
            if (Socket* l = local_listener(s, a)) {
                // A listener of this instance: served in the guest.
                if (int64_t r = autobind(s); r < 0) return r;
                const int64_t r = local_connect(s, l, a);
                // Linux reports a nonblocking loopback connect in progress too.
                if (r != 0 || !nonblock) return r;
                s->connect_unseen = true;
                return -EINPROGRESS;
            }
            const uint32_t id = sock_alloc_id(false);
            if (!id) return -ENOBUFS;  // EMBER_NET_MAX_STREAMS
            if (int64_t r = autobind(s); r < 0) return r;
            s->peer = a;
            s->state = SockState::kConnecting;
            KCHECK(sock_attach_id(s, id));
            s->credit = EMBER_NET_WINDOW_INIT;
            s->peer_eof = s->reset = s->reset_seen = s->shut_rd = s->shut_wr = false;
            tx_put(EMBER_NET_CONNECT, id, 0, &a, sizeof a);
            s->gen++;
            if (nonblock) return -EINPROGRESS;
        }
    }
    const uint64_t deadline = s->sndtimeo_ns ? deadline_after(s->sndtimeo_ns) : 0;
    while (s->state == SockState::kConnecting) {
        if (int64_t e = sock_wait(deadline)) return e == -EAGAIN ? -EINPROGRESS : e;
    }
    if (s->state == SockState::kConnected) return 0;
    const int32_t e = s->so_error ? s->so_error : static_cast<int32_t>(ECONNREFUSED);
    s->so_error = 0;
    return -e;
}

int64_t sys_shutdown(uint64_t fd, uint64_t how, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (LocalFile lf(fd); lf.f) return usock_shutdown(lf.f, how & 0xffffffff);
    File* f;
    Socket* s;
    if (int64_t r = get_sock(fd, &f, &s); r < 0) return r;
    how &= 0xffffffff;
    if (how > SHUT_RDWR) return -EINVAL;
    net_poll_rx();
    if (s->state == SockState::kListening) {
        if (how == SHUT_WR) return -ENOTCONN;
        // Stops listening (Linux does too): later accepts fail.
        sock_unlisten(s);
        return 0;
    }
    if (s->state != SockState::kConnected) return -ENOTCONN;
    if (how != SHUT_WR) s->shut_rd = true;
    if (how != SHUT_RD && !s->shut_wr) {
        s->shut_wr = true;
        if (s->id) tx_put(EMBER_NET_SHUTDOWN, s->id, 0, nullptr, 0);
        if (s->lpeer) {
            s->lpeer->peer_eof = true;
            s->lpeer->gen++;
        }
    }
    s->gen++;
    return 0;
}

int64_t sys_getsockname(uint64_t fd, uint64_t uaddr, uint64_t ulen, uint64_t, uint64_t, uint64_t) {
    if (LocalFile lf(fd); lf.f) return usock_name(lf.f, uaddr, ulen, false);
    File* f;
    Socket* s;
    if (int64_t r = get_sock(fd, &f, &s); r < 0) return r;
    if (!uaddr) return -EFAULT;
    int32_t cap;
    if (int64_t r = addrlen_in(uaddr, ulen, &cap); r < 0) return r;
    return addr_out(s, s->local, uaddr, ulen, cap);
}

int64_t sys_getpeername(uint64_t fd, uint64_t uaddr, uint64_t ulen, uint64_t, uint64_t, uint64_t) {
    if (LocalFile lf(fd); lf.f) return usock_name(lf.f, uaddr, ulen, true);
    File* f;
    Socket* s;
    if (int64_t r = get_sock(fd, &f, &s); r < 0) return r;
    net_poll_rx();
    if (s->state != SockState::kConnected || s->reset) return -ENOTCONN;
    if (!uaddr) return -EFAULT;
    int32_t cap;
    if (int64_t r = addrlen_in(uaddr, ulen, &cap); r < 0) return r;
    return addr_out(s, s->peer, uaddr, ulen, cap);
}

// ---- send and receive ------------------------------------------------------------------

constexpr uint64_t kRecvFlags =
    MSG_PEEK | MSG_DONTWAIT | MSG_WAITALL | MSG_TRUNC | MSG_CMSG_CLOEXEC | MSG_NOSIGNAL;

int64_t do_send(uint64_t fd, uint64_t buf, uint64_t len, uint64_t flags) {
    File* f;
    Socket* s;
    if (int64_t r = get_sock(fd, &f, &s); r < 0) return r;
    flags &= 0xffffffff;
    if (flags & MSG_OOB) return -EOPNOTSUPP;
    if (len > fs::kMaxRw) len = fs::kMaxRw;
    const void* p = len ? user_buffer(buf, len) : nullptr;
    if (len && !p) return -EFAULT;
    const bool nonblock = (f->flags & O_NONBLOCK) || (flags & MSG_DONTWAIT);
    return sock_send(s, p, len, nonblock);
}

int64_t do_recv(uint64_t fd, uint64_t buf, uint64_t len, uint64_t flags) {
    File* f;
    Socket* s;
    if (int64_t r = get_sock(fd, &f, &s); r < 0) return r;
    flags &= 0xffffffff;
    if (flags & MSG_OOB) return -EINVAL;  // no urgent data
    if (len > fs::kMaxRw) len = fs::kMaxRw;
    // MSG_TRUNC discards the data, so the buffer is never touched.
    const bool touch = len && !(flags & MSG_TRUNC);
    void* p = touch ? user_buffer_write(buf, len) : nullptr;
    if (touch && !p) return -EFAULT;
    const bool nonblock = (f->flags & O_NONBLOCK) || (flags & MSG_DONTWAIT);
    return sock_recv(s, p, len, flags & kRecvFlags, nonblock);
}

int64_t sys_sendto(uint64_t fd, uint64_t buf, uint64_t len, uint64_t flags, uint64_t uaddr,
                   uint64_t alen) {
    if (LocalFile lf(fd); lf.f)
        return usock_sendto(lf.f, buf, len, flags & 0xffffffff, uaddr, alen);
    // A stream socket ignores the destination, as TCP does without fast open.
    return do_send(fd, buf, len, flags);
}

int64_t sys_recvfrom(uint64_t fd, uint64_t buf, uint64_t len, uint64_t flags, uint64_t uaddr,
                     uint64_t ulen) {
    if (LocalFile lf(fd); lf.f)
        return usock_recvfrom(lf.f, buf, len, flags & 0xffffffff, uaddr, ulen);
    int64_t r = do_recv(fd, buf, len, flags);
    if (r >= 0 && uaddr && ulen) {
        // TCP reports no source address: the length comes back as 0.
        const int32_t zero = 0;
        if (copy_to_user(ulen, &zero, sizeof zero) < 0) return -EFAULT;
    }
    return r;
}

// Loads and checks a msghdr's iovec array; *out is `fast` or kmalloc'd.
constexpr uint64_t kFastIov = 8;
// kernel_writes: recvmsg fills the segments, which must be writable.
int64_t msg_iov(const linux_msghdr& m, linux_iovec* fast, linux_iovec** out, bool kernel_writes) {
    *out = fast;
    if (m.msg_iovlen > IOV_MAX) return -EMSGSIZE;
    if (m.msg_iovlen == 0) return 0;
    linux_iovec* v = fast;
    if (m.msg_iovlen > kFastIov) {
        v = static_cast<linux_iovec*>(kcalloc(m.msg_iovlen, sizeof(linux_iovec)));
        if (!v) return -ENOMEM;
    }
    int64_t r = copy_from_user(v, m.msg_iov, m.msg_iovlen * sizeof(linux_iovec));
    uint64_t total = 0;
    for (uint64_t i = 0; r == 0 && i < m.msg_iovlen; i++) {
        if (v[i].iov_len > INT64_MAX - total)
            r = -EINVAL;
        else if (v[i].iov_len && !(kernel_writes ? user_ok_write(v[i].iov_base, v[i].iov_len)
                                                 : user_ok(v[i].iov_base, v[i].iov_len)))
            r = -EFAULT;
        total += v[i].iov_len;
    }
    if (r < 0) {
        if (v != fast) kfree(v);
        return r;
    }
    *out = v;
    return static_cast<int64_t>(m.msg_iovlen);
}

int64_t sys_sendmsg(uint64_t fd, uint64_t umsg, uint64_t flags, uint64_t, uint64_t, uint64_t) {
    if (LocalFile lf(fd); lf.f) return usock_sendmsg(lf.f, umsg, flags & 0xffffffff);
    File* f;
    Socket* s;
    if (int64_t r = get_sock(fd, &f, &s); r < 0) return r;
    flags &= 0xffffffff;
    if (flags & MSG_OOB) return -EOPNOTSUPP;
    linux_msghdr m;
    if (copy_from_user(&m, umsg, sizeof m) < 0) return -EFAULT;
    linux_iovec fast[kFastIov];
    linux_iovec* v;
    const int64_t cnt = msg_iov(m, fast, &v, false);
    if (cnt < 0) return cnt;
    bool nonblock = (f->flags & O_NONBLOCK) || (flags & MSG_DONTWAIT);
    uint64_t total = 0;
    int64_t err = 0;
    for (int64_t i = 0; i < cnt && total < fs::kMaxRw; i++) {
        uint64_t len = v[i].iov_len;
        if (len > fs::kMaxRw - total) len = fs::kMaxRw - total;
        if (len == 0) continue;
        // Checked by msg_iov.
        const int64_t n = sock_send(s, user_buffer(v[i].iov_base, len), len, nonblock);
        if (n < 0) {
            err = n;
            break;
        }
        total += static_cast<uint64_t>(n);
        if (static_cast<uint64_t>(n) < len) break;
    }
    if (v != fast) kfree(v);
    if (total == 0 && err < 0) return err;
    if (total == 0 && cnt == 0) return sock_send(s, nullptr, 0, nonblock);
    return static_cast<int64_t>(total);
}

int64_t sys_recvmsg(uint64_t fd, uint64_t umsg, uint64_t flags, uint64_t, uint64_t, uint64_t) {
    if (LocalFile lf(fd); lf.f) return usock_recvmsg(lf.f, umsg, flags & 0xffffffff);
    File* f;
    Socket* s;
    if (int64_t r = get_sock(fd, &f, &s); r < 0) return r;
    flags &= 0xffffffff;
    if (flags & MSG_OOB) return -EINVAL;
    linux_msghdr m;
    if (copy_from_user(&m, umsg, sizeof m) < 0) return -EFAULT;
    linux_iovec fast[kFastIov];
    linux_iovec* v;
    const int64_t cnt = msg_iov(m, fast, &v, true);
    if (cnt < 0) return cnt;
    bool nonblock = (f->flags & O_NONBLOCK) || (flags & MSG_DONTWAIT);
    const bool waitall = flags & MSG_WAITALL;
    const bool peek = flags & MSG_PEEK;
    uint64_t total = 0;
    int64_t err = 0;
    for (int64_t i = 0; i < cnt && total < fs::kMaxRw; i++) {
        uint64_t len = v[i].iov_len;
        if (len > fs::kMaxRw - total) len = fs::kMaxRw - total;
        if (len == 0) continue;
        // One recvmsg is one read: once some bytes are in, later segments
        // take only what is already buffered (unless MSG_WAITALL).
        const bool nb = nonblock || (total > 0 && !waitall);
        const int64_t n =
            sock_recv(s, user_buffer(v[i].iov_base, len), len, flags & kRecvFlags, nb);
        if (n < 0) {
            err = n;
            break;
        }
        total += static_cast<uint64_t>(n);
        if (static_cast<uint64_t>(n) < len || peek) break;
    }
    if (v != fast) kfree(v);
    if (total == 0 && err < 0) return err;
    if (total == 0 && cnt == 0) {
        const int64_t r = sock_recv(s, nullptr, 0, flags & kRecvFlags, nonblock);
        if (r < 0) return r;
    }
    // No source address, no control messages, no flags for a stream.
    m.msg_namelen = 0;
    m.msg_controllen = 0;
    m.msg_flags = 0;
    if (copy_to_user(umsg, &m, sizeof m) < 0) return -EFAULT;
    return static_cast<int64_t>(total);
}

// sendmmsg/recvmmsg: the msghdr calls over an array of struct mmsghdr (a
// msghdr and the byte count, 64 bytes), stopping at the first error; an
// error after some messages went through is dropped, as on Linux.
constexpr uint64_t kMmsgSize = 64;

int64_t sys_sendmmsg(uint64_t fd, uint64_t uvec, uint64_t vlen, uint64_t flags, uint64_t,
                     uint64_t) {
    vlen &= 0xffffffff;
    if (vlen > IOV_MAX) vlen = IOV_MAX;  // UIO_MAXIOV
    uint64_t i = 0;
    for (; i < vlen; i++) {
        const uint64_t m = uvec + i * kMmsgSize;
        const int64_t r = sys_sendmsg(fd, m, flags, 0, 0, 0);
        if (r < 0) return i ? static_cast<int64_t>(i) : r;
        const uint32_t n = static_cast<uint32_t>(r);
        if (copy_to_user(m + sizeof(linux_msghdr), &n, sizeof n) < 0)
            return i ? static_cast<int64_t>(i) : -EFAULT;
    }
    return static_cast<int64_t>(i);
}

int64_t sys_recvmmsg(uint64_t fd, uint64_t uvec, uint64_t vlen, uint64_t flags, uint64_t utimeout,
                     uint64_t) {
    vlen &= 0xffffffff;
    flags &= 0xffffffff;
    if (vlen > IOV_MAX) vlen = IOV_MAX;
    uint64_t deadline = 0;
    if (utimeout) {
        int64_t ns;
        if (int64_t r = timespec_in(utimeout, &ns); r < 0) return r;
        deadline = deadline_after(ns);
    }
    uint64_t i = 0;
    for (; i < vlen; i++) {
        // After the first message: MSG_WAITFORONE takes only what is there;
        // past the timeout, the call returns what it has.
        uint64_t f = flags & ~MSG_WAITFORONE;
        if (i > 0 && ((flags & MSG_WAITFORONE) || (deadline && monotonic_ns() >= deadline)))
            f |= MSG_DONTWAIT;
        const uint64_t m = uvec + i * kMmsgSize;
        const int64_t r = sys_recvmsg(fd, m, f, 0, 0, 0);
        if (r < 0) return i ? static_cast<int64_t>(i) : r;
        const uint32_t n = static_cast<uint32_t>(r);
        if (copy_to_user(m + sizeof(linux_msghdr), &n, sizeof n) < 0)
            return i ? static_cast<int64_t>(i) : -EFAULT;
    }
    return static_cast<int64_t>(i);
}

// ---- options -----------------------------------------------------------------------

enum class OptKind : uint8_t { kBool, kInt, kBuf };
struct IntOpt {
    uint16_t level;
    uint16_t name;
    int32_t Socket::*field;
    OptKind kind;
};
constexpr IntOpt kIntOpts[] = {
    {SOL_SOCKET, SO_REUSEADDR, &Socket::opt_reuseaddr, OptKind::kBool},
    {SOL_SOCKET, SO_REUSEPORT, &Socket::opt_reuseport, OptKind::kBool},
    {SOL_SOCKET, SO_KEEPALIVE, &Socket::opt_keepalive, OptKind::kBool},
    {SOL_SOCKET, SO_OOBINLINE, &Socket::opt_oobinline, OptKind::kBool},
    {SOL_SOCKET, SO_RCVBUF, &Socket::opt_rcvbuf, OptKind::kBuf},
    {SOL_SOCKET, SO_SNDBUF, &Socket::opt_sndbuf, OptKind::kBuf},
    {SOL_SOCKET, SO_RCVBUFFORCE, &Socket::opt_rcvbuf, OptKind::kBuf},
    {SOL_SOCKET, SO_SNDBUFFORCE, &Socket::opt_sndbuf, OptKind::kBuf},
    {SOL_SOCKET, SO_RCVLOWAT, &Socket::opt_rcvlowat, OptKind::kInt},
    {SOL_SOCKET, SO_PRIORITY, &Socket::opt_priority, OptKind::kInt},
    {IPPROTO_TCP, TCP_NODELAY, &Socket::opt_nodelay, OptKind::kBool},
    {IPPROTO_TCP, TCP_CORK, &Socket::opt_cork, OptKind::kBool},
    {IPPROTO_TCP, TCP_QUICKACK, &Socket::opt_quickack, OptKind::kBool},
    {IPPROTO_TCP, TCP_KEEPIDLE, &Socket::opt_keepidle, OptKind::kInt},
    {IPPROTO_TCP, TCP_KEEPINTVL, &Socket::opt_keepintvl, OptKind::kInt},
    {IPPROTO_TCP, TCP_KEEPCNT, &Socket::opt_keepcnt, OptKind::kInt},
    {IPPROTO_TCP, TCP_USER_TIMEOUT, &Socket::opt_user_timeout, OptKind::kInt},
    {IPPROTO_TCP, TCP_DEFER_ACCEPT, &Socket::opt_defer_accept, OptKind::kInt},
    {IPPROTO_TCP, TCP_FASTOPEN, &Socket::opt_fastopen, OptKind::kInt},
    {IPPROTO_TCP, TCP_NOTSENT_LOWAT, &Socket::opt_notsent_lowat, OptKind::kInt},
    {IPPROTO_IP, IP_TOS, &Socket::opt_tos, OptKind::kInt},
    {IPPROTO_IPV6, IPV6_TCLASS, &Socket::opt_tos, OptKind::kInt},
    {IPPROTO_IPV6, IPV6_V6ONLY, &Socket::opt_v6only, OptKind::kBool},
};

const IntOpt* find_opt(uint64_t level, uint64_t name) {
    for (const IntOpt& o : kIntOpts)
        if (o.level == level && o.name == name) return &o;
    return nullptr;
}

int64_t timeo_in(uint64_t uval, uint64_t len, int64_t* ns) {
    linux_timeval tv;
    if (len < sizeof tv) return -EINVAL;
    if (copy_from_user(&tv, uval, sizeof tv) < 0) return -EFAULT;
    if (tv.tv_usec < 0 || tv.tv_usec >= 1000000) return -EDOM;
    if (tv.tv_sec < 0) {
        *ns = 0;  // Linux: a negative timeout means "none"
        return 0;
    }
    *ns = tv.tv_sec >= 9000000000ll ? 0 : tv.tv_sec * 1000000000ll + tv.tv_usec * 1000;
    return 0;
}

int64_t sys_setsockopt(uint64_t fd, uint64_t level, uint64_t name, uint64_t uval, uint64_t len,
                       uint64_t) {
    if (LocalFile lf(fd); lf.f)
        return usock_setsockopt(lf.f, level & 0xffffffff, name & 0xffffffff, uval,
                                len & 0xffffffff);
    File* f;
    Socket* s;
    if (int64_t r = get_sock(fd, &f, &s); r < 0) return r;
    level &= 0xffffffff;
    name &= 0xffffffff;
    len &= 0xffffffff;
    if (static_cast<int32_t>(len) < 0) return -EINVAL;
    if (level == SOL_SOCKET && name == SO_LINGER) {
        linux_linger l;
        if (len < sizeof l) return -EINVAL;
        if (copy_from_user(&l, uval, sizeof l) < 0) return -EFAULT;
        s->opt_linger_on = l.l_onoff != 0;
        s->opt_linger_secs = l.l_linger < 0 ? 0 : l.l_linger;
        return 0;
    }
    if (level == SOL_SOCKET && (name == SO_RCVTIMEO_OLD || name == SO_SNDTIMEO_OLD ||
                                name == SO_RCVTIMEO_NEW || name == SO_SNDTIMEO_NEW)) {
        int64_t ns;
        if (int64_t r = timeo_in(uval, len, &ns); r < 0) return r;
        (name == SO_RCVTIMEO_OLD || name == SO_RCVTIMEO_NEW ? s->rcvtimeo_ns : s->sndtimeo_ns) = ns;
        return 0;
    }
    if (level == IPPROTO_TCP && name == TCP_CONGESTION) return 0;  // no congestion control here
    if (level == SOL_SOCKET && (name == SO_BINDTODEVICE || name == SO_BUSY_POLL ||
                                name == SO_ZEROCOPY || name == SO_INCOMING_CPU))
        return 0;
    const IntOpt* o = find_opt(level, name);
    if (!o) return -ENOPROTOOPT;
    if (level == IPPROTO_IPV6 && s->family != AF_INET6) return -ENOPROTOOPT;
    int32_t v;
    if (len < sizeof v) return -EINVAL;
    if (copy_from_user(&v, uval, sizeof v) < 0) return -EFAULT;
    switch (o->kind) {
        case OptKind::kBool:
            v = v != 0;
            break;
        case OptKind::kBuf:
            // Linux doubles the request (bookkeeping overhead) within limits.
            if (v < 1152) v = 1152;
            if (v > (1 << 29)) v = 1 << 29;
            v *= 2;
            break;
        case OptKind::kInt:
            if ((name == TCP_KEEPIDLE || name == TCP_KEEPINTVL || name == TCP_KEEPCNT) &&
                level == IPPROTO_TCP && (v < 1 || v > 32767))
                return -EINVAL;
            break;
    }
    s->*(o->field) = v;
    return 0;
}

int64_t sys_getsockopt(uint64_t fd, uint64_t level, uint64_t name, uint64_t uval, uint64_t ulen,
                       uint64_t) {
    if (LocalFile lf(fd); lf.f)
        return usock_getsockopt(lf.f, level & 0xffffffff, name & 0xffffffff, uval, ulen);
    File* f;
    Socket* s;
    if (int64_t r = get_sock(fd, &f, &s); r < 0) return r;
    level &= 0xffffffff;
    name &= 0xffffffff;
    int32_t len;
    if (copy_from_user(&len, ulen, sizeof len) < 0) return -EFAULT;
    if (len < 0) return -EINVAL;
    net_poll_rx();
    uint8_t buf[64] = {};
    int32_t n = sizeof(int32_t);
    int32_t v = 0;
    if (level == SOL_SOCKET && name == SO_LINGER) {
        linux_linger l{s->opt_linger_on, s->opt_linger_secs};
        memcpy(buf, &l, sizeof l);
        n = sizeof l;
    } else if (level == SOL_SOCKET && (name == SO_RCVTIMEO_OLD || name == SO_SNDTIMEO_OLD ||
                                       name == SO_RCVTIMEO_NEW || name == SO_SNDTIMEO_NEW)) {
        const int64_t ns =
            name == SO_RCVTIMEO_OLD || name == SO_RCVTIMEO_NEW ? s->rcvtimeo_ns : s->sndtimeo_ns;
        linux_timeval tv{ns / 1000000000, (ns % 1000000000) / 1000};
        memcpy(buf, &tv, sizeof tv);
        n = sizeof tv;
    } else if (level == IPPROTO_TCP && name == TCP_CONGESTION) {
        memcpy(buf, "cubic", 6);
        n = 16;  // TCP_CA_NAME_MAX
    } else if (level == IPPROTO_TCP && name == TCP_MAXSEG) {
        v = 65483;  // loopback's MSS
    } else if (level == IPPROTO_TCP && name == TCP_INFO) {
        buf[0] = s->state == SockState::kConnected ? 1 : s->state == SockState::kListening ? 10 : 7;
        n = 64;  // the start of struct tcp_info; the rest reads as zero
    } else if (level == SOL_SOCKET) {
        switch (name) {
            case SO_TYPE:
                v = static_cast<int32_t>(SOCK_STREAM);
                break;
            case SO_DOMAIN:
                v = s->family;
                break;
            case SO_PROTOCOL:
                v = static_cast<int32_t>(IPPROTO_TCP);
                break;
            case SO_ACCEPTCONN:
                v = s->state == SockState::kListening;
                break;
            case SO_ERROR:
                v = s->so_error;
                s->so_error = 0;
                break;
            default: {
                const IntOpt* o = find_opt(level, name);
                if (!o) return -ENOPROTOOPT;
                v = s->*(o->field);
            }
        }
    } else {
        const IntOpt* o = find_opt(level, name);
        if (!o || (level == IPPROTO_IPV6 && s->family != AF_INET6)) return -ENOPROTOOPT;
        v = s->*(o->field);
    }
    if (n == sizeof(int32_t)) memcpy(buf, &v, sizeof v);
    if (len > n) len = n;
    if (copy_to_user(uval, buf, static_cast<uint64_t>(len)) < 0) return -EFAULT;
    return copy_to_user(ulen, &len, sizeof len);
}

}  // namespace

void register_socket_syscalls() {
    syscall_register(nr::socket, "socket", sys_socket);
    syscall_register(nr::socketpair, "socketpair", sys_socketpair);
    syscall_register(nr::bind, "bind", sys_bind);
    syscall_register(nr::listen, "listen", sys_listen);
    syscall_register(nr::accept, "accept", sys_accept);
    syscall_register(nr::accept4, "accept4", sys_accept4);
    syscall_register(nr::connect, "connect", sys_connect);
    syscall_register(nr::shutdown, "shutdown", sys_shutdown);
    syscall_register(nr::getsockname, "getsockname", sys_getsockname);
    syscall_register(nr::getpeername, "getpeername", sys_getpeername);
    syscall_register(nr::sendto, "sendto", sys_sendto);
    syscall_register(nr::recvfrom, "recvfrom", sys_recvfrom);
    syscall_register(nr::sendmsg, "sendmsg", sys_sendmsg);
    syscall_register(nr::recvmsg, "recvmsg", sys_recvmsg);
    syscall_register(nr::sendmmsg, "sendmmsg", sys_sendmmsg);
    syscall_register(nr::recvmmsg, "recvmmsg", sys_recvmmsg);
    syscall_register(nr::setsockopt, "setsockopt", sys_setsockopt);
    syscall_register(nr::getsockopt, "getsockopt", sys_getsockopt);
}

}  // namespace k::net
