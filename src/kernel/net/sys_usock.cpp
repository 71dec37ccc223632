// sys_usock.cpp - the socket syscalls on guest-local sockets (usock.h):
// AF_UNIX names (file system paths, abstract names), connect/accept,
// control messages (SCM_RIGHTS, SCM_CREDENTIALS), options; and loopback UDP.
#include "net/socket.h"
#include "net/usock.h"

namespace k::net {

namespace {

constexpr uint64_t kSoPasscred = 16, kSoPeercred = 17;
constexpr int32_t kScmRights = 1, kScmCredentials = 2;
constexpr uint64_t kCmsgHdr = 16;  // struct cmsghdr on x86-64
constexpr uint64_t kMaxControl = 64 * 1024;

uint64_t cmsg_align(uint64_t n) { return (n + 7) & ~7ull; }

bool inet(const USock* s) { return s->family != AF_UNIX; }

// A user sockaddr_un: *len the stored length (as getsockname reports it),
// *path a NUL-terminated copy of a path name (abstract: path[0] = 0).
int64_t unix_addr_in(uint64_t uaddr, uint64_t len, uint8_t* out, uint32_t* olen) {
    if (len < 2 || len > kUnixAddrMax) return -EINVAL;
    memset(out, 0, kUnixAddrMax);
    if (copy_from_user(out, uaddr, len) < 0) return -EFAULT;
    uint16_t family;
    memcpy(&family, out, 2);
    if (family != AF_UNIX) return -EINVAL;
    if (len > 2 && out[2] != 0) {
        // A path: stored up to its NUL, plus the NUL, as Linux does.
        uint32_t n = 0;
        while (2 + n < len && out[2 + n]) n++;
        len = 2 + n + 1;
        if (len > kUnixAddrMax) len = kUnixAddrMax;
    }
    *olen = static_cast<uint32_t>(len);
    return 0;
}

bool is_path(const uint8_t* a, uint32_t len) { return len > 2 && a[2] != 0; }

// The path of a sockaddr_un as a NUL-terminated string.
void path_of(const uint8_t* a, uint32_t len, char* out) {
    uint32_t n = 0;
    while (2 + n < len && a[2 + n] && n < kUnixPathMax) {
        out[n] = static_cast<char>(a[2 + n]);
        n++;
    }
    out[n] = 0;
}

// Finds the socket an AF_UNIX address names: -ENOENT, -ECONNREFUSED,
// -EPROTOTYPE (a socket of another type).
int64_t unix_resolve(const USock* s, const uint8_t* a, uint32_t len, USock** out) {
    USock* d;
    if (is_path(a, len)) {
        char path[kUnixPathMax + 1];
        path_of(a, len, path);
        fs::Lookup lk;
        if (int64_t r = fs::lookup(fs::cwd(), path, fs::kFollow, &lk); r < 0) return r;
        if ((lk.node->mode & S_IFMT) != S_IFSOCK) return -ECONNREFUSED;
        d = usock_find_node(lk.node);
        if (!d) return -ECONNREFUSED;
        if (d->type != s->type) return -EPROTOTYPE;
    } else {
        d = usock_find_abstract(a, len);
        if (!d || d->type != s->type) return -ECONNREFUSED;
    }
    *out = d;
    return 0;
}

// Copies an address out, truncated to the caller's buffer, full length in *ulen.
int64_t raw_addr_out(const uint8_t* a, uint32_t n, uint64_t uaddr, uint64_t ulen) {
    if (!uaddr) return 0;
    int32_t cap;
    if (copy_from_user(&cap, ulen, sizeof cap) < 0) return -EFAULT;
    if (cap < 0) return -EINVAL;
    if (copy_to_user(uaddr, a, static_cast<uint64_t>(cap) < n ? static_cast<uint64_t>(cap) : n) < 0)
        return -EFAULT;
    const int32_t len = static_cast<int32_t>(n);
    return copy_to_user(ulen, &len, sizeof len);
}

// The name of s (peer: of its peer) as a sockaddr.
uint32_t name_of(const USock* s, bool peer, uint8_t* buf) {
    if (inet(s)) return inet_addr_format(s->family, peer ? s->remote : s->local, buf);
    const USock* o = peer ? s->peer : s;
    if (!o || o->ulen == 0) {
        const uint16_t fam = AF_UNIX;
        memcpy(buf, &fam, 2);
        return 2;
    }
    memcpy(buf, o->uaddr, o->ulen);
    return o->ulen;
}

int64_t autobind_inet(USock* s) {
    if (s->bound) return 0;
    uint16_t p = ephemeral_port();
    for (int tries = 0; p && usock_port_used(s, p) && tries < 30000; tries++) p = ephemeral_port();
    if (!p) return -EAGAIN;
    s->local.port = p;
    s->bound = true;
    return 0;
}

// Parses SCM_RIGHTS out of a user control buffer into m (references taken).
int64_t control_in(const USock* s, const linux_msghdr& h, USend* m) {
    if (!h.msg_control || h.msg_controllen == 0) return 0;
    if (h.msg_controllen > kMaxControl) return -ENOBUFS;
    uint64_t off = 0;
    while (off + kCmsgHdr <= h.msg_controllen) {
        struct {
            uint64_t len;
            int32_t level, type;
        } c;
        if (copy_from_user(&c, h.msg_control + off, sizeof c) < 0) return -EFAULT;
        if (c.len < kCmsgHdr || c.len > h.msg_controllen - off) return -EINVAL;
        if (c.level == static_cast<int32_t>(SOL_SOCKET) && c.type == kScmRights) {
            if (inet(s) || m->fds) return -EINVAL;
            const uint64_t n = (c.len - kCmsgHdr) / 4;
            if (n == 0) return -EINVAL;
            if (n > kScmMaxFd) return -EINVAL;
            int32_t fdv[kScmMaxFd];
            if (copy_from_user(fdv, h.msg_control + off + kCmsgHdr, n * 4) < 0) return -EFAULT;
            m->fds = static_cast<File**>(kcalloc(n, sizeof(File*)));
            if (!m->fds) return -ENOMEM;
            for (uint64_t i = 0; i < n; i++) {
                File* f = fs::fd_get(fdv[i]);
                if (!f) return -EBADF;  // the caller drops the references taken so far
                fs::file_get(f);
                m->fds[m->nfds++] = f;
            }
        } else if (c.level == static_cast<int32_t>(SOL_SOCKET) && c.type == kScmCredentials) {
            if (inet(s)) return -EINVAL;
            // The kernel stamps the sender's real credentials on every message.
        } else if (c.level == static_cast<int32_t>(SOL_SOCKET)) {
            return -EINVAL;
        }
        off += cmsg_align(c.len);
    }
    return 0;
}

void drop_fds(File** fds, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) fs::file_put(fds[i]);
    kfree(fds);
}

// Writes the control messages of a receive; returns the bytes used.
int64_t control_out(const USock* s, URecv* r, const linux_msghdr& h, uint64_t flags) {
    uint64_t used = 0;
    const uint64_t cap = h.msg_control ? h.msg_controllen : 0;
    auto put = [&](int32_t type, const void* data, uint64_t len) -> int64_t {
        if (cap < used + kCmsgHdr + len) {
            r->msg_flags |= static_cast<int32_t>(MSG_CTRUNC);
            return 1;
        }
        struct {
            uint64_t len;
            int32_t level, type;
        } c{kCmsgHdr + len, static_cast<int32_t>(SOL_SOCKET), type};
        if (copy_to_user(h.msg_control + used, &c, sizeof c) < 0 ||
            copy_to_user(h.msg_control + used + kCmsgHdr, data, len) < 0)
            return -EFAULT;
        used += cmsg_align(kCmsgHdr + len);
        if (used > cap) used = cap;
        return 0;
    };
    if (s->opt_passcred && r->has_cred) {
        if (int64_t e = put(kScmCredentials, &r->cred, sizeof r->cred); e < 0) return e;
    }
    if (r->nfds) {
        const uint64_t room = cap > used + kCmsgHdr ? (cap - used - kCmsgHdr) / 4 : 0;
        const uint32_t n = room < r->nfds ? static_cast<uint32_t>(room) : r->nfds;
        int32_t fdv[kScmMaxFd];
        uint32_t got = 0;
        for (; got < n; got++) {
            const int64_t fd = fs::fd_install(r->fds[got], 0, flags & MSG_CMSG_CLOEXEC);
            if (fd < 0) break;
            fdv[got] = static_cast<int32_t>(fd);
        }
        if (got < r->nfds) r->msg_flags |= static_cast<int32_t>(MSG_CTRUNC);
        for (uint32_t i = got; i < r->nfds; i++) fs::file_put(r->fds[i]);
        kfree(r->fds);
        r->fds = nullptr;
        r->nfds = 0;
        if (got) {
            if (int64_t e = put(kScmRights, fdv, got * 4ull); e < 0) return e;
        }
    }
    return static_cast<int64_t>(used);
}

// Loads a msghdr's iovec into kernel IoVecs (user memory checked).
// kernel_writes: a receive fills the segments, which must be writable.
int64_t iov_in(const linux_msghdr& h, IoVec* fast, uint32_t nfast, IoVec** out, uint64_t* total,
               bool kernel_writes) {
    *out = fast;
    *total = 0;
    if (h.msg_iovlen > IOV_MAX) return -EMSGSIZE;
    IoVec* v = fast;
    if (h.msg_iovlen > nfast) {
        v = static_cast<IoVec*>(kcalloc(h.msg_iovlen, sizeof(IoVec)));
        if (!v) return -ENOMEM;
    }
    for (uint64_t i = 0; i < h.msg_iovlen; i++) {
        linux_iovec u;
        if (copy_from_user(&u, h.msg_iov + i * sizeof u, sizeof u) < 0 ||
            (u.iov_len && !(kernel_writes ? user_ok_write(u.iov_base, u.iov_len)
                                          : user_ok(u.iov_base, u.iov_len)))) {
            if (v != fast) kfree(v);
            return -EFAULT;
        }
        if (u.iov_len > fs::kMaxRw - *total) u.iov_len = fs::kMaxRw - *total;
        v[i] = {static_cast<uint8_t*>(user_buffer(u.iov_base, u.iov_len)), u.iov_len};
        *total += u.iov_len;
    }
    *out = v;
    return static_cast<int64_t>(h.msg_iovlen);
}

// Resolves a destination address of a datagram send into m.
int64_t dest_in(USock* s, uint64_t uaddr, uint64_t alen, USend* m) {
    if (!uaddr) return 0;
    if (s->type != SOCK_DGRAM) {
        // A connected socket ignores the address (Linux: EISCONN for
        // AF_UNIX streams, EOPNOTSUPP if unconnected).
        if (!inet(s)) return s->state == UState::kConnected ? -EISCONN : -EOPNOTSUPP;
        return 0;
    }
    if (inet(s)) {
        ember_net_addr a;
        if (int64_t r = inet_addr_in(s->family, uaddr, alen, &a); r < 0) return r;
        if (int64_t r = autobind_inet(s); r < 0) return r;
        m->dest_in = true;
        m->in = a;
        // Outside the instance: the host carries it (udp_host.cpp).
        m->dest_host = !loopback(a);
        m->dest = m->dest_host ? nullptr : usock_find_port(s->family, a);
        return 0;
    }
    uint8_t a[kUnixAddrMax];
    uint32_t len;
    if (int64_t r = unix_addr_in(uaddr, alen, a, &len); r < 0) return r;
    return unix_resolve(s, a, len, &m->dest);
}

int64_t do_send(File* f, USend* m, uint64_t flags) {
    USock* s = usock_of(f);
    m->nonblock = m->nonblock || (f->flags & O_NONBLOCK) || (flags & MSG_DONTWAIT);
    const int64_t r = usock_send(s, m);
    drop_fds(m->fds, m->nfds);  // what the message did not take
    return r;
}

}  // namespace

