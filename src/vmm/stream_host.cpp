// stream_host.cpp - the host side of the guest's sockets (see stream_host.h).
#include "vmm/stream_host.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/clock.h"
#include "common/ring.h"

namespace ember {
namespace {

constexpr uint64_t kRxCap = ring::kNetRxCap;
constexpr uint64_t kTxCap = ring::kNetTxCap;
constexpr uint64_t kHdr = ring::kNetHdr;

// The bounds of the per-instance tables, whatever the guest does (the sums
// are in docs/security.md, "Host resources per instance").
constexpr size_t kMaxListeners = 256;
// Control records that wait for room in the rx ring. A stream has at most
// three in its life (ACCEPT or CONNECTED, SHUTDOWN, CLOSE) and they go when
// the guest closes it; replies to connects that got no stream (denied, over
// the cap) are only made while reading the tx ring, which pauses while
// kBacklogPause records wait: a guest that does not read its rx ring stops
// being served, it does not grow the host's memory.
constexpr size_t kBacklogPause = 1024;
constexpr size_t kMaxBacklog = kBacklogPause + 3 * EMBER_NET_MAX_STREAMS;
// Guest data not yet written to a peer: the guest's credit bounds it, and
// the buffer's capacity never grows past it.
constexpr size_t kMaxOut = EMBER_NET_WINDOW_INIT + EMBER_NET_DATA_MAX;

bool parse_port(const std::string& s, uint16_t* out) {
    if (s.empty() || s.size() > 5) return false;
    unsigned v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v == 0 || v > 65535) return false;
    *out = static_cast<uint16_t>(v);
    return true;
}

}  // namespace

void to_net_addr(const sockaddr_storage& ss, ember_net_addr* a) {
    std::memset(a, 0, sizeof *a);
    if (ss.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
        a->family = EMBER_NET_AF_INET;
        a->port = ntohs(in->sin_port);
        std::memcpy(a->addr, &in->sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        a->family = EMBER_NET_AF_INET6;
        a->port = ntohs(in6->sin6_port);
        std::memcpy(a->addr, &in6->sin6_addr, 16);
    }
}

bool from_net_addr(const ember_net_addr& a, sockaddr_storage* ss, socklen_t* len) {
    std::memset(ss, 0, sizeof *ss);
    if (a.family == EMBER_NET_AF_INET) {
        auto* in = reinterpret_cast<sockaddr_in*>(ss);
        in->sin_family = AF_INET;
        in->sin_port = htons(a.port);
        std::memcpy(&in->sin_addr, a.addr, 4);
        *len = sizeof(sockaddr_in);
        return true;
    }
    if (a.family == EMBER_NET_AF_INET6) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(ss);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(a.port);
        std::memcpy(&in6->sin6_addr, a.addr, 16);
        *len = sizeof(sockaddr_in6);
        return true;
    }
    return false;
}

