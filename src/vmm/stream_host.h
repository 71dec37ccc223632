// stream_host.h - streams carried by the host: the VMM side of the guest's sockets.
//
// There is no network device and no TCP/IP stack in the guest. Its sockets
// become streams that this class carries over two rings in guest memory
// (records defined in src/abi/ember_abi.h):
//   - inbound: a host listener published with -p accepts the client's TCP
//     connection and hands the stream to the guest listener on the mapped
//     guest port (EMBER_NET_ACCEPT);
//   - outbound: the guest's connect() becomes EMBER_NET_CONNECT, carried to
//     the real destination only when an egress rule allows it;
//   - data moves as EMBER_NET_DATA records under per-stream credit;
//   - UDP: a guest UDP socket that sends outside the instance gets a host
//     UDP socket here (EMBER_NET_DGRAM records, one per datagram), for
//     destinations an egress rule allows; datagrams to EMBER_NET_DNS_ADDR:53
//     are answered by the DnsServer (stream_host_dgram.cpp).
// Everything runs on the vCPU thread: the tx ring is drained at every exit,
// and host events are collected while the guest waits.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "abi/ember_abi.h"
#include "common/result.h"
#include "vmm/dns_server.h"
#include "vmm/guest_memory.h"

namespace ember {

struct PortMapping {
    std::string host_addr = "127.0.0.1";
    uint16_t host_port = 0;
    uint16_t guest_port = 0;
};
// Parses "HOSTPORT:GUESTPORT" or "ADDR:HOSTPORT:GUESTPORT" (ADDR may be
// "[v6]").
Result<PortMapping> parse_port_mapping(const std::string& spec);

struct EgressRule {
    std::string host;  // a name or address; resolved when the VM starts
    uint16_t port = 0;
};
Result<EgressRule> parse_egress_rule(const std::string& spec);  // "HOST:PORT"
// The addresses the rules allow (names resolved now); unavailable when a
// name cannot be resolved at the moment, invalid_argument when it never can.
Result<std::vector<sockaddr_storage>> resolve_egress(const std::vector<EgressRule>& rules);
// ember_net_addr <-> sockaddr; from_net_addr is false for an unknown family.
void to_net_addr(const sockaddr_storage& ss, ember_net_addr* a);
bool from_net_addr(const ember_net_addr& a, sockaddr_storage* ss, socklen_t* len);
// True when ss (address and port) is one of `allowed`.
bool egress_allows(const std::vector<sockaddr_storage>& allowed, const sockaddr_storage& ss);

// True when a and b are the same address and port.
bool same_endpoint(const sockaddr_storage& a, const sockaddr_storage& b);

// Makes an outbound socket for the guest, or -errno (-ECONNREFUSED when no
// rule allows the destination): type SOCK_STREAM, a connected or connecting
// (non-blocking) TCP socket; SOCK_DGRAM, a non-blocking UDP socket
// connected to addr. Runs on the vCPU thread.
using ConnectFn = std::function<int(int type, const sockaddr_storage& addr, socklen_t len)>;

struct NetConfig {
    std::vector<PortMapping> ports;
    std::vector<EgressRule> egress;
    // When set, outbound connects and UDP sockets come from it instead of
    // socket() and connect() here, and it alone decides what egress allows
    // (the rules above are then not resolved here): a VMM process without
    // network access asks a process that has it.
    ConnectFn connect_out;
    // With connect_out: the names the guest's resolver answers and their
    // addresses, resolved by the process that checks egress (emberd) from
    // the same rules (DnsServer::resolve); null: no resolver (queries are
    // refused). Without connect_out the rules above are resolved here.
    std::shared_ptr<const DnsServer::Table> dns;
};

struct NetStats {
    uint64_t accepted = 0, connects = 0, denied = 0, bytes_in = 0, bytes_out = 0, bad_records = 0;
    // UDP: host sockets open now and at most; datagrams each way, and those
    // dropped (no room in the rx ring, the host socket's buffer full, or
    // larger than EMBER_NET_DGRAM_MAX); DNS queries answered or not.
    uint64_t udp_sockets = 0, udp_sockets_max = 0, dgrams_out = 0, dgrams_in = 0,
             dgrams_dropped = 0, dns_queries = 0;
};

class StreamHost {
  public:
    StreamHost(GuestMemory& mem, const NetConfig& cfg, std::function<void(const std::string&)> log);
    ~StreamHost();
    StreamHost(const StreamHost&) = delete;
    StreamHost& operator=(const StreamHost&) = delete;

