// gateway_h2.h - HTTP/2 from clients to the gateway (nghttp2), on HTTPS
// connections whose client chose "h2" by ALPN (gateway_tls.cpp offers it
// before "http/1.1"). Each stream's request is read whole (within the
// gateway's header and body limits), handed to the gateway as an HTTP/1.1
// request, and its response sent back on that stream; many streams run at
// once on one connection. Instances still speak HTTP/1.1 over their
// kept-alive streams (gateway_pool.h).
//
// Not over HTTP/2 (yet): responses relayed as they arrive (the gateway
// reads them whole, up to --max-response), request bodies streamed, and
// the extended CONNECT for WebSockets; such clients use HTTP/1.1.
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange
// clang-format on
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <functional>
#include <string_view>

#include "platform/gateway_http.h"

namespace ember::platform::h2 {

using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// Answers one request (the gateway's forwarding, which may take the
// request's content); runs on the connection's strand. Takes a reference:
// GCC 12 destroys some temporaries of co_await expressions twice.
using Handler =
    std::function<boost::asio::awaitable<gateway_http::Response>(gateway_http::Request&)>;

// The protocol the client chose by ALPN is "h2".
bool negotiated(TlsStream& stream);

// Serves the connection until the client ends it, it stays idle (no
// stream open) for keepalive_timeout_ms, or fails.
boost::asio::awaitable<void> serve(TlsStream& stream, const GatewayOptions& opts,
                                   const Handler& handler);

}  // namespace ember::platform::h2