bool same_endpoint(const sockaddr_storage& a, const sockaddr_storage& b) {
    if (a.ss_family != b.ss_family) return false;
    if (a.ss_family == AF_INET) {
        const auto* x = reinterpret_cast<const sockaddr_in*>(&a);
        const auto* y = reinterpret_cast<const sockaddr_in*>(&b);
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const auto* x = reinterpret_cast<const sockaddr_in6*>(&a);
    const auto* y = reinterpret_cast<const sockaddr_in6*>(&b);
    return x->sin6_port == y->sin6_port && std::memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

Result<PortMapping> parse_port_mapping(const std::string& spec) {
    PortMapping m;
    const auto last = spec.rfind(':');
    if (last == std::string::npos)
        return Status::invalid_argument(
            "-p: expected HOSTPORT:GUESTPORT or ADDR:HOSTPORT:GUESTPORT, got '" + spec + "'");
    const std::string guest = spec.substr(last + 1), rest = spec.substr(0, last);
    std::string host_port = rest;
    const auto mid = rest.rfind(':');
    if (mid != std::string::npos && rest.back() != ']') {
        m.host_addr = rest.substr(0, mid);
        host_port = rest.substr(mid + 1);
        if (m.host_addr.size() > 2 && m.host_addr.front() == '[' && m.host_addr.back() == ']')
            m.host_addr = m.host_addr.substr(1, m.host_addr.size() - 2);
    }
    if (!parse_port(host_port, &m.host_port) || !parse_port(guest, &m.guest_port))
        return Status::invalid_argument("-p: ports must be numbers 1-65535, got '" + spec + "'");
    in6_addr tmp6;
    in_addr tmp4;
    if (inet_pton(AF_INET, m.host_addr.c_str(), &tmp4) != 1 &&
        inet_pton(AF_INET6, m.host_addr.c_str(), &tmp6) != 1)
        return Status::invalid_argument("-p: not an IP address: '" + m.host_addr + "'");
    return m;
}

Result<EgressRule> parse_egress_rule(const std::string& spec) {
    EgressRule r;
    const auto colon = spec.rfind(':');
    if (colon == std::string::npos || colon == 0 || !parse_port(spec.substr(colon + 1), &r.port))
        return Status::invalid_argument("--allow-egress: expected HOST:PORT, got '" + spec + "'");
    r.host = spec.substr(0, colon);
    if (r.host.size() > 2 && r.host.front() == '[' && r.host.back() == ']')
        r.host = r.host.substr(1, r.host.size() - 2);
    return r;
}

StreamHost::StreamHost(GuestMemory& mem, const NetConfig& cfg,
                       std::function<void(const std::string&)> log)
    : mem_(mem), cfg_(cfg), log_(std::move(log)) {
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

void StreamHost::post(int fd, uint16_t guest_port) {
    {
        std::lock_guard lock(post_mu_);
        posted_.emplace_back(fd, guest_port);
    }
    wake();
}

void StreamHost::wake() {
    const uint64_t one = 1;
    if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
}

void StreamHost::end_streams() {
    close_dgrams();  // made again at the next datagram, from a new port
    for (auto& [id, s] : streams_) {
        if (s.peer_eof || s.closed) continue;
        s.peer_eof = true;
        push(EMBER_NET_SHUTDOWN, id, 0, nullptr, 0);
    }
}

void StreamHost::take_posted() {
    std::vector<std::pair<int, uint16_t>> items;
    {
        std::lock_guard lock(post_mu_);
        items.swap(posted_);
    }
    for (auto [fd, port] : items) {
        if (auto st = adopt(fd, port); !st) log_("connection dropped: " + st.message());
    }
}

StreamHost::~StreamHost() {
    if (wake_fd_ >= 0) ::close(wake_fd_);
    for (auto& [fd, port] : posted_) ::close(fd);
    for (auto& l : host_listeners_)
        if (l.fd >= 0) ::close(l.fd);
    for (auto& [id, s] : streams_)
        if (s.fd >= 0) ::close(s.fd);
    close_dgrams();
}

Status StreamHost::start() {
    for (const PortMapping& m : cfg_.ports) {
        sockaddr_storage ss{};
        socklen_t len = 0;
        auto* in = reinterpret_cast<sockaddr_in*>(&ss);
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
        if (inet_pton(AF_INET, m.host_addr.c_str(), &in->sin_addr) == 1) {
            in->sin_family = AF_INET;
            in->sin_port = htons(m.host_port);
            len = sizeof *in;
        } else if (inet_pton(AF_INET6, m.host_addr.c_str(), &in6->sin6_addr) == 1) {
            in6->sin6_family = AF_INET6;
            in6->sin6_port = htons(m.host_port);
            len = sizeof *in6;
        } else {
            return Status::invalid_argument("-p: not an IP address: " + m.host_addr);
        }
        const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) return Status::from_errno("socket");
        const int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 1024) != 0) {
            const Status st = Status::from_errno("-p " + m.host_addr + ":" +
                                                 std::to_string(m.host_port) + ": cannot listen");
            ::close(fd);
            return st;
        }
        host_listeners_.push_back({fd, m});
    }
    if (!cfg_.connect_out) {  // else the hook checks the rules
        auto addrs = resolve_egress(cfg_.egress);
        if (!addrs) return addrs.status();
        egress_addrs_ = std::move(*addrs);
    }
    start_dns();
    return Status::ok();
}

uint64_t StreamHost::rx_free() const {
    auto ring = mem_.read_obj<ember_ring>(EMBER_GPA_NET_RX);
    if (!ring || ring->head - ring->tail > kRxCap) return 0;  // the guest broke the ring
    return kRxCap - (ring->head - ring->tail);
}

