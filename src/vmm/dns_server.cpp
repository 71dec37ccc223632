// dns_server.cpp - the guest's resolver (see dns_server.h).
#include "vmm/dns_server.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
// ldns/common.h defines `bool` as a macro unless stdbool.h came first.
#include <stdbool.h>
// clang-format off
#include <ldns/ldns.h>
// clang-format on

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "vmm/stream_host.h"

namespace ember {
namespace {

// clang-format off
#define EMBER_LDNS_FUNCTIONS(X) \
    X(ldns_wire2pkt) X(ldns_pkt2wire) X(ldns_pkt_new) X(ldns_pkt_free) \
    X(ldns_pkt_id) X(ldns_pkt_qr) X(ldns_pkt_get_opcode) X(ldns_pkt_rd) \
    X(ldns_pkt_qdcount) X(ldns_pkt_question) X(ldns_pkt_set_id) X(ldns_pkt_set_qr) \
    X(ldns_pkt_set_aa) X(ldns_pkt_set_rd) X(ldns_pkt_set_ra) X(ldns_pkt_set_opcode) \
    X(ldns_pkt_set_rcode) X(ldns_pkt_push_rr) X(ldns_rr_list_rr) X(ldns_rr_list_rr_count) \
    X(ldns_rr_owner) X(ldns_rr_get_type) X(ldns_rr_get_class) X(ldns_rr_clone) \
    X(ldns_rr_new) X(ldns_rr_set_owner) X(ldns_rr_set_type) X(ldns_rr_set_class) \
    X(ldns_rr_set_ttl) X(ldns_rr_push_rdf) X(ldns_rr_free) X(ldns_rdf_new_frm_data) \
    X(ldns_rdf_clone) X(ldns_rdf_deep_free) X(ldns_rdf2str)
// clang-format on

struct Ldns {
#define EMBER_LDNS_PTR(f) decltype(&::f) f = nullptr;
    EMBER_LDNS_FUNCTIONS(EMBER_LDNS_PTR)
#undef EMBER_LDNS_PTR
};

Ldns g_ldns;
Status g_ldns_status = Status::internal("ldns not loaded");
std::once_flag g_ldns_once;

Status load_ldns() {
    std::call_once(g_ldns_once, [] {
        void* h = dlopen("libldns.so.3", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            g_ldns_status = Status::unavailable(
                std::string("DNS for the guest needs libldns3 (apt-get install libldns3): ") +
                dlerror());
            return;
        }
#define EMBER_LDNS_SYM(f)                                                             \
    g_ldns.f = reinterpret_cast<decltype(g_ldns.f)>(dlsym(h, #f));                    \
    if (!g_ldns.f) {                                                                  \
        g_ldns_status = Status::unavailable("libldns.so.3 lacks " + std::string(#f)); \
        return;                                                                       \
    }
        EMBER_LDNS_FUNCTIONS(EMBER_LDNS_SYM)
#undef EMBER_LDNS_SYM
        g_ldns_status = Status::ok();
    });
    return g_ldns_status;
}

std::string lower_name(std::string s) {
    while (!s.empty() && s.back() == '.') s.pop_back();
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

bool is_ip_literal(const std::string& h) {
    in6_addr a6;
    in_addr a4;
    return inet_pton(AF_INET, h.c_str(), &a4) == 1 || inet_pton(AF_INET6, h.c_str(), &a6) == 1;
}

// An answer RR for the question q with one address.
ldns_rr* address_rr(const ldns_rr* q, ldns_rr_type type, const std::vector<uint8_t>& addr) {
    const Ldns& L = g_ldns;
    ldns_rr* rr = L.ldns_rr_new();
    if (!rr) return nullptr;
    L.ldns_rr_set_owner(rr, L.ldns_rdf_clone(L.ldns_rr_owner(q)));
    L.ldns_rr_set_type(rr, type);
    L.ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
    L.ldns_rr_set_ttl(rr, DnsServer::kTtl);
    ldns_rdf* rd = L.ldns_rdf_new_frm_data(
        type == LDNS_RR_TYPE_A ? LDNS_RDF_TYPE_A : LDNS_RDF_TYPE_AAAA, addr.size(), addr.data());
    if (!rd || !L.ldns_rr_push_rdf(rr, rd)) {
        if (rd) L.ldns_rdf_deep_free(rd);
        L.ldns_rr_free(rr);
        return nullptr;
    }
    return rr;
}

}  // namespace

Result<std::unique_ptr<DnsServer>> DnsServer::with_table(Table table) {
    if (auto st = load_ldns(); !st) return st;
    return std::unique_ptr<DnsServer>(new DnsServer(std::move(table)));
}

Status DnsServer::preload() { return load_ldns(); }

Result<std::unique_ptr<DnsServer>> DnsServer::create(const std::vector<EgressRule>& rules) {
    return with_table(resolve(rules));
}

DnsServer::Table DnsServer::resolve(const std::vector<EgressRule>& rules) {
    Table t;
    for (const EgressRule& r : rules) {
        if (is_ip_literal(r.host)) continue;
        auto& addrs = t[lower_name(r.host)];
        addrinfo hints{};
        hints.ai_socktype = SOCK_DGRAM;
        addrinfo* res = nullptr;
        if (getaddrinfo(r.host.c_str(), nullptr, &hints, &res) != 0) continue;
        for (addrinfo* ai = res; ai; ai = ai->ai_next) {
            std::vector<uint8_t> a;
            if (ai->ai_family == AF_INET) {
                const auto* in = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
                const auto* p = reinterpret_cast<const uint8_t*>(&in->sin_addr);
                a.assign(p, p + 4);
            } else if (ai->ai_family == AF_INET6) {
                const auto* in6 = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
                const auto* p = reinterpret_cast<const uint8_t*>(&in6->sin6_addr);
                a.assign(p, p + 16);
            }
            if (!a.empty() && std::find(addrs.begin(), addrs.end(), a) == addrs.end())
                addrs.push_back(a);
        }
        freeaddrinfo(res);
    }
    return t;
}

std::vector<uint8_t> DnsServer::answer(const uint8_t* query, size_t len, int64_t now_ns) {
    ++stats_.queries;
    if (last_ns_) tokens_ += static_cast<double>(now_ns - last_ns_) * 1e-9 * kRate;
    tokens_ = std::min(tokens_, kBurst);
    last_ns_ = now_ns;
    if (tokens_ < 1) {
        ++stats_.rate_dropped;
        return {};
    }
    tokens_ -= 1;
    const Ldns& L = g_ldns;
    ldns_pkt* q = nullptr;
    if (L.ldns_wire2pkt(&q, query, len) != LDNS_STATUS_OK || !q || L.ldns_pkt_qr(q)) {
        if (q) L.ldns_pkt_free(q);
        ++stats_.malformed;
        return {};
    }
    ldns_pkt* r = L.ldns_pkt_new();
    if (!r) {
        L.ldns_pkt_free(q);
        return {};
    }
    L.ldns_pkt_set_id(r, L.ldns_pkt_id(q));
    L.ldns_pkt_set_qr(r, true);
    L.ldns_pkt_set_rd(r, L.ldns_pkt_rd(q));
    L.ldns_pkt_set_ra(r, true);
    L.ldns_pkt_set_opcode(r, L.ldns_pkt_get_opcode(q));
    const ldns_rr_list* qs = L.ldns_pkt_question(q);
    const size_t nq = qs ? L.ldns_rr_list_rr_count(qs) : 0;
    if (L.ldns_pkt_get_opcode(q) != LDNS_PACKET_QUERY) {
        L.ldns_pkt_set_rcode(r, LDNS_RCODE_NOTIMPL);
    } else if (nq != 1) {
        L.ldns_pkt_set_rcode(r, LDNS_RCODE_FORMERR);
        ++stats_.malformed;
    } else {
        const ldns_rr* qr = L.ldns_rr_list_rr(qs, 0);
        L.ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, L.ldns_rr_clone(qr));
        char* owner = L.ldns_rdf2str(L.ldns_rr_owner(qr));
        const std::string name = lower_name(owner ? owner : "");
        std::free(owner);
        const auto it = table_.find(name);
        const ldns_rr_type type = L.ldns_rr_get_type(qr);
        if (it == table_.end() || L.ldns_rr_get_class(qr) != LDNS_RR_CLASS_IN) {
            // Not a name the egress policy allows: as if it did not exist.
            L.ldns_pkt_set_rcode(r, LDNS_RCODE_NXDOMAIN);
            ++stats_.nxdomain;
        } else {
            L.ldns_pkt_set_aa(r, true);
            L.ldns_pkt_set_rcode(r, LDNS_RCODE_NOERROR);
            // A and AAAA get the addresses of their family; other types an
            // empty answer (the name exists, with no data of that type).
            const size_t want = type == LDNS_RR_TYPE_A ? 4 : type == LDNS_RR_TYPE_AAAA ? 16 : 0;
            for (const auto& a : it->second) {
                if (a.size() != want) continue;
                if (ldns_rr* rr = address_rr(qr, type, a))
                    L.ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, rr);
            }
            ++stats_.answered;
        }
    }
    uint8_t* wire = nullptr;
    size_t wire_len = 0;
    std::vector<uint8_t> out;
    if (L.ldns_pkt2wire(&wire, r, &wire_len) == LDNS_STATUS_OK && wire)
        out.assign(wire, wire + wire_len);
    std::free(wire);
    L.ldns_pkt_free(r);
    L.ldns_pkt_free(q);
    return out;
}

}  // namespace ember
