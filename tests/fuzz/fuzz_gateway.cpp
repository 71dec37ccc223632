// libFuzzer entry point for the gateway's request handling
// (src/platform/gateway_http.cpp, router.cpp), without sockets: a client's
// request read with the gateway's parser and limits, routed, rewritten for
// the instance; then the instance's response read with the gateway's limits
// and rewritten for the client. Input: u16 n, n bytes of request, the rest
// is the response (fuzz_input.h).
//
// Besides crashes, sanitizer reports and exceptions (in emberd those would
// escape a gateway coroutine), it fails when the instance would not get
// exactly one request with the routed target, the client's method and
// body, kept alive (HTTP/1.1, or the upgrade headers); or when the client would not get exactly
// one response with the instance's status and body (response splitting).
#include <stddef.h>
#include <stdint.h>

#include <boost/asio/buffer.hpp>
#include <sstream>
#include <string>
#include <string_view>

#include "fuzz_input.h"
#include "platform/gateway_http.h"
#include "platform/router.h"

using namespace ember::platform;
using namespace ember::platform::gateway_http;
namespace beast = boost::beast;

namespace {

// Feeds `in` to p as the gateway reads a message when `in` is all the
// peer sends: http::read_header (not eager), then http::read (eager). Each
// put()s while it makes progress; when the parser needs more, the next read
// finds EOF if `eof` (the peer closed), else would wait forever. True when
// p has a complete message; *used is the bytes it took.
template <class Parser>
bool feed(Parser& p, std::string_view in, bool eof, size_t* used) {
    size_t off = 0;
    while (!p.is_done()) {
        p.eager(p.is_header_done());
        beast::error_code ec;
        const size_t n = p.put(boost::asio::const_buffer(in.data() + off, in.size() - off), ec);
        off += n;
        if (ec && ec != http::error::need_more) return false;
        if (p.is_done()) break;
        if (!ec && off < in.size()) continue;
        // The next read: nothing more comes. An EOF before any byte is no
        // message at all (end_of_stream).
        if (!eof || !p.got_some()) return false;
        p.put_eof(ec);
        if (ec) return false;
    }
    *used = off;
    return true;
}

template <class Message>
std::string wire(const Message& m) {
    std::ostringstream os;
    os << m;
    return std::move(os).str();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ember::fuzz::Input in(data, size);
    size_t n;
    const uint8_t* req_bytes = in.bytes(in.u16(), &n);
    const std::string_view request(reinterpret_cast<const char*>(req_bytes), n);
    const std::string response = in.rest();
    const GatewayOptions opts;

    // The client's request, as the gateway's session reads it.
    RequestParser parser;
    limit_request(parser, opts);
    size_t used;
    if (!feed(parser, request, /*eof=*/true, &used)) return 0;
    Request req = parser.release();
    if (refusal(req)) return 0;  // 400
    const auto host = req[http::field::host];
    const auto target = req.target();
    const auto route = route_request(std::string_view(host.data(), host.size()),
                                     std::string_view(target.data(), target.size()), opts.domain);
    if (!route) return 0;
    const bool keep = req.keep_alive();
    const bool head = req.method() == http::verb::head;
    const std::string method(req.method_string());
    const std::string body = req.body();
    const unsigned version = req.version();

    // What the instance reads from its stream: one request, nothing after it.
    const std::string up = upstream_wire(req, route->target, "192.0.2.1");
    RequestParser check_up;
    check_up.body_limit(UINT64_MAX);
    FUZZ_CHECK(feed(check_up, up, /*eof=*/false, &used) && used == up.size());
    const Request& seen = check_up.get();
    FUZZ_CHECK(seen.method_string() == method && seen.target() == route->target);
    // The stream stays open: for the next request, or the raw stream of an
    // upgrade.
    FUZZ_CHECK(seen.body() == body && seen.keep_alive());
    FUZZ_CHECK(seen.count(http::field::transfer_encoding) == 0);

    // The instance's response, read until it closes the stream.
    ResponseParser rp;
    limit_response(rp, opts);
    if (head) rp.skip(true);
    if (!feed(rp, response, /*eof=*/true, &used)) return 0;
    Response res = rp.release();
    strip_hop_by_hop(res);
    res.set("Server-Timing", "queue;dur=0.001, app;dur=0.002, total;dur=0.003");
    res.set("X-Ember-Instance", "i-1");
    res.version(version);
    if (!head) res.prepare_payload();
    res.keep_alive(keep);

    // What the client reads: one response, delimited without closing when
    // the connection stays open for its next request.
    const std::string out = wire(res);
    ResponseParser check_out;
    check_out.body_limit(UINT64_MAX);
    if (head) check_out.skip(true);
    FUZZ_CHECK(feed(check_out, out, /*eof=*/!keep, &used) && used == out.size());
    FUZZ_CHECK(check_out.get().result_int() == res.result_int());
    FUZZ_CHECK(head || check_out.get().body() == res.body());
    return 0;
}
