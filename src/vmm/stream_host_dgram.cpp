// stream_host_dgram.cpp - UDP through the host, and the guest's DNS
// resolver (see stream_host.h and "datagrams" in src/abi/ember_abi.h).
//
// Bounds per instance, whatever the guest does: at most EMBER_NET_MAX_DGRAM
// guest datagram sockets have host sockets (one per address family each;
// through emberd's connect hook, EMBER_NET_MAX_DGRAM connected host sockets
// in all, one per guest socket and destination);
// a guest datagram is sent at once or dropped (the host keeps no queue
// toward the network); a reply is read from the host socket only when the
// rx ring has room for it, so what waits is in the host socket's receive
// buffer, capped at kDgramRcvBuf; DNS is answered from a table, at a
// bounded rate (dns_server.h).
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/clock.h"
#include "common/ring.h"
#include "vmm/stream_host.h"

namespace ember {
namespace {

constexpr int kDgramRcvBuf = 64 * 1024;  // the kernel doubles it: 128 KiB per host socket
constexpr int kMaxReadsPerWake = 64;     // replies moved per socket per wake-up
constexpr size_t kMaxDenied = 64;        // refused destinations remembered (hook)

bool is_dns_addr(const ember_net_addr& a) {
    const uint32_t be = htonl(EMBER_NET_DNS_ADDR);
    return a.family == EMBER_NET_AF_INET && a.port == EMBER_NET_DNS_PORT &&
           std::memcmp(a.addr, &be, 4) == 0;
}

}  // namespace

void StreamHost::start_dns() {
    // Without egress rules no name is allowed: queries are refused at the
    // socket level, and ldns is not loaded. With emberd's connect hook the
    // table comes resolved (this process may have no resolver of its own).
    if (cfg_.connect_out && !cfg_.dns) return;
    if (!cfg_.connect_out && cfg_.egress.empty()) return;
    auto dns = cfg_.connect_out ? DnsServer::with_table(*cfg_.dns) : DnsServer::create(cfg_.egress);
    if (!dns) {
        log_("guest DNS is off: " + dns.message());
        return;
    }
    dns_ = std::move(*dns);
}

size_t StreamHost::open_dgram_fds() const {
    size_t n = 0;
    for (const auto& [id, d] : dgrams_) n += (d.fd4 >= 0) + (d.fd6 >= 0);
    return n + hook_dgrams_.size();
}

void StreamHost::dgram_error(uint32_t id, const ember_net_addr& dest, int err) {
    push(EMBER_NET_DGRAM_ERROR, id, static_cast<uint32_t>(err), &dest, sizeof dest);
}

void StreamHost::on_dgram(uint32_t id, const uint8_t* payload, uint32_t len) {
    if (id == 0 || id >= EMBER_NET_HOST_ID || len < sizeof(ember_net_addr)) {
        ++stats_.bad_records;
        return;
    }
    ember_net_addr dest;
    std::memcpy(&dest, payload, sizeof dest);
    const uint8_t* data = payload + sizeof dest;
    const uint32_t n = len - static_cast<uint32_t>(sizeof dest);
    if (is_dns_addr(dest)) {
        if (!dns_) return dgram_error(id, dest, ECONNREFUSED);
        return answer_dns(id, data, n);
    }
    sockaddr_storage ss;
    socklen_t sl;
    if (!from_net_addr(dest, &ss, &sl)) return dgram_error(id, dest, EAFNOSUPPORT);
    if (cfg_.connect_out) {
        // emberd's VMM has no network of its own: the hook checks egress
        // and hands over a socket connected to this destination.
        const int fd = hook_dgram_fd(id, ss, sl);
        if (fd < 0) return dgram_error(id, dest, -fd);
        return sent(::send(fd, data, n, MSG_DONTWAIT | MSG_NOSIGNAL), id, dest, n);
    }
    if (!egress_allowed(ss)) {
        ++stats_.denied;
        return dgram_error(id, dest, ECONNREFUSED);
    }
    const int fd = dgram_fd(id, ss.ss_family);
    if (fd < 0) return dgram_error(id, dest, -fd);
    sent(::sendto(fd, data, n, MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&ss), sl),
         id, dest, n);
}

// The outcome r of sending a guest datagram of n bytes to dest.
void StreamHost::sent(ssize_t r, uint32_t id, const ember_net_addr& dest, uint32_t n) {
    if (r >= 0) {
        ++stats_.dgrams_out;
        stats_.bytes_out += n;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
        ++stats_.dgrams_dropped;  // the host's send buffer is full: lost, as UDP
    } else {
        dgram_error(id, dest, errno);  // EMSGSIZE, ENETUNREACH, ...
    }
}

// The guest socket's connected host socket to ss, asked of the hook now if
// needed; -errno. The hook's refusals are remembered (bounded), so a guest
// sending to a denied destination again does not wait for emberd again.
int StreamHost::hook_dgram_fd(uint32_t id, const sockaddr_storage& ss, socklen_t sl) {
    for (const auto& [key, h] : hook_dgrams_)
        if (h.id == id && same_endpoint(h.dest, ss)) return h.fd;
    for (const auto& d : denied_dgram_)
        if (same_endpoint(d, ss)) {
            ++stats_.denied;
            return -ECONNREFUSED;
        }
    if (hook_dgrams_.size() >= EMBER_NET_MAX_DGRAM) return -ENOBUFS;
    const int fd = cfg_.connect_out(SOCK_DGRAM, ss, sl);
    if (fd < 0) {
        if (fd == -ECONNREFUSED) {
            ++stats_.denied;
            if (denied_dgram_.size() >= kMaxDenied) denied_dgram_.erase(denied_dgram_.begin());
            denied_dgram_.push_back(ss);
        }
        return fd;
    }
    hook_dgrams_[next_hook_dgram_++] = HookDgram{id, ss, fd};
    stats_.udp_sockets = open_dgram_fds();
    stats_.udp_sockets_max = std::max(stats_.udp_sockets_max, stats_.udp_sockets);
    return fd;
}

