// dns_server.h - the resolver the VMM answers for its guest at
// EMBER_NET_DNS_ADDR:53 (the guest's default /etc/resolv.conf names it).
//
// It answers only for the names the egress policy allows (--allow-egress
// HOST:PORT with HOST a name), with the addresses the host's resolver gave
// for them when the VM started: the same addresses the egress check then
// allows, so an answer is always an address the guest may reach. Every
// other name is NXDOMAIN. Nothing is resolved while the guest runs, so no
// query is ever in flight and the vCPU thread never waits for the network
// (the sandboxed VMM could not read the host's resolver configuration by
// then anyway).
//
// DNS packets are parsed and built with ldns (Debian's libldns3), loaded
// with dlopen when the first VM with egress rules starts: most runs never
// resolve a name, and linking it would load libssl and libcrypto into
// every ember-vm process.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace ember {

struct EgressRule;

struct DnsStats {
    uint64_t queries = 0, answered = 0, nxdomain = 0, malformed = 0, rate_dropped = 0;
};

class DnsServer {
  public:
    // Addresses per lower-case name without the final dot (IPv4: 4 bytes,
    // IPv6: 16 bytes).
    using Table = std::map<std::string, std::vector<std::vector<uint8_t>>>;

    // Loads ldns and resolves the names among `rules` with getaddrinfo
    // (call it before the sandbox: it reads /etc/hosts, /etc/resolv.conf).
    // A name that does not resolve stays allowed with no address.
    static Result<std::unique_ptr<DnsServer>> create(const std::vector<EgressRule>& rules);
    // The table create() answers from: the names among `rules` (not IP
    // literals) and their addresses now. emberd resolves it and passes it
    // to its VM workers, which cannot resolve anything themselves.
    static Table resolve(const std::vector<EgressRule>& rules);
    // Loads ldns now (a sandboxed process calls it before its sandbox:
    // dlopen finds nothing afterwards). Idempotent.
    static Status preload();
    // For tests: answers from `table` as given.
    static Result<std::unique_ptr<DnsServer>> with_table(Table table);

    // The reply to one query (UDP payload), or empty when it gets none:
    // not a parseable DNS query, a response, or over the rate limit.
    // now_ns: a monotonic clock, for the rate limit.
    std::vector<uint8_t> answer(const uint8_t* query, size_t len, int64_t now_ns);
    const DnsStats& stats() const { return stats_; }

    // At most kBurst queries at once, refilled at kRate per second; the rest
    // are dropped (the guest's resolver retries, as after a lost packet).
    static constexpr double kRate = 200;
    static constexpr double kBurst = 100;
    static constexpr uint32_t kTtl = 60;  // seconds, in every answer

  private:
    explicit DnsServer(Table t) : table_(std::move(t)) {}
    Table table_;
    DnsStats stats_;
    double tokens_ = kBurst;
    int64_t last_ns_ = 0;
};

}  // namespace ember