uint64_t StreamHost::rx_record_room() const {
    auto ring = mem_.read_obj<ember_ring>(EMBER_GPA_NET_RX);
    if (!ring || ring->head - ring->tail > kRxCap) return 0;
    const uint64_t free_bytes = kRxCap - (ring->head - ring->tail);
    const uint64_t contiguous = kRxCap - ring->head % kRxCap;
    // A record does not wrap: it fits before the end of the data area, or
    // after a PAD that uses up the rest.
    if (contiguous >= free_bytes) return free_bytes;
    return std::max(contiguous, free_bytes - contiguous);
}

bool StreamHost::rx_pending() const {
    auto ring = mem_.read_obj<ember_ring>(EMBER_GPA_NET_RX);
    return ring && ring->head != ring->tail;
}

bool StreamHost::push(uint16_t type, uint32_t stream, uint32_t arg, const void* payload,
                      uint32_t len) {
    if (backlog_.empty() && pending_credit_.empty() && push_now(type, stream, arg, payload, len))
        return true;
    if (type == EMBER_NET_DATA) return false;
    if (type == EMBER_NET_WINDOW) {
        pending_credit_[stream] += arg;
        return true;
    }
    if (backlog_.size() >= kMaxBacklog || len > sizeof(Pending::payload)) {
        // Not reached (see kMaxBacklog); the record is dropped rather than
        // the host's memory growing.
        ++stats_.bad_records;
        return false;
    }
    Pending p{type, stream, arg, len, {}};
    if (len) std::memcpy(p.payload, payload, len);
    backlog_.push_back(p);
    return true;
}

void StreamHost::flush_backlog() {
    for (auto it = pending_credit_.begin(); it != pending_credit_.end();) {
        const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(it->second, UINT32_MAX));
        if (!push_now(EMBER_NET_WINDOW, it->first, n, nullptr, 0)) return;
        it->second -= n;
        it = it->second ? it : pending_credit_.erase(it);
    }
    size_t i = 0;
    for (; i < backlog_.size(); ++i) {
        const Pending& p = backlog_[i];
        if (!push_now(p.type, p.stream, p.arg, p.payload, p.len)) break;
    }
    backlog_.erase(backlog_.begin(), backlog_.begin() + static_cast<long>(i));
}

bool StreamHost::push_now(uint16_t type, uint32_t stream, uint32_t arg, const void* payload,
                          uint32_t len) {
    auto ring = mem_.read_obj<ember_ring>(EMBER_GPA_NET_RX);
    if (!ring || ring->head - ring->tail > kRxCap) return false;
    const uint64_t head = ring->head;
    const uint64_t need = ring::net_record_size(len);
    ring::NetSlot slot;
    if (!ring::place_net_record(head, kRxCap - (head - ring->tail), kRxCap, need, &slot))
        return false;
    uint8_t* data = mem_.host_base() + EMBER_GPA_NET_RX + EMBER_RING_DATA;
    if (slot.skip) {
        const ember_net_rec pad = ring::net_pad_record(slot.skip);
        std::memcpy(data + head % kRxCap, &pad, kHdr);
    }
    ember_net_rec rec{type, 0, stream, len, arg};
    std::memcpy(data + slot.off, &rec, kHdr);
    if (len) std::memcpy(data + slot.off + kHdr, payload, len);
    mem_.write_obj(EMBER_GPA_NET_RX + offsetof(ember_ring, head), head + slot.skip + need);
    return true;
}

void StreamHost::drain_tx() {
    auto ring = mem_.read_obj<ember_ring>(EMBER_GPA_NET_TX);
    if (!ring) return;
    uint64_t tail = ring->tail;
    const uint64_t head = ring->head;
    if (head == tail) return;
    if (!backlog_.empty() || !pending_credit_.empty()) flush_backlog();
    const uint8_t* data = mem_.host_base() + EMBER_GPA_NET_TX + EMBER_RING_DATA;
    std::vector<uint8_t> payload;
    bool bad = head - tail > kTxCap;
    // While the guest leaves kBacklogPause replies unread, the rest of its
    // requests stay in its tx ring.
    while (!bad && tail != head && backlog_.size() < kBacklogPause) {
        const uint64_t off = tail % kTxCap;
        if (kTxCap - off < kHdr || head - tail < kHdr) {
            bad = true;
            break;
        }
        ember_net_rec r;
        std::memcpy(&r, data + off, kHdr);  // copied out, then validated
        const uint64_t size = ring::net_record_size(r.len);
        if (r.len > EMBER_NET_DATA_MAX || size > kTxCap - off || size > head - tail) {
            bad = true;
            break;
        }
        if (r.type != EMBER_NET_PAD) {
            payload.assign(data + off + kHdr, data + off + kHdr + r.len);
            r.len = static_cast<uint32_t>(payload.size());
            handle_tx_record(r, payload.data());
        }
        tail += size;
    }
    if (bad) {
        ++stats_.bad_records;
        log_("net tx ring holds a malformed record; the rest is dropped");
        tail = head;
    }
    mem_.write_obj(EMBER_GPA_NET_TX + offsetof(ember_ring, tail), tail);
}

