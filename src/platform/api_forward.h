// api_forward.h - the control API server's side of request forwarding
// between nodes (cluster/forwarder.h): requests to /v1/cluster/forward/...
// are read here, checked against the cluster token, and handed to the
// node's forwarder, which serves them on this node. Internal to emberd's
// API server (api_server.cpp).
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange
// clang-format on
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>

#include "platform/api.h"
#include "platform/http_servers.h"

namespace ember::platform {

inline bool is_forward_target(boost::beast::string_view target) {
    return target.starts_with("/v1/cluster/forward/");
}

// Serves one forwarded request whose header parser has read; true when the
// connection stays open for the next request.
boost::asio::awaitable<bool> serve_forwarded_request(
    boost::beast::tcp_stream& stream, boost::beast::flat_buffer& buf,
    boost::beast::http::request_parser<boost::beast::http::string_body>& parser, Api& api,
    std::shared_ptr<const ForwardHandler> handler);

}  // namespace ember::platform
