// The control API's HTTP server: authenticates before reading a body, caps
// body sizes per endpoint, runs handlers on a thread pool (a deploy boots a
// microVM), streams followed logs with chunked encoding, serves the web
// console's files (no token) and samples the services' time series.
#include <sys/socket.h>

#include <algorithm>
#include <limits>
#include <mutex>
// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange
// clang-format on
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "platform/api_forward.h"
#include "platform/console.h"
#include "platform/http_servers.h"
#include "platform/linger.h"

namespace ember::platform {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct ApiServer::Impl {
    Impl(const ApiServerOptions& o, Api& a, LogHub& l, InstanceManager& m)
        : opts(o),
          api(a),
          logs(l),
          manager(m),
          acceptor(io),
          pool(static_cast<size_t>(std::max(1, o.handler_threads))) {}

    asio::awaitable<void> accept_loop();
    asio::awaitable<void> session(tcp::socket sock);
    asio::awaitable<void> follow(beast::tcp_stream& stream, const ApiResponse& r);
    asio::awaitable<void> sample_loop();

    ApiServerOptions opts;
    Api& api;
    LogHub& logs;
    InstanceManager& manager;
    asio::io_context io;
    tcp::acceptor acceptor;
    asio::thread_pool pool;
    std::thread thread;
    std::atomic<bool> stopped{false};
    std::mutex forward_mu;
    std::shared_ptr<const ForwardHandler> forward;  // cluster mode
};

namespace {

http::response<http::string_body> to_http(ApiResponse r, unsigned version, bool keep) {
    add_api_headers(&r);
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::server, "emberd");
    if (r.status != 204) res.set(http::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res.set(k, v);
    res.body() = r.body;
    res.keep_alive(keep);
    res.prepare_payload();
    return res;
}

}  // namespace

asio::awaitable<void> ApiServer::Impl::accept_loop() {
    for (;;) {
        beast::error_code ec;
        tcp::socket sock =
            co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            continue;
        }
        asio::co_spawn(io, session(std::move(sock)), asio::detached);
    }
}