void StreamHost::handle_tx_record(const ember_net_rec& r, const uint8_t* payload) {
    auto it = streams_.find(r.stream);
    switch (r.type) {
        case EMBER_NET_LISTEN:
            if (r.stream >= EMBER_NET_HOST_ID || r.arg == 0 || r.arg > 65535) break;
            if (!listeners_.count(r.stream) && listeners_.size() >= kMaxListeners) break;
            listeners_[r.stream] = static_cast<uint16_t>(r.arg);
            return;
        case EMBER_NET_UNLISTEN:
            listeners_.erase(r.stream);
            return;
        case EMBER_NET_CONNECT:
            on_connect(r.stream, payload, r.len);
            return;
        case EMBER_NET_DATA:
            if (it == streams_.end() || it->second.closed) return;  // raced with a reset
            if (it->second.guest_shut ||
                it->second.out.size() + r.len > EMBER_NET_WINDOW_INIT + EMBER_NET_DATA_MAX) {
                // The guest sent beyond its credit or after shutting down.
                reset_stream(r.stream, it->second, ECONNRESET);
                break;
            }
            append_out(it->second, payload, r.len);
            stats_.bytes_out += r.len;
            flush_out(r.stream, it->second);
            return;
        case EMBER_NET_WINDOW:
            if (it == streams_.end()) return;
            if (uint64_t{it->second.to_guest_credit} + r.arg > 4ull * EMBER_NET_WINDOW_INIT) break;
            it->second.to_guest_credit += r.arg;
            return;
        case EMBER_NET_SHUTDOWN:
            if (it == streams_.end()) return;
            it->second.guest_shut = true;
            if (it->second.out.empty() && it->second.fd >= 0) ::shutdown(it->second.fd, SHUT_WR);
            return;
        case EMBER_NET_CLOSE:
            close_stream(r.stream);
            return;
        case EMBER_NET_DGRAM:
            on_dgram(r.stream, payload, r.len);
            return;
        case EMBER_NET_DGRAM_CLOSE:
            close_dgram(r.stream);
            return;
        default:
            break;
    }
    ++stats_.bad_records;
}

bool StreamHost::egress_allowed(const sockaddr_storage& ss) const {
    return egress_allows(egress_addrs_, ss);
}

Result<std::vector<sockaddr_storage>> resolve_egress(const std::vector<EgressRule>& rules) {
    std::vector<sockaddr_storage> out;
    for (const EgressRule& r : rules) {
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        const std::string port = std::to_string(r.port);
        const int rc = getaddrinfo(r.host.c_str(), port.c_str(), &hints, &res);
        if (rc == EAI_AGAIN || rc == EAI_FAIL || rc == EAI_SYSTEM)
            return Status::unavailable("--allow-egress: cannot resolve " + r.host + ": " +
                                       gai_strerror(rc));
        if (rc != 0 || !res)
            return Status::invalid_argument("--allow-egress: cannot resolve " + r.host);
        for (addrinfo* ai = res; ai; ai = ai->ai_next) {
            sockaddr_storage ss{};
            std::memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
            out.push_back(ss);
        }
        freeaddrinfo(res);
    }
    return out;
}

bool egress_allows(const std::vector<sockaddr_storage>& allowed, const sockaddr_storage& ss) {
    for (const auto& a : allowed)
        if (same_endpoint(a, ss)) return true;
    return false;
}