    // Binds the host listeners of the port mappings and resolves the egress
    // rules. A port already in use is an error here, before the guest runs.
    Status start();
    // Processes the records the guest queued in the tx ring.
    void drain_tx();
    // Moves whatever the host has now (new connections, data, EOF, connect
    // results) into the rx ring, as far as it has room. Never blocks.
    void deliver_host_events();
    // True when the rx ring holds records the guest has not consumed.
    bool rx_pending() const;
    // Waits for host events until deadline_ns (host CLOCK_MONOTONIC, 0 =
    // none), also waking when extra_fd (if >= 0) is readable. Returns after
    // delivering them: true if something happened, false on timeout or signal.
    bool wait(int64_t deadline_ns, int extra_fd);
    // Hands an already-accepted client connection to the guest listener on
    // guest_port (used by the platform gateway). Takes ownership of fd.
    // vCPU thread only.
    Status adopt(int fd, uint16_t guest_port);
    // Thread-safe: queues fd for adopt() on the vCPU thread and wakes a
    // waiting guest. Takes ownership of fd (closed if no listener matches).
    void post(int fd, uint16_t guest_port);
    // Thread-safe: wakes the vCPU thread if it is waiting.
    void wake();
    // Every stream whose host peer has not finished gets end-of-file, as if
    // the peer had closed its side (a suspended instance keeps no streams).
    // vCPU thread only.
    void end_streams();
    // Adopts everything posted so far (vCPU thread).
    void take_posted();

    // The guest's listeners (guest port -> listener id), for snapshots.
    const std::map<uint32_t, uint16_t>& guest_listeners() const { return listeners_; }
    void set_guest_listeners(const std::map<uint32_t, uint16_t>& l) { listeners_ = l; }
    size_t open_streams() const { return streams_.size(); }
    const NetStats& stats() const { return stats_; }
    // Host UDP sockets (at most 2 * EMBER_NET_MAX_DGRAM: one per family;
    // through connect_out, at most EMBER_NET_MAX_DGRAM in all).
    size_t open_dgram_fds() const;

  private:
    struct Stream {
        int fd = -1;
        bool connecting = false;  // outbound connect in progress
        bool peer_eof = false;    // the host peer finished sending
        bool eof_sent = false;    // SHUTDOWN record pushed to the guest
        bool guest_shut = false;  // the guest finished sending
        bool closed = false;      // reset pushed to the guest; waiting for its CLOSE
        uint32_t to_guest_credit = EMBER_NET_WINDOW_INIT;
        std::string out;  // guest data not yet written to the peer
    };
    struct HostListener {
        int fd = -1;
        PortMapping map;
    };

