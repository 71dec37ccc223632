// dns_server_test.cpp - the guest's resolver (src/vmm/dns_server.h): queries
// built and answers read with ldns, as a resolver would see them.
#include <arpa/inet.h>
#include <gtest/gtest.h>
// ldns/common.h defines `bool` as a macro unless stdbool.h came first.
#include <stdbool.h>
// clang-format off
#include <ldns/ldns.h>
// clang-format on

#include <algorithm>
#include <cstdlib>

#include "platform/worker_protocol.h"
#include "vmm/dns_server.h"
#include "vmm/stream_host.h"

namespace ember {
namespace {

std::vector<uint8_t> query(const char* name, ldns_rr_type type, uint16_t id = 0x1234,
                           ldns_rr_class cls = LDNS_RR_CLASS_IN) {
    ldns_rdf* owner = ldns_dname_new_frm_str(name);
    ldns_pkt* q = ldns_pkt_query_new(owner, type, cls, LDNS_RD);
    ldns_pkt_set_id(q, id);
    uint8_t* wire = nullptr;
    size_t len = 0;
    EXPECT_EQ(ldns_pkt2wire(&wire, q, &len), LDNS_STATUS_OK);
    std::vector<uint8_t> out(wire, wire + len);
    std::free(wire);
    ldns_pkt_free(q);
    return out;
}

struct Reply {
    bool parsed = false;
    uint16_t id = 0;
    ldns_pkt_rcode rcode = LDNS_RCODE_SERVFAIL;
    std::vector<std::string> answers;  // rdata as text
};

Reply read_reply(const std::vector<uint8_t>& wire) {
    Reply r;
    ldns_pkt* p = nullptr;
    if (wire.empty() || ldns_wire2pkt(&p, wire.data(), wire.size()) != LDNS_STATUS_OK) return r;
    r.parsed = ldns_pkt_qr(p);
    r.id = ldns_pkt_id(p);
    r.rcode = ldns_pkt_get_rcode(p);
    const ldns_rr_list* an = ldns_pkt_answer(p);
    for (size_t i = 0; an && i < ldns_rr_list_rr_count(an); ++i) {
        char* s = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(an, i), 0));
        r.answers.push_back(s);
        std::free(s);
    }
    ldns_pkt_free(p);
    return r;
}