bool loopback(const ember_net_addr& a) {
    if (a.family == EMBER_NET_AF_INET)
        return a.addr[0] == 127 || (a.addr[0] | a.addr[1] | a.addr[2] | a.addr[3]) == 0;
    for (int i = 0; i < 15; i++)
        if (a.addr[i]) return false;
    return a.addr[15] <= 1;
}

// ---- creation, names, connections ------------------------------------------------------

int64_t usock_socket(uint64_t domain, uint64_t type, uint64_t protocol) {
    uint64_t base = type & SOCK_TYPE_MASK;
    if (domain == AF_UNIX) {
        if (base == SOCK_RAW) base = SOCK_DGRAM;  // as Linux's unix_create
        if (base != SOCK_STREAM && base != SOCK_DGRAM && base != SOCK_SEQPACKET)
            return -ESOCKTNOSUPPORT;
        if (protocol != 0 && protocol != AF_UNIX) return -EPROTONOSUPPORT;
    } else if (protocol != 0 && protocol != IPPROTO_UDP) {
        return -EPROTONOSUPPORT;
    }
    if (!fs::fd_available()) return -EMFILE;
    USock* s = usock_new(static_cast<uint16_t>(domain), static_cast<uint8_t>(base));
    if (!s) return -ENOMEM;
    const int64_t fd = usock_install(s, type & SOCK_NONBLOCK, type & SOCK_CLOEXEC);
    if (fd < 0) usock_free(s);
    return fd;
}

