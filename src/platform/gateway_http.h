// gateway_http.h - the gateway's handling of HTTP messages, without sockets:
// the limits it reads a client's request and an instance's response with,
// the request an instance gets, and the response a client gets back.
// Included by gateway.cpp and by the fuzz target tests/fuzz/fuzz_gateway.cpp
// only (it needs Beast, which http_servers.h keeps out of other code).
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange
// clang-format on
#include <boost/beast/http.hpp>
#include <cstdint>
#include <string>

#include "platform/http_servers.h"

namespace ember::platform::gateway_http {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using RequestParser = http::request_parser<http::string_body>;
using ResponseParser = http::response_parser<http::string_body>;
using RequestHeader = http::request_header<>;
using ResponseHeader = http::response_header<>;

// A request that asks to switch protocols (RFC 9110 7.8): HTTP/1.1 with an
// Upgrade header and "upgrade" in Connection. The gateway relays it with
// both headers, and after a 101 relays the connection as raw bytes.
bool wants_upgrade(const RequestHeader& h);

// Headers of one connection, not of the message (RFC 9110 7.6.1, plus the
// gateway's own Expect handling): neither forwarded to the instance nor
// relayed back to the client.
bool hop_by_hop(http::field f);

// The client's request: headers and body within the gateway's limits.
void limit_request(RequestParser& p, const GatewayOptions& opts);
// The instance's response: a bounded header, a body within
// max_response_bytes. Read the header first (http::read_header), then the
// body: Beast 1.74 drops the body_limit error of a response header that an
// eager parser finishes, and then reserves the whole Content-Length.
void limit_response(ResponseParser& p, const GatewayOptions& opts);

// Responses with a Content-Length up to this are read whole before the
// client gets them (the ticket is finished first, Server-Timing has the
// total); longer, chunked or close-delimited bodies are streamed.
inline constexpr uint64_t kBufferedResponseMax = 64 << 10;
// The same for request bodies: larger or chunked ones are streamed to the
// instance as they arrive (still within max_body_bytes).
inline constexpr uint64_t kBufferedRequestMax = 64 << 10;

// Why the gateway refuses a request that parsed, or nullptr. A TRACE with a
// body is one (a client must not send it, RFC 9110 9.3.8): Beast will not
// write it for the instance (prepare_payload throws).
const char* refusal(const Request& req);

// The request as the instance gets it: `target` (the route's), no
// hop-by-hop headers, X-Forwarded-For (when peer_addr is not empty) and
// -Proto, HTTP/1.1 without a Connection header (the stream may carry the
// next request: gateway_pool.h), or the Upgrade headers when
// wants_upgrade(req). Moves req's body. req must have no
// refusal(). proto is "http" or "https" (X-Forwarded-Proto).
std::string upstream_wire(Request& req, const std::string& target, const std::string& peer_addr,
                          const char* proto = "http");
// The same for a request whose body follows as it arrives: the header only,
// with the client's framing (Content-Length, or "Transfer-Encoding: chunked"
// when `chunked`, and the body re-chunked by the gateway).
std::string upstream_head(const RequestHeader& req, bool chunked, const std::string& target,
                          const std::string& peer_addr, const char* proto = "http");

// The header of a streamed response as the client gets it: no hop-by-hop
// headers, "Transfer-Encoding: chunked" when chunked (the body is then
// re-chunked by the gateway). A 101 keeps its Upgrade and gets
// "Connection: upgrade".
void client_head(ResponseHeader& h, bool chunked);

// Drops the hop-by-hop headers of an instance's response before it is
// relayed to the client.
void strip_hop_by_hop(Response& res);

}  // namespace ember::platform::gateway_http
