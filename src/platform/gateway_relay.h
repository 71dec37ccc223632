// gateway_relay.h - the gateway's streaming relays, as coroutines on one
// connection's strand: a request body from the client to the instance, a
// response body from the instance to the client, and the raw two-way copy
// after an Upgrade. Each moves one bounded piece at a time (kPiece), so a
// stream of any length costs the gateway the same memory, and a slow reader
// slows its writer down (socket buffers and the stream's credit) instead
// of filling the gateway. Templates on the client's stream type (plain TCP
// or TLS); included by gateway.cpp only.
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange
// clang-format on
#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace ember::platform::relay {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using unix_stream = asio::local::stream_protocol;

inline constexpr size_t kPiece = 64 << 10;

// Sets the client's I/O deadline (tcp_stream, or the TCP layer under TLS).
template <class Stream>
void client_deadline(Stream& s, uint64_t ms) {
    beast::get_lowest_layer(s).expires_after(std::chrono::milliseconds(ms));
}
template <class Stream>
void client_no_deadline(Stream& s) {
    beast::get_lowest_layer(s).expires_never();
}

// A coroutine spawned beside the current one on the same strand, and a way
// to wait for it: done is set and the timer cancelled when it ends.
struct Join {
    explicit Join(const asio::any_io_executor& ex) : timer(ex) {
        timer.expires_at(asio::steady_timer::time_point::max());
    }
    asio::steady_timer timer;
    bool done = false;
    bool ok = false;
};

template <class Awaitable>
std::shared_ptr<Join> spawn_joined(const asio::any_io_executor& ex, Awaitable a) {
    auto j = std::make_shared<Join>(ex);
    asio::co_spawn(ex, std::move(a), [j](std::exception_ptr e, bool ok) {
        j->done = true;
        j->ok = !e && ok;
        j->timer.cancel();
    });
    return j;
}

inline asio::awaitable<bool> join(Join& j) {  // true: the coroutine returned true
    if (!j.done) {
        beast::error_code ec;
        co_await j.timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return j.ok;
}

// Writes one body piece, with chunked framing when `chunked`.
template <class Out>
asio::awaitable<beast::error_code> write_piece(Out& out, const char* data, size_t n, bool chunked) {
    beast::error_code ec;
    if (!chunked) {
        co_await asio::async_write(out, asio::buffer(data, n),
                                   asio::redirect_error(asio::use_awaitable, ec));
        co_return ec;
    }
    char head[24];
    const int hl = std::snprintf(head, sizeof head, "%zx\r\n", n);
    static constexpr char kCrlf[] = "\r\n";
    const std::array<asio::const_buffer, 3> bufs{asio::buffer(head, static_cast<size_t>(hl)),
                                                 asio::buffer(data, n), asio::buffer(kCrlf, 2)};
    co_await asio::async_write(out, bufs, asio::redirect_error(asio::use_awaitable, ec));
    co_return ec;
}

template <class Out>
asio::awaitable<beast::error_code> write_last_chunk(Out& out) {
    static constexpr char kLast[] = "0\r\n\r\n";
    beast::error_code ec;
    co_await asio::async_write(out, asio::buffer(kLast, 5),
                               asio::redirect_error(asio::use_awaitable, ec));
    co_return ec;
}

// How a relay of a body ended.
enum class RelayEnd { kDone, kInFailed, kOutFailed };

// Reads the rest of a message's body with a buffer_body parser (its header
// already read) and writes it to `out` as it arrives, chunk-framed when
// `chunked` (trailers are dropped). before_read and before_write run before
// every read and write (deadlines).
template <class In, class Parser, class Out, class BeforeRead, class BeforeWrite>
asio::awaitable<RelayEnd> relay_body(In& in, beast::flat_buffer& buf, Parser& p, Out& out,
                                     bool chunked, BeforeRead before_read,
                                     BeforeWrite before_write) {
    std::vector<char> piece(kPiece);
    while (!p.is_done()) {
        p.get().body().data = piece.data();
        p.get().body().size = piece.size();
        beast::error_code ec;
        before_read();
        co_await http::async_read_some(in, buf, p, asio::redirect_error(asio::use_awaitable, ec));
        if (ec == http::error::need_buffer) ec = {};
        if (ec) co_return RelayEnd::kInFailed;
        const size_t n = piece.size() - p.get().body().size;
        if (n == 0) continue;
        before_write();
        if (co_await write_piece(out, piece.data(), n, chunked)) co_return RelayEnd::kOutFailed;
    }
    if (chunked) {
        before_write();
        if (co_await write_last_chunk(out)) co_return RelayEnd::kOutFailed;
    }
    co_return RelayEnd::kDone;
}

// One direction of an upgraded connection: what `in` sends goes to `out`
// until `in` ends; then shut_out() (a half-close of `out`) and true, or
// false on an error (a reset, or `out` gone).
template <class In, class Out, class ShutOut>
asio::awaitable<bool> copy_until_eof(In& in, Out& out, ShutOut shut_out) {
    std::vector<char> piece(kPiece);
    for (;;) {
        beast::error_code ec;
        const size_t n = co_await in.async_read_some(asio::buffer(piece),
                                                     asio::redirect_error(asio::use_awaitable, ec));
        if (n > 0) {
            beast::error_code wec;
            co_await asio::async_write(out, asio::buffer(piece.data(), n),
                                       asio::redirect_error(asio::use_awaitable, wec));
            if (wec) co_return false;
        }
        if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
            shut_out();
            co_return true;
        }
        if (ec) co_return false;
    }
}

}  // namespace ember::platform::relay