int64_t usock_socketpair(uint64_t domain, uint64_t type, uint64_t protocol, uint64_t usv) {
    if (domain != AF_UNIX) return -EOPNOTSUPP;
    const int64_t a = usock_socket(domain, type, protocol);
    if (a < 0) return a;
    const int64_t b = usock_socket(domain, type, protocol);
    if (b < 0) {
        fs::fd_close(a);
        return b;
    }
    usock_link(usock_of(fs::fd_get(a)), usock_of(fs::fd_get(b)));
    const int32_t sv[2] = {static_cast<int32_t>(a), static_cast<int32_t>(b)};
    if (copy_to_user(usv, sv, sizeof sv) < 0) {
        fs::fd_close(a);
        fs::fd_close(b);
        return -EFAULT;
    }
    return 0;
}

int64_t usock_bind(File* f, uint64_t uaddr, uint64_t len) {
    USock* s = usock_of(f);
    if (inet(s)) {
        ember_net_addr a;
        if (int64_t r = inet_addr_in(s->family, uaddr, len, &a); r < 0) return r;
        if (s->bound) return -EINVAL;
        if (a.port != 0 && usock_port_used(s, a.port)) return -EADDRINUSE;
        s->local = a;
        if (a.port == 0) return autobind_inet(s);
        s->bound = true;
        return 0;
    }
    uint8_t a[kUnixAddrMax];
    uint32_t alen;
    if (int64_t r = unix_addr_in(uaddr, len, a, &alen); r < 0) return r;
    if (s->ulen) return -EINVAL;
    if (alen == 2) {
        // Autobind: an abstract name of five hex digits, as Linux.
        static uint32_t next = 0;
        for (;;) {
            uint32_t v = next++ & 0xfffff;
            a[2] = 0;
            for (int i = 0; i < 5; i++) a[3 + i] = "0123456789abcdef"[(v >> (16 - 4 * i)) & 0xf];
            alen = 8;
            if (!usock_find_abstract(a, alen)) break;
        }
    } else if (is_path(a, alen)) {
        char path[kUnixPathMax + 1];
        path_of(a, alen, path);
        fs::Lookup lk;
        if (int64_t r = fs::lookup(fs::cwd(), path, fs::kAllowMissing, &lk); r < 0) return r;
        if (lk.node) return -EADDRINUSE;
        if (!fs::fs_writable(lk.dir)) return -EROFS;
        if (lk.dir->nlink == 0) return -ENOENT;
        fs::Inode* i = fs::inode_new(fs::FsId::kTmpfs, S_IFSOCK | (0777 & ~fs::umask()));
        if (!i) return -ENOMEM;
        if (!fs::dir_link(lk.dir, lk.name, lk.name_len, i)) {
            fs::inode_maybe_free(i);
            return -ENOMEM;
        }
        fs::inode_get(i);
        s->node = i;
    } else if (usock_find_abstract(a, alen)) {
        return -EADDRINUSE;
    }
    memcpy(s->uaddr, a, alen);
    s->ulen = alen;
    s->name_owner = true;
    return 0;
}