// The guest socket's host socket of `family`, made now if needed; -errno.
int StreamHost::dgram_fd(uint32_t id, int family) {
    auto it = dgrams_.find(id);
    if (it == dgrams_.end()) {
        if (dgrams_.size() >= EMBER_NET_MAX_DGRAM) return -ENOBUFS;
        it = dgrams_.emplace(id, Dgram{}).first;
    }
    int& fd = family == AF_INET6 ? it->second.fd6 : it->second.fd4;
    if (fd >= 0) return fd;
    fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        const int err = errno;
        if (it->second.fd4 < 0 && it->second.fd6 < 0) dgrams_.erase(it);
        return -(err == EAFNOSUPPORT ? EAFNOSUPPORT : ENOBUFS);
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kDgramRcvBuf, sizeof kDgramRcvBuf);
    stats_.udp_sockets = open_dgram_fds();
    stats_.udp_sockets_max = std::max(stats_.udp_sockets_max, stats_.udp_sockets);
    return fd;
}

void StreamHost::answer_dns(uint32_t id, const uint8_t* query, uint32_t len) {
    ++stats_.dns_queries;
    const std::vector<uint8_t> reply = dns_->answer(query, len, mono_ns());
    if (reply.empty() || reply.size() > EMBER_NET_DGRAM_MAX) return;
    std::vector<uint8_t> rec(sizeof(ember_net_addr) + reply.size());
    ember_net_addr from{};
    from.family = EMBER_NET_AF_INET;
    from.port = EMBER_NET_DNS_PORT;
    const uint32_t be = htonl(EMBER_NET_DNS_ADDR);
    std::memcpy(from.addr, &be, 4);
    std::memcpy(rec.data(), &from, sizeof from);
    std::memcpy(rec.data() + sizeof from, reply.data(), reply.size());
    if (!push_now(EMBER_NET_DGRAM, id, 0, rec.data(), static_cast<uint32_t>(rec.size())))
        ++stats_.dgrams_dropped;
}

void StreamHost::close_dgram(uint32_t id) {
    for (auto h = hook_dgrams_.begin(); h != hook_dgrams_.end();) {
        if (h->second.id != id) {
            ++h;
            continue;
        }
        ::close(h->second.fd);
        h = hook_dgrams_.erase(h);
    }
    if (auto it = dgrams_.find(id); it != dgrams_.end()) {
        if (it->second.fd4 >= 0) ::close(it->second.fd4);
        if (it->second.fd6 >= 0) ::close(it->second.fd6);
        dgrams_.erase(it);
    }
    stats_.udp_sockets = open_dgram_fds();
}

void StreamHost::close_dgrams() {
    for (auto& [key, h] : hook_dgrams_) ::close(h.fd);
    hook_dgrams_.clear();
    while (!dgrams_.empty()) close_dgram(dgrams_.begin()->first);
    stats_.udp_sockets = open_dgram_fds();
}

// Moves the replies waiting on one host socket into the rx ring, while it
// has room; each is one DGRAM record with its source address.
bool StreamHost::receive_dgrams(uint32_t id, bool v6) {
    auto it = dgrams_.find(id);
    if (it == dgrams_.end()) return false;
    const int fd = v6 ? it->second.fd6 : it->second.fd4;
    return fd >= 0 && receive_on(fd, id);
}

bool StreamHost::receive_on(int fd, uint32_t id) {
    uint8_t buf[EMBER_NET_DATA_MAX];
    bool happened = false;
    for (int i = 0; i < kMaxReadsPerWake; ++i) {
        if (rx_record_room() < 2 * ring::kNetHdr + EMBER_NET_DATA_MAX) break;
        sockaddr_storage from{};
        socklen_t fl = sizeof from;
        const ssize_t r =
            ::recvfrom(fd, buf + sizeof(ember_net_addr), EMBER_NET_DGRAM_MAX,
                       MSG_DONTWAIT | MSG_TRUNC, reinterpret_cast<sockaddr*>(&from), &fl);
        // EAGAIN; or a connected socket's ICMP error, which this read cleared.
        if (r < 0) break;
        if (r > static_cast<ssize_t>(EMBER_NET_DGRAM_MAX)) {
            ++stats_.dgrams_dropped;  // larger than a record can carry
            continue;
        }
        ember_net_addr a;
        to_net_addr(from, &a);
        std::memcpy(buf, &a, sizeof a);
        if (!push_now(EMBER_NET_DGRAM, id, 0, buf,
                      static_cast<uint32_t>(sizeof a + static_cast<size_t>(r)))) {
            ++stats_.dgrams_dropped;
            break;
        }
        ++stats_.dgrams_in;
        stats_.bytes_in += static_cast<uint64_t>(r);
        happened = true;
    }
    return happened;
}

}  // namespace ember
