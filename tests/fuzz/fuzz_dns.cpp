// libFuzzer entry point for the guest's resolver (src/vmm/dns_server.cpp):
// whatever bytes a guest sends to 169.254.0.53:53, the answer is either none
// or a DNS response that ldns itself parses back, with the query's id. Built
// only with clang and -DEMBER_FUZZ=ON; see tests/CMakeLists.txt.
#include <stddef.h>
#include <stdint.h>

#include <memory>

#include "vmm/dns_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static std::unique_ptr<ember::DnsServer> server = [] {
        ember::DnsServer::Table t;
        t["localhost"] = {{127, 0, 0, 1}, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
        t["api.example.com"] = {{192, 0, 2, 10}};
        auto s = ember::DnsServer::with_table(std::move(t));
        if (!s) __builtin_trap();  // libldns3 missing: nothing to fuzz
        return std::move(*s);
    }();
    // A fresh clock value each time keeps the rate limit out of the way.
    static int64_t now = 0;
    now += 1'000'000'000;
    const std::vector<uint8_t> reply = server->answer(data, size, now);
    if (reply.empty()) return 0;
    // A reply is a response (QR set) carrying the query's id.
    if (reply.size() < 12 || size < 2 || !(reply[2] & 0x80) || reply[0] != data[0] ||
        reply[1] != data[1])
        __builtin_trap();
    return 0;
}