int64_t usock_listen(File* f, uint64_t backlog) {
    USock* s = usock_of(f);
    if (s->type == SOCK_DGRAM) return -EOPNOTSUPP;
    if (s->state == UState::kConnected || !s->ulen) return -EINVAL;
    int32_t b = static_cast<int32_t>(backlog);
    if (b < 0 || b > 4096) b = 4096;
    s->backlog = b;
    if (s->state != UState::kListening) {
        s->state = UState::kListening;
        cred_current(&s->cred);
        s->gen++;
    }
    return 0;
}

int64_t usock_accept(File* f, uint64_t uaddr, uint64_t ulen, uint64_t flags) {
    USock* l = usock_of(f);
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) return -EINVAL;
    if (l->type == SOCK_DGRAM) return -EOPNOTSUPP;
    const uint64_t deadline = l->rcvtimeo_ns ? deadline_after(l->rcvtimeo_ns) : 0;
    for (;;) {
        if (l->state != UState::kListening) return -EINVAL;
        if (USock* q = l->acc_head) {
            if (!fs::fd_available()) return -EMFILE;
            const int64_t fd = usock_install(q, flags & SOCK_NONBLOCK, flags & SOCK_CLOEXEC);
            if (fd < 0) return fd;
            l->acc_head = q->qnext;
            if (!l->acc_head) l->acc_tail = nullptr;
            q->qnext = nullptr;
            l->acc_len--;
            l->gen++;
            uint8_t buf[kUnixAddrMax];
            const uint32_t n = name_of(q, true, buf);
            raw_addr_out(buf, n, uaddr, ulen);  // Linux keeps the fd on -EFAULT too
            return fd;
        }
        if (f->flags & O_NONBLOCK) return -EAGAIN;
        if (int64_t e = usock_wait(deadline)) return e;
    }
}