// A connect that gets no stream (over the cap, denied, failed at once) is
// answered and leaves nothing behind: the guest's CLOSE for it finds no entry.
void StreamHost::on_connect(uint32_t id, const uint8_t* payload, uint32_t len) {
    if (id >= EMBER_NET_HOST_ID || streams_.count(id) || len != sizeof(ember_net_addr)) {
        ++stats_.bad_records;
        return;
    }
    ember_net_addr a;
    std::memcpy(&a, payload, sizeof a);
    sockaddr_storage ss;
    socklen_t sl;
    if (streams_.size() >= EMBER_NET_MAX_STREAMS) {
        push(EMBER_NET_CONNECTED, id, ENOBUFS, nullptr, 0);
        return;
    }
    if (!from_net_addr(a, &ss, &sl)) {
        push(EMBER_NET_CONNECTED, id, EAFNOSUPPORT, nullptr, 0);
        return;
    }
    if (cfg_.connect_out) {
        connect_through_hook(id, ss, sl);
        return;
    }
    if (!egress_allowed(ss)) {
        ++stats_.denied;
        push(EMBER_NET_CONNECTED, id, ECONNREFUSED, nullptr, 0);
        return;
    }
    ++stats_.connects;
    const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        push(EMBER_NET_CONNECTED, id, ENOBUFS, nullptr, 0);
        return;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), sl) == 0) {
        streams_[id].fd = fd;
        push(EMBER_NET_CONNECTED, id, 0, nullptr, 0);
    } else if (errno == EINPROGRESS) {
        Stream& s = streams_[id];
        s.fd = fd;
        s.connecting = true;
    } else {
        const int err = errno;
        ::close(fd);
        push(EMBER_NET_CONNECTED, id, static_cast<uint32_t>(err), nullptr, 0);
    }
}

// The socket comes from NetConfig::connect_out, connected or still
// connecting: the stream waits for POLLOUT either way (finish_connect reads
// SO_ERROR), so both cases take the same path.
void StreamHost::connect_through_hook(uint32_t id, const sockaddr_storage& ss, socklen_t sl) {
    const int fd = cfg_.connect_out(SOCK_STREAM, ss, sl);
    if (fd < 0) {
        if (fd == -ECONNREFUSED) ++stats_.denied;
        push(EMBER_NET_CONNECTED, id, static_cast<uint32_t>(-fd), nullptr, 0);
        return;
    }
    ++stats_.connects;
    Stream& s = streams_[id];
    s.fd = fd;
    s.connecting = true;
}

void StreamHost::append_out(Stream& s, const uint8_t* data, uint32_t len) {
    const size_t need = s.out.size() + len;
    if (need > s.out.capacity())
        s.out.reserve(std::min(std::max(need, 2 * s.out.capacity()), kMaxOut));
    s.out.append(reinterpret_cast<const char*>(data), len);
}

void StreamHost::flush_out(uint32_t id, Stream& s) {
    if (s.fd < 0 || s.connecting) return;
    size_t written = 0;
    while (written < s.out.size()) {
        const ssize_t n =
            ::send(s.fd, s.out.data() + written, s.out.size() - written, MSG_NOSIGNAL);
        if (n > 0) {
            written += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        s.out.erase(0, written);
        if (written) push(EMBER_NET_WINDOW, id, static_cast<uint32_t>(written), nullptr, 0);
        reset_stream(id, s, EPIPE);
        return;
    }
    if (written) {
        s.out.erase(0, written);
        if (s.out.empty()) std::string().swap(s.out);  // idle streams hold no buffer
        push(EMBER_NET_WINDOW, id, static_cast<uint32_t>(written), nullptr, 0);
    }
    if (s.out.empty() && s.guest_shut) ::shutdown(s.fd, SHUT_WR);
}

void StreamHost::reset_stream(uint32_t id, Stream& s, int err) {
    if (s.fd >= 0) ::close(s.fd);
    s.fd = -1;
    s.closed = true;
    std::string().swap(s.out);
    push(EMBER_NET_CLOSE, id, static_cast<uint32_t>(err), nullptr, 0);
}

// The guest closed its socket: what the host still had for it goes too,
// so closed streams hold nothing.
void StreamHost::close_stream(uint32_t id) {
    pending_credit_.erase(id);
    std::erase_if(backlog_, [id](const Pending& p) { return p.stream == id; });
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    if (it->second.fd >= 0) ::close(it->second.fd);
    streams_.erase(it);
}

Status StreamHost::adopt(int fd, uint16_t guest_port) {
    uint32_t listener = 0;
    bool found = false;
    for (const auto& [id, port] : listeners_)
        if (port == guest_port) listener = id, found = true;
    if (!found) {
        ::close(fd);
        return Status::not_found("no guest listener on port " + std::to_string(guest_port));
    }
    if (streams_.size() >= EMBER_NET_MAX_STREAMS) {
        ::close(fd);
        return Status::resource_exhausted("the instance has " +
                                          std::to_string(EMBER_NET_MAX_STREAMS) + " streams open");
    }
    sockaddr_storage peer{};
    socklen_t pl = sizeof peer;
    getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl);
    ember_net_addr a;
    to_net_addr(peer, &a);
    uint32_t id;
    do id = next_host_id_++ | EMBER_NET_HOST_ID;  // skips ids still open after a wrap
    while (streams_.count(id));
    push(EMBER_NET_ACCEPT, id, listener, &a, sizeof a);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    streams_[id].fd = fd;
    ++stats_.accepted;
    return Status::ok();
}