asio::awaitable<void> ApiServer::Impl::session(tcp::socket sock) {
    beast::tcp_stream stream(std::move(sock));
    beast::flat_buffer buf;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(16 << 10);
        // No limit while reading the headers: Beast would refuse a large
        // Content-Length there, as a malformed request, before the token is
        // checked. The per-endpoint limit is applied after authentication,
        // and no body byte is read before it. (Not boost::none: Beast 1.74
        // compares Content-Length > an empty optional as true.)
        parser.body_limit(std::numeric_limits<uint64_t>::max());
        beast::error_code ec;
        stream.expires_after(std::chrono::milliseconds(opts.client_timeout_ms));
        co_await http::async_read_header(stream, buf, parser,
                                         asio::redirect_error(asio::use_awaitable, ec));
        if (!ec && is_forward_target(parser.get().target())) {
            std::shared_ptr<const ForwardHandler> handler;
            {
                std::lock_guard g(forward_mu);
                handler = forward;
            }
            const bool again = co_await serve_forwarded_request(stream, buf, parser, api, handler);
            if (!again) break;
            continue;
        }
        ApiResponse early;
        bool have_early = false;
        if (ec) {
            if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
                ec == asio::error::connection_reset)
                co_return;
            early = Api::error(ec == http::error::header_limit ? kHeadersTooLarge : kBadRequest,
                               ec == http::error::header_limit
                                   ? "request headers too large"
                                   : "malformed HTTP request: " + ec.message());
            have_early = true;
        }
        ApiRequest req;
        if (!have_early) {
            auto& h = parser.get();
            req.method = std::string(h.method_string());
            req.target = std::string(h.target());
            req.authorization = std::string(h[http::field::authorization]);
            req.content_type = std::string(h[http::field::content_type]);
            const uint64_t limit = api.body_limit(req.method, req.target);
            // Refuse before reading what may be a large body.
            if (!Api::is_public(req.method, req.target) && !api.authorized(req.authorization)) {
                early = api.handle(req);  // 401 with the reason
                have_early = true;
            } else if (parser.content_length() && *parser.content_length() > limit) {
                early = Api::error(kPayloadTooLarge, "request body of " +
                                                         std::to_string(*parser.content_length()) +
                                                         " bytes is larger than the limit of " +
                                                         std::to_string(limit) + " bytes");
                have_early = true;
            } else if (!parser.is_done()) {
                parser.body_limit(limit);
                if (beast::iequals(h[http::field::expect], "100-continue")) {
                    http::response<http::empty_body> cont{http::status::continue_, 11};
                    co_await http::async_write(stream, cont,
                                               asio::redirect_error(asio::use_awaitable, ec));
                }
                if (!ec)
                    co_await http::async_read(stream, buf, parser,
                                              asio::redirect_error(asio::use_awaitable, ec));
                if (ec == http::error::body_limit) {
                    early = Api::error(kPayloadTooLarge, "request body larger than the limit of " +
                                                             std::to_string(limit) + " bytes");
                    have_early = true;
                } else if (ec) {
                    co_return;
                }
            }
        }
        if (have_early) {
            // The rest of the request was not read: answer and close.
            auto res = to_http(early, 11, false);
            co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
            if (!ec) co_await linger_close(stream, 64ull << 20, std::chrono::seconds(2));
            co_return;
        }
        req.body = std::move(parser.get().body());
        const bool keep = parser.get().keep_alive();
        const unsigned version = parser.get().version();
        // The handler runs on the pool; a timer that the pool cancels when it
        // is done resumes this coroutine. (Not async_initiate: with Boost 1.74
        // and GCC 12, arguments passed through use_awaitable's initiation
        // coroutine are destroyed twice.) This io_context has one thread, so
        // the cancel cannot run before the wait is registered.
        auto result = std::make_shared<ApiResponse>();
        auto done = std::make_shared<asio::steady_timer>(stream.get_executor(),
                                                         asio::steady_timer::time_point::max());
        asio::post(pool, [this, result, done, rq = std::move(req)] {
            *result = api.handle(rq);
            asio::post(done->get_executor(), [done] { done->cancel(); });
        });
        co_await done->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        ApiResponse& r = *result;
        if (r.follow) {
            co_await follow(stream, r);
            break;
        }
        auto res = to_http(r, version, keep);
        stream.expires_after(std::chrono::milliseconds(opts.client_timeout_ms));
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        if (ec || !keep) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> ApiServer::Impl::follow(beast::tcp_stream& stream, const ApiResponse& r) {
    beast::error_code ec;
    stream.expires_never();
    std::string head =
        "HTTP/1.1 200 OK\r\nServer: emberd\r\nContent-Type: " + r.content_type + "\r\n";
    ApiResponse headers;  // the body is the first chunk below
    headers.headers = r.headers;
    add_api_headers(&headers);
    for (const auto& [k, v] : headers.headers) head += k + ": " + v + "\r\n";
    head += "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    auto chunk = [](const std::string& data) {
        char len[32];
        std::snprintf(len, sizeof len, "%zx\r\n", data.size());
        return std::string(len) + data + "\r\n";
    };
    if (!r.body.empty()) head += chunk(r.body);
    co_await asio::async_write(stream.socket(), asio::buffer(head),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    // The client never sends anything more: readable means it went away.
    auto gone = std::make_shared<bool>(false);
    stream.socket().async_wait(tcp::socket::wait_read, [gone](beast::error_code e) {
        if (!e) *gone = true;
    });
    uint64_t after = r.follow_after;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (!*gone && !stopped) {
        auto lines = logs.read(r.follow_service, after, 1000, r.follow_instance);
        if (!lines.empty()) {
            std::string text;
            for (const auto& l : lines) text += Api::format_log_line(l);
            after = lines.back().seq;
            const std::string c = chunk(text);
            co_await asio::async_write(stream.socket(), asio::buffer(c),
                                       asio::redirect_error(asio::use_awaitable, ec));
            if (ec) break;
            continue;
        }
        if (!manager.status(r.follow_service).exists) {
            const std::string end = "0\r\n\r\n";
            co_await asio::async_write(stream.socket(), asio::buffer(end),
                                       asio::redirect_error(asio::use_awaitable, ec));
            break;
        }
        timer.expires_after(std::chrono::milliseconds(100));
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    stream.socket().cancel(ec);
}

// Every interval, a sample of the services' counters for the console's
// charts, taken on the pool: it asks the gateway process for its metrics.
// Every second, a look at the instance counts (in memory, cheap).
asio::awaitable<void> ApiServer::Impl::sample_loop() {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    beast::error_code ec;
    const auto interval = std::chrono::milliseconds(api.stats_interval_ms());
    auto next_sample = std::chrono::steady_clock::now();
    while (!stopped) {
        const bool sample = std::chrono::steady_clock::now() >= next_sample;
        if (sample) next_sample = std::chrono::steady_clock::now() + interval;
        asio::post(pool, [this, sample] {
            api.observe_instances();
            if (sample) api.sample_stats();
        });
        timer.expires_after(std::min<std::chrono::steady_clock::duration>(
            std::chrono::seconds(1), next_sample - std::chrono::steady_clock::now()));
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

ApiServer::ApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ApiServer::~ApiServer() { stop(); }

uint16_t ApiServer::port() const {
    beast::error_code ec;
    return impl_->acceptor.local_endpoint(ec).port();
}

Result<std::unique_ptr<ApiServer>> ApiServer::start(const ApiServerOptions& opts, Api& api,
                                                    LogHub& logs, InstanceManager& manager) {
    auto impl = std::make_unique<Impl>(opts, api, logs, manager);
    beast::error_code ec;
    const auto addr = asio::ip::make_address(opts.addr, ec);
    if (ec) return Status::invalid_argument("API: not an IP address: '" + opts.addr + "'");
    const tcp::endpoint ep(addr, opts.port);
    impl->acceptor.open(ep.protocol(), ec);
    if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) impl->acceptor.bind(ep, ec);
    if (!ec) impl->acceptor.listen(1024, ec);
    if (ec)
        return Status::unavailable("API: cannot listen on " + opts.addr + ":" +
                                   std::to_string(opts.port) + ": " + ec.message());
    asio::co_spawn(impl->io, impl->accept_loop(), asio::detached);
    asio::co_spawn(impl->io, impl->sample_loop(), asio::detached);
    Impl* p = impl.get();
    impl->thread = std::thread([p] { p->io.run(); });
    return std::unique_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

void ApiServer::set_forward_handler(ForwardHandler h) {
    std::lock_guard g(impl_->forward_mu);
    impl_->forward = std::make_shared<const ForwardHandler>(std::move(h));
}

void ApiServer::stop() {
    if (!impl_ || impl_->stopped) return;
    impl_->stopped = true;
    impl_->io.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
    impl_->pool.join();
}

}  // namespace ember::platform