int64_t usock_connect(File* f, uint64_t uaddr, uint64_t len) {
    USock* s = usock_of(f);
    if (inet(s)) {
        uint16_t fam = 0;
        if (len >= 2 && copy_from_user(&fam, uaddr, 2) < 0) return -EFAULT;
        if (fam == AF_UNSPEC) {
            s->remote = {};
            s->remote.family = s->local.family;
            s->peer = nullptr;
            s->state = UState::kUnconnected;
            return 0;
        }
        ember_net_addr a;
        if (int64_t r = inet_addr_in(s->family, uaddr, len, &a); r < 0) return r;
        if (int64_t r = autobind_inet(s); r < 0) return r;
        s->remote = a;
        s->remote_host = !loopback(a);
        s->state = UState::kConnected;
        s->so_error = 0;
        return 0;
    }
    uint8_t a[kUnixAddrMax];
    uint32_t alen;
    if (s->type == SOCK_DGRAM && len >= 2) {
        uint16_t fam = 0;
        if (copy_from_user(&fam, uaddr, 2) < 0) return -EFAULT;
        if (fam == AF_UNSPEC) {  // dissolves the association
            s->peer = nullptr;
            s->peer_dead = false;
            s->state = UState::kUnconnected;
            return 0;
        }
    }
    if (int64_t r = unix_addr_in(uaddr, len, a, &alen); r < 0) return r;
    USock* d;
    if (int64_t r = unix_resolve(s, a, alen, &d); r < 0) return r;
    if (s->type == SOCK_DGRAM) {
        s->peer = d;
        s->peer_dead = false;
        s->state = UState::kConnected;
        s->peer_cred = d->cred;
        s->has_peer_cred = true;
        return 0;
    }
    if (s->state == UState::kConnected) return -EISCONN;
    if (s->state == UState::kListening) return -EINVAL;
    const uint64_t deadline = s->sndtimeo_ns ? deadline_after(s->sndtimeo_ns) : 0;
    for (;;) {
        if (d->state != UState::kListening) return -ECONNREFUSED;
        cred_current(&s->cred);
        const int64_t r = usock_connect_stream(s, d);
        if (r != -EAGAIN) return r;
        if (f->flags & O_NONBLOCK) return -EAGAIN;
        if (int64_t e = usock_wait(deadline)) return e;
        if (int64_t e = unix_resolve(s, a, alen, &d); e < 0) return e;  // the listener may be gone
    }
}