std::unique_ptr<DnsServer> server() {
    DnsServer::Table t;
    t["api.example.com"] = {{192, 0, 2, 10},
                            {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
    t["v4only.example"] = {{198, 51, 100, 7}};
    auto s = DnsServer::with_table(std::move(t));
    EXPECT_TRUE(s.is_ok()) << s.message();
    return s.is_ok() ? std::move(*s) : nullptr;
}

TEST(DnsServer, AnAllowedNameGetsItsAddressesOfTheAskedFamily) {
    auto s = server();
    ASSERT_TRUE(s);
    Reply a = read_reply(s->answer(query("API.Example.com.", LDNS_RR_TYPE_A).data(),
                                   query("API.Example.com.", LDNS_RR_TYPE_A).size(), 1));
    ASSERT_TRUE(a.parsed);
    EXPECT_EQ(a.id, 0x1234);
    EXPECT_EQ(a.rcode, LDNS_RCODE_NOERROR);
    EXPECT_EQ(a.answers, std::vector<std::string>{"192.0.2.10"});
    auto q6 = query("api.example.com.", LDNS_RR_TYPE_AAAA, 7);
    Reply aaaa = read_reply(s->answer(q6.data(), q6.size(), 2));
    EXPECT_EQ(aaaa.id, 7);
    EXPECT_EQ(aaaa.answers, std::vector<std::string>{"2001:db8::1"});
}

TEST(DnsServer, AnAllowedNameWithoutThatFamilyHasNoDataButExists) {
    auto s = server();
    ASSERT_TRUE(s);
    auto q = query("v4only.example.", LDNS_RR_TYPE_AAAA);
    Reply r = read_reply(s->answer(q.data(), q.size(), 1));
    ASSERT_TRUE(r.parsed);
    EXPECT_EQ(r.rcode, LDNS_RCODE_NOERROR);
    EXPECT_TRUE(r.answers.empty());
    auto mx = query("v4only.example.", LDNS_RR_TYPE_MX);
    r = read_reply(s->answer(mx.data(), mx.size(), 2));
    EXPECT_EQ(r.rcode, LDNS_RCODE_NOERROR);
    EXPECT_TRUE(r.answers.empty());
}

TEST(DnsServer, ANameTheEgressPolicyDoesNotAllowIsNxdomain) {
    auto s = server();
    ASSERT_TRUE(s);
    for (const char* name : {"evil.example.", "example.com.", "sub.api.example.com."}) {
        auto q = query(name, LDNS_RR_TYPE_A);
        Reply r = read_reply(s->answer(q.data(), q.size(), 1));
        ASSERT_TRUE(r.parsed) << name;
        EXPECT_EQ(r.rcode, LDNS_RCODE_NXDOMAIN) << name;
        EXPECT_TRUE(r.answers.empty()) << name;
    }
    auto chaos = query("api.example.com.", LDNS_RR_TYPE_A, 1, LDNS_RR_CLASS_CH);
    EXPECT_EQ(read_reply(s->answer(chaos.data(), chaos.size(), 1)).rcode, LDNS_RCODE_NXDOMAIN);
    EXPECT_EQ(s->stats().nxdomain, 4u);
}

TEST(DnsServer, GarbageAndResponsesGetNoReply) {
    auto s = server();
    ASSERT_TRUE(s);
    const uint8_t junk[] = {1, 2, 3};
    EXPECT_TRUE(s->answer(junk, sizeof junk, 1).empty());
    EXPECT_TRUE(s->answer(nullptr, 0, 1).empty());
    auto q = query("api.example.com.", LDNS_RR_TYPE_A);
    auto reply = s->answer(q.data(), q.size(), 1);
    ASSERT_FALSE(reply.empty());
    EXPECT_TRUE(s->answer(reply.data(), reply.size(), 1).empty()) << "a response was answered";
    // Every truncation of a valid query is refused or answered, never a crash.
    for (size_t n = 0; n < q.size(); ++n) (void)s->answer(q.data(), n, 1);
    EXPECT_GE(s->stats().malformed, 3u);
}

TEST(DnsServer, QueriesBeyondTheRateLimitAreDropped) {
    auto s = server();
    ASSERT_TRUE(s);
    auto q = query("api.example.com.", LDNS_RR_TYPE_A);
    int answered = 0;
    for (int i = 0; i < 1000; ++i) answered += !s->answer(q.data(), q.size(), 1000).empty();
    EXPECT_EQ(answered, static_cast<int>(DnsServer::kBurst));
    // Half a second later, kRate / 2 more are let through.
    int later = 0;
    for (int i = 0; i < 1000; ++i) later += !s->answer(q.data(), q.size(), 500'001'000).empty();
    EXPECT_EQ(later, static_cast<int>(DnsServer::kRate / 2));
    EXPECT_EQ(s->stats().rate_dropped, 2000u - answered - later);
}

// emberd resolves the table and sends it to its VM worker as JSON
// (worker_protocol.h): it arrives as it was; entries that are not addresses
// are left out, and a body without one means no resolver.
TEST(DnsServer, TheTableCrossesTheWorkerProtocolUnchanged) {
    DnsServer::Table t;
    t["api.example.com"] = {{192, 0, 2, 10},
                            {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
    t["unresolved.example"] = {};
    const auto j = platform::worker::encode_dns(t);
    EXPECT_EQ(j["api.example.com"], nlohmann::json({"192.0.2.10", "2001:db8::1"}));
    auto back = platform::worker::decode_dns(nlohmann::json::parse(j.dump()));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, t);
    auto bad = platform::worker::decode_dns(
        nlohmann::json{{"x.example", {"not an address", 7, "198.51.100.1"}}, {"y", 3}});
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->at("x.example"), (std::vector<std::vector<uint8_t>>{{198, 51, 100, 1}}));
    EXPECT_TRUE(bad->at("y").empty());
    EXPECT_FALSE(platform::worker::decode_dns(nlohmann::json()));
}

// The table holds the names of the rules, not IP literals; a name that does
// not resolve stays allowed with no address.
TEST(DnsServer, ResolveTakesTheNamesOfTheRules) {
    const auto t =
        DnsServer::resolve({{"LocalHost", 53}, {"127.0.0.1", 53}, {"nothere.invalid", 1}});
    ASSERT_EQ(t.count("localhost"), 1u);
    EXPECT_NE(std::find(t.at("localhost").begin(), t.at("localhost").end(),
                        std::vector<uint8_t>{127, 0, 0, 1}),
              t.at("localhost").end());
    EXPECT_EQ(t.count("127.0.0.1"), 0u);
    ASSERT_EQ(t.count("nothere.invalid"), 1u);
    EXPECT_TRUE(t.at("nothere.invalid").empty());
}

}  // namespace
}  // namespace ember