void StreamHost::deliver_host_events() { wait(1, -1); }

namespace {

// Whose a poll entry is, besides host listener i (-1 - i) and streams (their id).
constexpr int64_t kWhoExtraFd = INT64_MIN;  // the caller's extra_fd
constexpr int64_t kWhoWakeFd = INT64_MIN + 1;

int poll_timeout_ms(int64_t deadline_ns) {
    if (!deadline_ns) return -1;
    const int64_t left = deadline_ns - mono_ns();
    return left <= 0 ? 0 : static_cast<int>((left + 999999) / 1000000);
}

}  // namespace

struct StreamHost::PollSet {
    std::vector<pollfd> fds;
    std::vector<int64_t> who;
    void add(int fd, short events, int64_t whose) {
        fds.push_back({fd, events, 0});
        who.push_back(whose);
    }
};

bool StreamHost::wait(int64_t deadline_ns, int extra_fd) {
    for (;;) {
        take_posted();
        flush_backlog();
        PollSet set;
        build_poll_set(&set, extra_fd);
        int timeout_ms = poll_timeout_ms(deadline_ns);
        if (rx_pending()) timeout_ms = 0;  // the guest has work already: just collect
        const int n = ::poll(set.fds.data(), set.fds.size(), timeout_ms);
        if (n < 0) return false;  // signal (timeout watchdog): the caller checks
        bool happened = false;
        for (size_t i = 0; i < set.fds.size(); ++i)
            if (set.fds[i].revents) happened |= on_ready(set.who[i], set.fds[i].revents);
        if (happened || rx_pending()) return true;
        if (deadline_ns && mono_ns() >= deadline_ns) return false;
        if (n == 0 && timeout_ms == 0) return false;
    }
}

// Host listeners the guest listens behind (while it may take more
// streams), streams with something to send or room to receive, the
// caller's fd and the wake eventfd.
void StreamHost::build_poll_set(PollSet* set, int extra_fd) const {
    for (size_t i = 0; i < host_listeners_.size(); ++i) {
        bool wanted = false;
        for (const auto& [id, port] : listeners_)
            wanted |= port == host_listeners_[i].map.guest_port;
        if (!wanted || streams_.size() >= EMBER_NET_MAX_STREAMS) continue;
        set->add(host_listeners_[i].fd, POLLIN, -1 - static_cast<int64_t>(i));
    }
    for (const auto& [id, s] : streams_) {
        if (s.fd < 0) continue;
        short ev = 0;
        if (s.connecting || !s.out.empty()) ev |= POLLOUT;
        if (!s.connecting && !s.peer_eof && s.to_guest_credit > 0) ev |= POLLIN;
        if (ev) set->add(s.fd, ev, id);
    }
    add_dgram_polls(set);
    if (extra_fd >= 0) set->add(extra_fd, POLLIN, kWhoExtraFd);
    if (wake_fd_ >= 0) set->add(wake_fd_, POLLIN, kWhoWakeFd);
}