int64_t usock_shutdown(File* f, uint64_t how) {
    USock* s = usock_of(f);
    if (how > SHUT_RDWR) return -EINVAL;
    if (inet(s) && s->state != UState::kConnected) return -ENOTCONN;
    const bool rd = how != SHUT_WR, wr = how != SHUT_RD;
    if (rd) s->rcv_shut = true;
    if (wr) s->snd_shut = true;
    if (s->peer && s->type != SOCK_DGRAM) {
        if (rd) s->peer->snd_shut = true;
        if (wr) s->peer->rcv_shut = true;
        s->peer->gen++;
    }
    s->gen++;
    return 0;
}

int64_t usock_name(File* f, uint64_t uaddr, uint64_t ulen, bool peer) {
    USock* s = usock_of(f);
    if (peer && s->state != UState::kConnected) return -ENOTCONN;
    if (peer && !inet(s) && !s->peer) return -ENOTCONN;
    if (!uaddr) return -EFAULT;
    uint8_t buf[kUnixAddrMax];
    const uint32_t n = name_of(s, peer, buf);
    return raw_addr_out(buf, n, uaddr, ulen);
}

// ---- send and receive -------------------------------------------------------------------

int64_t usock_sendto(File* f, uint64_t buf, uint64_t len, uint64_t flags, uint64_t uaddr,
                     uint64_t alen) {
    USock* s = usock_of(f);
    if (flags & MSG_OOB) return -EOPNOTSUPP;
    if (len > fs::kMaxRw) len = fs::kMaxRw;
    IoVec v{static_cast<uint8_t*>(len ? user_buffer(buf, len) : nullptr), len};
    if (len && !v.base) return -EFAULT;
    USend m{};
    m.iov = &v;
    m.niov = 1;
    m.total = len;
    if (int64_t r = dest_in(s, uaddr, alen & 0xffffffff, &m); r < 0) return r;
    return do_send(f, &m, flags);
}

int64_t usock_sendmsg(File* f, uint64_t umsg, uint64_t flags) {
    USock* s = usock_of(f);
    if (flags & MSG_OOB) return -EOPNOTSUPP;
    linux_msghdr h;
    if (copy_from_user(&h, umsg, sizeof h) < 0) return -EFAULT;
    IoVec fast[8];
    IoVec* v;
    USend m{};
    int64_t r = iov_in(h, fast, 8, &v, &m.total, false);
    if (r < 0) return r;
    m.iov = v;
    m.niov = static_cast<uint32_t>(r);
    r = dest_in(s, h.msg_name, h.msg_namelen, &m);
    if (r == 0) r = control_in(s, h, &m);
    if (r == 0)
        r = do_send(f, &m, flags);
    else
        drop_fds(m.fds, m.nfds);
    if (v != fast) kfree(v);
    return r;
}