    // Queues a record for the guest. Control records that do not fit in the
    // rx ring now wait in backlog_ (bounded: a few per stream, see
    // kMaxBacklog); DATA is only pushed when there is room, so it returns
    // false instead.
    bool push(uint16_t type, uint32_t stream, uint32_t arg, const void* payload, uint32_t len);
    bool push_now(uint16_t type, uint32_t stream, uint32_t arg, const void* payload, uint32_t len);
    void flush_backlog();
    uint64_t rx_free() const;
    uint64_t rx_record_room() const;  // bytes the largest record pushed now may take
    void handle_tx_record(const ember_net_rec& r, const uint8_t* payload);
    void on_connect(uint32_t id, const uint8_t* payload, uint32_t len);
    void connect_through_hook(uint32_t id, const sockaddr_storage& ss, socklen_t sl);
    void append_out(Stream& s, const uint8_t* data, uint32_t len);
    void flush_out(uint32_t id, Stream& s);
    void reset_stream(uint32_t id, Stream& s, int err);
    void close_stream(uint32_t id);
    bool egress_allowed(const sockaddr_storage& ss) const;
    // The steps of wait().
    struct PollSet;
    void build_poll_set(PollSet* set, int extra_fd) const;
    bool on_ready(int64_t who, short revents);
    bool accept_clients(HostListener& l);
    bool on_stream_ready(uint32_t id, short revents);
    void finish_connect(uint32_t id, Stream& s);
    bool receive_from_peer(uint32_t id, Stream& s);
    // UDP (stream_host_dgram.cpp). A guest datagram socket: a host socket
    // per address family, made at its first datagram of that family.
    struct Dgram {
        int fd4 = -1, fd6 = -1;
    };
    void start_dns();
    void on_dgram(uint32_t id, const uint8_t* payload, uint32_t len);
    void answer_dns(uint32_t id, const uint8_t* query, uint32_t len);
    void dgram_error(uint32_t id, const ember_net_addr& dest, int err);
    int dgram_fd(uint32_t id, int family);
    void close_dgram(uint32_t id);
    void close_dgrams();
    void add_dgram_polls(PollSet* set) const;
    bool receive_dgrams(uint32_t id, bool v6);
    bool receive_on(int fd, uint32_t id);
    void sent(ssize_t r, uint32_t id, const ember_net_addr& dest, uint32_t n);
    // Through connect_out (emberd): a connected host socket per (guest
    // socket, destination), made at the first datagram to it.
    struct HookDgram {
        uint32_t id;
        sockaddr_storage dest;
        int fd;
    };
    int hook_dgram_fd(uint32_t id, const sockaddr_storage& ss, socklen_t sl);

    // Poll entries of host UDP sockets: kWhoDgram + 2 * id + (1 for IPv6);
    // kWhoHookDgram + the HookDgram's key.
    static constexpr int64_t kWhoDgram = int64_t{1} << 33;
    static constexpr int64_t kWhoHookDgram = int64_t{1} << 35;
    std::map<uint32_t, Dgram> dgrams_;
    std::map<uint32_t, HookDgram> hook_dgrams_;
    uint32_t next_hook_dgram_ = 0;
    // Destinations connect_out refused (at most kMaxDenied, oldest dropped
    // first): a guest sending to them again is refused without asking.
    std::vector<sockaddr_storage> denied_dgram_;
    std::unique_ptr<DnsServer> dns_;  // null: no egress rules (queries are refused)

    GuestMemory& mem_;
    NetConfig cfg_;
    std::function<void(const std::string&)> log_;
    std::vector<HostListener> host_listeners_;
    std::map<uint32_t, uint16_t> listeners_;  // guest listener id -> guest port
    std::map<uint32_t, Stream> streams_;
    std::vector<sockaddr_storage> egress_addrs_;
    uint32_t next_host_id_ = EMBER_NET_HOST_ID;
    // A control record for the rx ring; only ACCEPT carries a payload.
    struct Pending {
        uint16_t type;
        uint32_t stream, arg, len;
        uint8_t payload[sizeof(ember_net_addr)];
    };
    std::vector<Pending> backlog_;  // at most kMaxBacklog (stream_host.cpp)
    // Credit for the guest that did not fit in the rx ring, per stream:
    // coalesced so a guest that stops reading cannot grow the backlog.
    std::map<uint32_t, uint64_t> pending_credit_;
    std::mutex post_mu_;
    std::vector<std::pair<int, uint16_t>> posted_;
    int wake_fd_ = -1;  // eventfd
    NetStats stats_;
};

}  // namespace ember