// Host UDP sockets, while the rx ring has room for the largest datagram
// (else their replies wait in the host socket's bounded buffer).
void StreamHost::add_dgram_polls(PollSet* set) const {
    if ((dgrams_.empty() && hook_dgrams_.empty()) ||
        rx_record_room() < 2 * kHdr + EMBER_NET_DATA_MAX)
        return;
    for (const auto& [id, d] : dgrams_) {
        if (d.fd4 >= 0) set->add(d.fd4, POLLIN, kWhoDgram + 2 * int64_t{id});
        if (d.fd6 >= 0) set->add(d.fd6, POLLIN, kWhoDgram + 2 * int64_t{id} + 1);
    }
    for (const auto& [key, h] : hook_dgrams_) set->add(h.fd, POLLIN, kWhoHookDgram + key);
}

// One ready poll entry; true when something happened for the guest or the
// caller.
bool StreamHost::on_ready(int64_t who, short revents) {
    if (who == kWhoExtraFd) return true;
    if (who == kWhoWakeFd) {
        uint64_t v;
        (void)!::read(wake_fd_, &v, sizeof v);
        return true;  // posted work or a stop request: return to the caller
    }
    if (who < 0) return accept_clients(host_listeners_[static_cast<size_t>(-1 - who)]);
    if (who >= kWhoHookDgram) {
        auto it = hook_dgrams_.find(static_cast<uint32_t>(who - kWhoHookDgram));
        return it != hook_dgrams_.end() && receive_on(it->second.fd, it->second.id);
    }
    if (who >= kWhoDgram)
        return receive_dgrams(static_cast<uint32_t>((who - kWhoDgram) >> 1), (who - kWhoDgram) & 1);
    return on_stream_ready(static_cast<uint32_t>(who), revents);
}

// Accepts clients of a published port while the guest can take them.
bool StreamHost::accept_clients(HostListener& l) {
    bool happened = false;
    while (streams_.size() < EMBER_NET_MAX_STREAMS && rx_free() >= 128) {
        const int c = ::accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) break;
        const int one = 1;
        setsockopt(c, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
        if (adopt(c, l.map.guest_port).is_ok()) happened = true;
    }
    return happened;
}

bool StreamHost::on_stream_ready(uint32_t id, short revents) {
    auto it = streams_.find(id);
    if (it == streams_.end() || it->second.fd < 0) return false;
    Stream& s = it->second;
    if (s.connecting && (revents & (POLLOUT | POLLERR | POLLHUP))) {
        finish_connect(id, s);
        return true;
    }
    bool happened = false;
    if ((revents & POLLOUT) && !s.out.empty()) {
        flush_out(id, s);
        happened = true;
    }
    if (s.fd >= 0 && (revents & (POLLIN | POLLHUP | POLLERR)) && !s.peer_eof)
        happened |= receive_from_peer(id, s);
    return happened;
}

// An outbound connect() finished: tell the guest how.
void StreamHost::finish_connect(uint32_t id, Stream& s) {
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &el);
    s.connecting = false;
    push(EMBER_NET_CONNECTED, id, static_cast<uint32_t>(err), nullptr, 0);
    if (err) {
        ::close(s.fd);
        s.fd = -1;
        s.closed = true;
    }
}

// Moves the peer's data into the rx ring as DATA records, within the
// stream's credit and the ring's room; EOF and errors become SHUTDOWN and
// CLOSE records.
bool StreamHost::receive_from_peer(uint32_t id, Stream& s) {
    uint8_t buf[EMBER_NET_DATA_MAX];
    bool happened = false;
    for (;;) {
        // A DATA push must not fail: recv'd bytes are gone.
        const uint64_t room = rx_record_room();
        if (!backlog_.empty() || !pending_credit_.empty() || room < kHdr * 3) break;
        size_t want = std::min<uint64_t>({sizeof buf, s.to_guest_credit, room - kHdr * 3});
        if (want == 0) break;
        const ssize_t r = ::recv(s.fd, buf, want, 0);
        if (r > 0) {
            push(EMBER_NET_DATA, id, 0, buf, static_cast<uint32_t>(r));
            s.to_guest_credit -= static_cast<uint32_t>(r);
            stats_.bytes_in += static_cast<uint64_t>(r);
            happened = true;
            if (static_cast<size_t>(r) < want) break;
            continue;
        }
        if (r == 0) {
            s.peer_eof = true;
            push(EMBER_NET_SHUTDOWN, id, 0, nullptr, 0);
            happened = true;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            reset_stream(id, s, ECONNRESET);
            happened = true;
        }
        break;
    }
    return happened;
}

}  // namespace ember