namespace {

int64_t do_recv(File* f, URecv* r, uint64_t flags) {
    r->flags = flags;
    r->nonblock = (f->flags & O_NONBLOCK) || (flags & MSG_DONTWAIT);
    return usock_recv(usock_of(f), r);
}

// The sender's address of a received message, formatted for s.
uint32_t source_of(const USock* s, const URecv& r, uint8_t* buf) {
    if (inet(s)) return r.has_in ? inet_addr_format(s->family, r.in, buf) : 0;
    memcpy(buf, r.uaddr, r.ulen);
    return r.ulen;
}

}  // namespace

int64_t usock_recvfrom(File* f, uint64_t buf, uint64_t len, uint64_t flags, uint64_t uaddr,
                       uint64_t ulen) {
    USock* s = usock_of(f);
    if (flags & MSG_OOB) return -EINVAL;
    if (len > fs::kMaxRw) len = fs::kMaxRw;
    IoVec v{static_cast<uint8_t*>(len ? user_buffer_write(buf, len) : nullptr), len};
    if (len && !v.base) return -EFAULT;
    URecv r{};
    r.iov = &v;
    r.niov = 1;
    r.total = len;
    const int64_t n = do_recv(f, &r, flags);
    drop_fds(r.fds, r.nfds);
    if (n >= 0 && uaddr && ulen) {
        uint8_t a[kUnixAddrMax];
        if (raw_addr_out(a, source_of(s, r, a), uaddr, ulen) < 0) return -EFAULT;
    }
    return n;
}

int64_t usock_recvmsg(File* f, uint64_t umsg, uint64_t flags) {
    USock* s = usock_of(f);
    if (flags & MSG_OOB) return -EINVAL;
    linux_msghdr h;
    if (copy_from_user(&h, umsg, sizeof h) < 0) return -EFAULT;
    IoVec fast[8];
    IoVec* v;
    URecv r{};
    int64_t n = iov_in(h, fast, 8, &v, &r.total, true);
    if (n < 0) return n;
    r.iov = v;
    r.niov = static_cast<uint32_t>(n);
    n = do_recv(f, &r, flags);
    if (v != fast) kfree(v);
    if (n < 0) {
        drop_fds(r.fds, r.nfds);
        return n;
    }
    const int64_t used = control_out(s, &r, h, flags);
    if (used < 0) return used;
    uint8_t a[kUnixAddrMax];
    uint32_t alen = source_of(s, r, a);
    if (h.msg_name && alen) {
        if (copy_to_user(h.msg_name, a, alen < h.msg_namelen ? alen : h.msg_namelen) < 0)
            return -EFAULT;
    }
    h.msg_namelen = h.msg_name ? alen : 0;
    h.msg_controllen = static_cast<uint64_t>(used);
    h.msg_flags = r.msg_flags;
    if (copy_to_user(umsg, &h, sizeof h) < 0) return -EFAULT;
    return n;
}

// ---- options ----------------------------------------------------------------------

