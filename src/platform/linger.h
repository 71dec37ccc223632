// linger.h - "lingering close" for the HTTP servers (included by
// gateway.cpp and api_server.cpp only: it needs Beast).
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange
// clang-format on

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <chrono>

namespace ember::platform {

// After answering a request early (401, 413, 431...) without reading its
// body: stops sending, then reads and discards what the client still sends,
// up to max_bytes and for at most `limit`, before the connection is closed.
// Closing with unread data makes the kernel send a reset, and many clients
// then never see the answer.
inline boost::asio::awaitable<void> linger_close(boost::beast::tcp_stream& stream, size_t max_bytes,
                                                 std::chrono::milliseconds limit) {
    namespace asio = boost::asio;
    boost::beast::error_code ec;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    stream.expires_after(limit);
    char scratch[16384];
    size_t total = 0;
    while (!ec && total < max_bytes) {
        total += co_await stream.async_read_some(asio::buffer(scratch),
                                                 asio::redirect_error(asio::use_awaitable, ec));
    }
}

}  // namespace ember::platform