int64_t usock_setsockopt(File* f, uint64_t level, uint64_t name, uint64_t uval, uint64_t len) {
    USock* s = usock_of(f);
    if (level != SOL_SOCKET) {
        // UDP/IP options are accepted and have no effect on loopback.
        return inet(s) ? 0 : -EOPNOTSUPP;
    }
    if (name == SO_RCVTIMEO_OLD || name == SO_SNDTIMEO_OLD || name == SO_RCVTIMEO_NEW ||
        name == SO_SNDTIMEO_NEW) {
        linux_timeval tv;
        if (len < sizeof tv) return -EINVAL;
        if (copy_from_user(&tv, uval, sizeof tv) < 0) return -EFAULT;
        if (tv.tv_usec < 0 || tv.tv_usec >= 1000000) return -EDOM;
        const int64_t ns = tv.tv_sec < 0 ? 0 : tv.tv_sec * 1000000000ll + tv.tv_usec * 1000;
        (name == SO_RCVTIMEO_OLD || name == SO_RCVTIMEO_NEW ? s->rcvtimeo_ns : s->sndtimeo_ns) = ns;
        return 0;
    }
    int32_t v = 0;
    if (len < sizeof v) return -EINVAL;
    if (copy_from_user(&v, uval, sizeof v) < 0) return -EFAULT;
    switch (name) {
        case kSoPasscred:
            s->opt_passcred = v != 0;
            return 0;
        case SO_RCVBUF:
        case SO_SNDBUF:
        case SO_RCVBUFFORCE:
        case SO_SNDBUFFORCE:
            if (v < 1152) v = 1152;
            if (v > (1 << 29)) v = 1 << 29;
            (name == SO_RCVBUF || name == SO_RCVBUFFORCE ? s->opt_rcvbuf : s->opt_sndbuf) = v * 2;
            return 0;
        case SO_REUSEADDR:
            s->opt_reuseaddr = v != 0;
            return 0;
        case SO_REUSEPORT:
            s->opt_reuseport = v != 0;
            return 0;
        case SO_BROADCAST:
            s->opt_broadcast = v != 0;
            return 0;
        case SO_KEEPALIVE:
        case SO_PRIORITY:
        case SO_LINGER:
        case SO_RCVLOWAT:
            return 0;
        default:
            return -ENOPROTOOPT;
    }
}

int64_t usock_getsockopt(File* f, uint64_t level, uint64_t name, uint64_t uval, uint64_t ulen) {
    USock* s = usock_of(f);
    int32_t len;
    if (copy_from_user(&len, ulen, sizeof len) < 0) return -EFAULT;
    if (len < 0) return -EINVAL;
    if (level != SOL_SOCKET) return -ENOPROTOOPT;
    uint8_t buf[16] = {};
    int32_t n = sizeof(int32_t);
    int32_t v = 0;
    switch (name) {
        case SO_TYPE:
            v = s->type;
            break;
        case SO_DOMAIN:
            v = s->family;
            break;
        case SO_PROTOCOL:
            v = inet(s) ? static_cast<int32_t>(IPPROTO_UDP) : 0;
            break;
        case SO_ACCEPTCONN:
            v = s->state == UState::kListening;
            break;
        case SO_ERROR:
            v = s->so_error;
            s->so_error = 0;
            break;
        case kSoPasscred:
            v = s->opt_passcred;
            break;
        case SO_RCVBUF:
            v = s->opt_rcvbuf;
            break;
        case SO_SNDBUF:
            v = s->opt_sndbuf;
            break;
        case SO_REUSEADDR:
            v = s->opt_reuseaddr;
            break;
        case SO_REUSEPORT:
            v = s->opt_reuseport;
            break;
        case SO_BROADCAST:
            v = s->opt_broadcast;
            break;
        case kSoPeercred: {
            // Linux: the peer's credentials, or pid 0 and uid/gid -1 unknown.
            Cred c = s->has_peer_cred ? s->peer_cred : Cred{0, ~0u, ~0u};
            if (inet(s)) return -ENOPROTOOPT;
            memcpy(buf, &c, sizeof c);
            n = sizeof c;
            break;
        }
        case SO_RCVTIMEO_OLD:
        case SO_SNDTIMEO_OLD:
        case SO_RCVTIMEO_NEW:
        case SO_SNDTIMEO_NEW: {
            const int64_t ns = name == SO_RCVTIMEO_OLD || name == SO_RCVTIMEO_NEW ? s->rcvtimeo_ns
                                                                                  : s->sndtimeo_ns;
            linux_timeval tv{ns / 1000000000, (ns % 1000000000) / 1000};
            memcpy(buf, &tv, sizeof tv);
            n = sizeof tv;
            break;
        }
        default:
            return -ENOPROTOOPT;
    }
    if (n == sizeof(int32_t)) memcpy(buf, &v, sizeof v);
    if (len > n) len = n;
    if (copy_to_user(uval, buf, static_cast<uint64_t>(len)) < 0) return -EFAULT;
    return copy_to_user(ulen, &len, sizeof len);
}

}  // namespace k::net
