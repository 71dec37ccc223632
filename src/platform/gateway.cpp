// The gateway: HTTP/1.1 ingress. Reads a client's request within limits,
// routes it to a service, forwards it to an instance over a stream pair
// (kept alive for the instance's next request when both sides allow it:
// gateway_pool.h), and relays the response with a Server-Timing header. Small messages are read
// whole; large, chunked and close-delimited bodies, server-sent events and upgraded connections are
// relayed as they arrive (gateway_relay.h). Each client connection is a coroutine on its own
// strand; a stalled client costs a socket and a timer, never a thread.
#include <sys/socket.h>
#include <unistd.h>

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange
// clang-format on
#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <type_traits>

#include "platform/gateway_backend.h"
#include "platform/gateway_h2.h"
#include "platform/gateway_http.h"
#include "platform/gateway_pool.h"
#include "platform/gateway_protocol.h"
#include "platform/gateway_relay.h"
#include "platform/gateway_tls.h"
#include "platform/http_error.h"
#include "platform/http_servers.h"
#include "platform/linger.h"
#include "platform/router.h"
#include "vmm/sandbox.h"

namespace ember::platform {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;
using gateway_http::Request;
using gateway_http::RequestParser;
using gateway_http::Response;
using gateway_http::ResponseParser;

namespace {

// The same error body as the control API's, with the same codes.
Response json_error(HttpError e, const std::string& message, unsigned version) {
    Response r{static_cast<http::status>(e.status), version};
    r.set(http::field::server, "ember");
    r.set(http::field::content_type, "application/json");
    r.body() = json_text(error_json(e.code, message)) + "\n";
    r.prepare_payload();
    return r;
}

std::string ms3(double ms) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3f", ms);
    return b;
}

// State shared with the callbacks that run beside the forwarding coroutine
// (timeout, client-disconnect watch). All of it lives on the connection's
// strand.
struct Exchange {
    explicit Exchange(const asio::any_io_executor& ex) : up(ex), timer(ex), stall(ex) {}
    unix_stream::socket up;
    asio::steady_timer timer;
    asio::steady_timer stall;  // Impl::watch_stall
    bool active = true;
    bool timed_out = false;
    bool client_gone = false;
    bool header_seen = false;  // the response's header has arrived (or failed)
};

// The gateway's end of a request's stream to an instance, and the claim on
// the instance.
struct Upstream {
    Acquired acquired;
    int fd = -1;
    bool reused = false;  // a kept-alive stream (the request is not in it yet)
    size_t sent = 0;      // bytes of the request already in the stream
};

// How long a request on a new stream may wait for its response's header
// while its instance has idle kept-alive streams before the gateway takes
// the server for one that serves one connection at a time (it would never
// accept the new stream while an idle one is open): the instance's idle
// streams are closed and it gets no more.
constexpr auto kStallCheck = std::chrono::milliseconds(50);

// Awaits a GatewayBackend call, whose callback may run on any thread (the
// control plane's reply reader) or before the call returns: the coroutine
// resumes on its own executor, the connection's strand (the handler's
// associated executor).
//
// Not a coroutine itself, and the operation holds only references: with
// GCC 12, an earlier version (a coroutine whose co_await expression had a
// temporary capturing the executor) corrupted the heap within a few dozen
// requests (e2e RedeployRolls...). Temporaries of co_await expressions are
// kept trivially destructible here.
template <class T, class Call>
struct BackendOp {
    static_assert(std::is_trivially_destructible_v<Call>);
    Call call;
    template <class Handler>
    void operator()(Handler handler) {
        auto h = std::make_shared<Handler>(std::move(handler));
        auto ex = asio::get_associated_executor(*h);
        call([h, ex](T v) {
            asio::post(ex, [h, v = std::move(v)]() mutable { std::move (*h)(std::move(v)); });
        });
    }
};

template <class T, class Call>
auto backend_call(Call call) {
    return asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(BackendOp<T, Call>{call},
                                                                         asio::use_awaitable);
}

// Counts a client connection for as long as its session runs (the count
// is shared with the metrics collector, which may outlive the Impl).
class ConnectionCount {
  public:
    explicit ConnectionCount(std::shared_ptr<std::atomic<size_t>> n) : n_(std::move(n)) { ++*n_; }
    ~ConnectionCount() { --*n_; }
    ConnectionCount(const ConnectionCount&) = delete;
    ConnectionCount& operator=(const ConnectionCount&) = delete;

  private:
    std::shared_ptr<std::atomic<size_t>> n_;
};

}  // namespace

struct Gateway::Impl {
    Impl(const GatewayOptions& o, GatewayBackend& b, Metrics& met)
        : opts(o), backend(b), metrics(met), acceptor(io), tls_acceptor(io) {}

    enum class Kind { kPlain, kTls, kRedirect };
    asio::awaitable<void> accept_loop(tcp::acceptor& acc, Kind kind);
    asio::awaitable<void> session(tcp::socket sock);
    asio::awaitable<void> session_tls(tcp::socket sock);
    // Answers one request with a 308 to the same URL over HTTPS.
    asio::awaitable<void> session_redirect(tcp::socket sock);
    // Serves the requests of one client connection.
    template <class Stream>
    asio::awaitable<void> serve(Stream& stream, bool tls);
    // Forwards the request parser has read (its header; its body too unless
    // `streamed`) and answers it; false when the connection must close.
    template <class Stream>
    asio::awaitable<bool> forward(Stream& client, beast::flat_buffer& cbuf, RequestParser& parser,
                                  bool streamed, bool tls);
    // The steps of forward, in order.
    Response rejection(const TicketInfo& i, const std::string& service, unsigned version);
    // client_sock: nullptr when nothing watches the client.
    void watch(const std::shared_ptr<Exchange>& ex, tcp::socket* client_sock, int64_t deadline_ns);
    // An HTTP/2 stream's request (gateway_h2.h), answered whole.
    asio::awaitable<Response> answer(Request req, std::string peer_addr);
    void watch_stall(const std::shared_ptr<Exchange>& ex, uint64_t instance_id);
    // The request's stream: a kept-alive one when the manager takes the
    // request on an instance the pool has one to (and the request is not in
    // it yet), else a new stream pair with the request written in first.
    // nullopt: no descriptor for a stream pair.
    asio::awaitable<std::optional<Upstream>> open_upstream(const std::string& svc,
                                                           const std::string& wire, bool reuse);
    // The exchange's first steps, the same for forward() and answer(): the
    // stream with its claim on an instance (open_upstream), its deadline
    // (and the client watch when client_sock), the stall watch, and the
    // request written. refusal: the response to give instead (the ticket
    // is finished then).
    struct Opened {
        std::optional<Upstream> up;
        std::shared_ptr<Exchange> ex;
        bool sent_whole = true;
        std::optional<Response> refusal;
    };
    asio::awaitable<Opened> open_exchange(const std::string& svc, const std::string& wire,
                                          bool may_reuse, unsigned version, int64_t t0,
                                          tcp::socket* client_sock);
    template <class Stream>
    asio::awaitable<bool> pump_request(Stream& client, beast::flat_buffer& cbuf,
                                       http::request_parser<http::buffer_body>& p,
                                       std::shared_ptr<Exchange> ex, bool chunked);
    std::optional<Response> failed_exchange(beast::error_code ec, const Exchange& ex,
                                            const TicketInfo& info, const std::string& svc,
                                            unsigned version, FinishKind* kind);
    // Relays a response whose header was read into rp: its body as it
    // arrives, or the raw connection after a 101. How the ticket ends.
    template <class Stream>
    asio::awaitable<FinishKind> stream_response(Stream& client, Exchange& ex,
                                                beast::flat_buffer& cbuf, beast::flat_buffer& ubuf,
                                                ResponseParser& rp, const std::string& svc,
                                                const TicketInfo& info, int64_t t_first,
                                                unsigned version, bool upgraded, bool* keep,
                                                bool* reusable);
    template <class Stream>
    asio::awaitable<FinishKind> splice(Stream& client, Exchange& ex, beast::flat_buffer& cbuf,
                                       beast::flat_buffer& ubuf);
    template <class Stream>
    asio::awaitable<bool> reply(Stream& client, Response res, bool keep);
    // Ends the ticket and waits until the control plane has: the instance is
    // idle again (its slot free, its count served) before the gateway goes on.
    asio::awaitable<void> finish(TicketId ticket, FinishKind kind) {
        co_await backend_call<bool>(
            [&](auto done) { backend.finish(ticket, kind, [done]() mutable { done(true); }); });
    }
    // Ends the ticket without waiting: a response read whole goes to the
    // client at once, a round trip to the control plane earlier. The
    // channel keeps the order, so whatever this gateway asks next (the
    // client's next request) reaches the control plane after the finish.
    void finish_now(TicketId ticket, FinishKind kind) {
        backend.finish(ticket, kind, [] {});
    }
    static std::string timing(const TicketInfo& info, int64_t t_first);
    Response relayed(Response res, const TicketInfo& info, unsigned version, bool head,
                     const std::string& svc, int64_t t0, int64_t t_first);
    void count(const std::string& service, unsigned code) {
        metrics
            .counter("ember_requests_total", {{"service", service}, {"code", std::to_string(code)}})
            .inc();
    }

    GatewayOptions opts;
    GatewayBackend& backend;
    Metrics& metrics;
    asio::io_context io;
    tcp::acceptor acceptor;
    tcp::acceptor tls_acceptor;
    std::shared_ptr<TlsContext> tls;
    UpstreamPool pool;
    std::vector<std::thread> threads;
    std::shared_ptr<std::atomic<size_t>> connections = std::make_shared<std::atomic<size_t>>(0);
    std::shared_ptr<asio::posix::stream_descriptor> watched;  // watch_readable's fd
    bool stopped = false;
};

asio::awaitable<void> Gateway::Impl::accept_loop(tcp::acceptor& acc, Kind kind) {
    for (;;) {
        beast::error_code ec;
        tcp::socket sock = co_await acc.async_accept(asio::make_strand(io),
                                                     asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            if (ec == asio::error::operation_aborted || !acc.is_open()) co_return;
            continue;  // EMFILE and the like: keep serving the connections we have
        }
        if (connections->load() >= opts.max_connections) {
            metrics.counter("ember_gateway_rejected_connections_total").inc();
            sock.close(ec);
            continue;
        }
        sock.set_option(tcp::no_delay(true), ec);
        auto ex = sock.get_executor();
        if (kind == Kind::kTls)
            asio::co_spawn(ex, session_tls(std::move(sock)), asio::detached);
        else if (kind == Kind::kRedirect)
            asio::co_spawn(ex, session_redirect(std::move(sock)), asio::detached);
        else
            asio::co_spawn(ex, session(std::move(sock)), asio::detached);
    }
}

asio::awaitable<void> Gateway::Impl::session_tls(tcp::socket sock) {
    const ConnectionCount counted(connections);
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(sock)), tls->context());
    beast::error_code ec;
    relay::client_deadline(stream, opts.client_timeout_ms);
    co_await stream.async_handshake(asio::ssl::stream_base::server,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        metrics.counter("ember_gateway_tls_handshake_failures_total").inc();
        co_return;
    }
    if (h2::negotiated(stream)) {
        beast::error_code pec;
        const auto peer = beast::get_lowest_layer(stream).socket().remote_endpoint(pec);
        std::string peer_addr = pec ? std::string() : peer.address().to_string();
        // A named handler, passed by reference: no temporary with a
        // destructor in the co_await expression (see BackendOp).
        const h2::Handler handler = [this, peer_addr](Request& req) {
            return answer(std::move(req), peer_addr);
        };
        co_await h2::serve(stream, opts, handler);
    } else {
        co_await serve(stream, true);
    }
    // close_notify, without waiting long for the client's.
    stream.next_layer().expires_after(std::chrono::milliseconds(500));
    co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> Gateway::Impl::session_redirect(tcp::socket sock) {
    const ConnectionCount counted(connections);
    beast::tcp_stream stream(std::move(sock));
    beast::flat_buffer buf;
    http::request_parser<http::empty_body> p;
    p.header_limit(static_cast<uint32_t>(opts.max_header_bytes));
    beast::error_code ec;
    stream.expires_after(std::chrono::milliseconds(opts.client_timeout_ms));
    co_await http::async_read_header(stream, buf, p, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    std::string host(p.get()[http::field::host]);
    // Host without its port ("[v6]:port" keeps its brackets).
    const auto colon = host.rfind(':');
    if (colon != std::string::npos && host.find(']', colon) == std::string::npos)
        host.resize(colon);
    Response r{host.empty() ? http::status::bad_request : http::status::permanent_redirect,
               p.get().version()};
    r.set(http::field::server, "ember");
    if (!host.empty()) {
        const std::string port = opts.tls_port == 443 ? "" : ":" + std::to_string(opts.tls_port);
        r.set(http::field::location, "https://" + host + port + std::string(p.get().target()));
    }
    r.keep_alive(false);
    r.prepare_payload();
    co_await http::async_write(stream, r, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) co_await linger_close(stream, opts.max_body_bytes, std::chrono::seconds(1));
}

asio::awaitable<void> Gateway::Impl::session(tcp::socket sock) {
    const ConnectionCount counted(connections);
    beast::tcp_stream stream(std::move(sock));
    co_await serve(stream, false);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

template <class Stream>
asio::awaitable<void> Gateway::Impl::serve(Stream& stream, bool tls) {
    beast::flat_buffer buf;
    for (bool first = true;; first = false) {
        RequestParser parser;
        gateway_http::limit_request(parser, opts);
        beast::error_code ec;
        relay::client_deadline(stream, first ? opts.client_timeout_ms : opts.keepalive_timeout_ms);
        co_await http::async_read_header(stream, buf, parser,
                                         asio::redirect_error(asio::use_awaitable, ec));
        bool streamed = false;
        if (!ec && !parser.is_done()) {
            if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
                http::response<http::empty_body> cont{http::status::continue_, 11};
                co_await http::async_write(stream, cont,
                                           asio::redirect_error(asio::use_awaitable, ec));
            }
            // A large or chunked body goes to the instance as it arrives.
            streamed = parser.chunked() ||
                       parser.content_length().value_or(0) > gateway_http::kBufferedRequestMax;
            relay::client_deadline(stream, opts.client_timeout_ms);
            if (!ec && !streamed)
                co_await http::async_read(stream, buf, parser,
                                          asio::redirect_error(asio::use_awaitable, ec));
        }
        if (ec) {
            // A clean close between requests, or a timeout (beast closed the
            // socket): nothing to answer.
            if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
                ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
                ec == asio::ssl::error::stream_truncated) {
                if (ec == beast::error::timeout && parser.got_some())
                    metrics.counter("ember_gateway_client_errors_total", {{"reason", "timeout"}})
                        .inc();
                break;
            }
            HttpError st = kBadRequest;
            std::string msg = "malformed request: " + ec.message();
            std::string reason = "bad_request";
            if (ec == http::error::header_limit) {
                st = kHeadersTooLarge;
                msg = "request headers larger than " + std::to_string(opts.max_header_bytes) +
                      " bytes";
                reason = "header_too_large";
            } else if (ec == http::error::body_limit) {
                st = kPayloadTooLarge;
                msg = "request body larger than " + std::to_string(opts.max_body_bytes) + " bytes";
                reason = "body_too_large";
            }
            metrics.counter("ember_gateway_client_errors_total", {{"reason", reason}}).inc();
            Response r = json_error(st, msg, 11);
            r.keep_alive(false);
            relay::client_deadline(stream, opts.client_timeout_ms);
            co_await http::async_write(stream, r, asio::redirect_error(asio::use_awaitable, ec));
            if constexpr (std::is_same_v<Stream, beast::tcp_stream>)
                if (!ec)
                    co_await linger_close(stream, opts.max_body_bytes * 2, std::chrono::seconds(2));
            co_return;
        }
        const char* why = streamed && parser.get().method() == http::verb::trace
                              ? "a TRACE request must not have a body"
                              : gateway_http::refusal(parser.get());
        if (why) {
            metrics.counter("ember_gateway_client_errors_total", {{"reason", "bad_request"}}).inc();
            // A streamed body was not read: the connection cannot go on.
            const bool keep = parser.get().keep_alive() && !streamed;
            if (!co_await reply(stream, json_error(kBadRequest, why, parser.get().version()), keep))
                break;
            continue;
        }
        if (!co_await forward(stream, buf, parser, streamed, tls)) break;
    }
}

template <class Stream>
asio::awaitable<bool> Gateway::Impl::reply(Stream& client, Response res, bool keep) {
    res.keep_alive(keep);
    relay::client_deadline(client, opts.client_timeout_ms);
    beast::error_code ec;
    co_await http::async_write(client, res, asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec && keep;
}

template <class Stream>
asio::awaitable<bool> Gateway::Impl::forward(Stream& client, beast::flat_buffer& cbuf,
                                             RequestParser& parser, bool streamed, bool tls) {
    const int64_t t0 = mono_now_ns();
    Request& req = parser.get();
    const unsigned version = req.version();
    const bool head = req.method() == http::verb::head;
    const bool upgrade = gateway_http::wants_upgrade(req.base());
    // A streamed body not relayed in full ends the connection.
    bool keep = req.keep_alive();
    const auto host = req[http::field::host];
    const auto target = req.target();
    const auto route = route_request(std::string_view(host.data(), host.size()),
                                     std::string_view(target.data(), target.size()), opts.domain);
    if (!route) {
        count("", 404);
        co_return co_await reply(client,
                                 json_error(http_error(Code::kNotFound),
                                            "no service named: use Host: <name>." + opts.domain +
                                                " or the path /<name>/",
                                            version),
                                 keep && !streamed);
    }
    const std::string& svc = route->service;
    // The request goes into the stream before the instance gets it: the
    // guest then finds it there when it accepts, without another wake-up.
    // What does not fit in the socket buffer is written below, a streamed
    // body after it. The wire is made first: no descriptor is open yet if
    // that throws.
    auto& client_sock = beast::get_lowest_layer(client).socket();
    beast::error_code peer_ec;
    const auto peer = client_sock.remote_endpoint(peer_ec);
    const std::string peer_addr = peer_ec ? std::string() : peer.address().to_string();
    const char* proto = tls ? "https" : "http";
    const std::string wire =
        streamed ? gateway_http::upstream_head(req.base(), parser.chunked(), route->target,
                                               peer_addr, proto)
                 : gateway_http::upstream_wire(req, route->target, peer_addr, proto);
    const auto executor = co_await asio::this_coro::executor;
    // A request on a kept-alive stream that the instance closed before
    // answering anything (it ended the idle stream as the request came) is
    // sent once more, on a new stream, when its body was read whole.
    for (bool may_reuse = true;; may_reuse = false) {
        // While a streamed body is read from the client, its reads notice a
        // client that leaves.
        Opened o = co_await open_exchange(svc, wire, may_reuse, version, t0,
                                          streamed ? nullptr : &client_sock);
        if (o.refusal) co_return co_await reply(client, std::move(*o.refusal), keep && !streamed);
        const std::optional<Upstream>& up = o.up;
        const TicketId ticket = up->acquired.ticket;
        TicketInfo info = up->acquired.info;
        const std::shared_ptr<Exchange> ex = o.ex;
        const bool sent_whole = o.sent_whole;
        beast::error_code ec;
        std::optional<http::request_parser<http::buffer_body>> body_parser;
        std::shared_ptr<relay::Join> pump;
        if (streamed) {
            body_parser.emplace(std::move(parser));
            pump = relay::spawn_joined(
                executor, pump_request(client, cbuf, *body_parser, ex, body_parser->chunked()));
        }

        ResponseParser rp;
        gateway_http::limit_response(rp, opts);
        if (head) rp.skip(true);
        beast::flat_buffer ubuf;
        co_await http::async_read_header(ex->up, ubuf, rp,
                                         asio::redirect_error(asio::use_awaitable, ec));
        ex->header_seen = true;
        if (ec && up->reused && !streamed && !ex->timed_out && !ex->client_gone && !rp.got_some() &&
            ubuf.size() == 0) {
            ex->active = false;
            ex->timer.cancel();
            beast::error_code ignored;
            client_sock.cancel(ignored);
            ex->up.close(ignored);
            co_await finish(ticket, FinishKind::kFailed);
            metrics.counter("ember_gateway_upstream_retries_total").inc();
            continue;
        }
        const int64_t t_first = mono_now_ns();
        const bool upgraded =
            !ec && upgrade && rp.get().result() == http::status::switching_protocols;
        const bool stream_body = !ec && !upgraded && !rp.is_done() &&
                                 (rp.chunked() || !rp.content_length() ||
                                  *rp.content_length() > gateway_http::kBufferedResponseMax);
        if (!ec && !upgraded && !stream_body && !rp.is_done())
            co_await http::async_read(ex->up, ubuf, rp,
                                      asio::redirect_error(asio::use_awaitable, ec));

        FinishKind kind = FinishKind::kCompleted;
        std::optional<Response> res;
        // The stream may carry the instance's next request: the whole
        // request went in, the whole response came out and nothing after
        // it, and neither side asked to close.
        bool reusable = !ec && !upgraded && !stream_body && sent_whole && info.reusable &&
                        rp.is_done() && rp.keep_alive() && ubuf.size() == 0;
        if (upgraded || stream_body) {
            ex->timer.cancel();  // the service's timeout is for the response's header
            // A ticket handed over at acquire (a warm instance) does not
            // change until finish(): no second round trip to the control
            // plane for it.
            if (info.state != TicketState::kHanded)
                info = co_await backend_call<TicketInfo>(
                    [&](auto done) { backend.ticket_info(ticket, std::move(done)); });
            kind = co_await stream_response(client, *ex, cbuf, ubuf, rp, svc, info, t_first,
                                            version, upgraded, &keep, &reusable);
            reusable = reusable && sent_whole && info.reusable;
        }
        // Stops what ran beside this coroutine: the deadline, the client
        // watch, the request body's pump (which ends when the stream to the
        // instance closes; a stream kept alive has it finished already).
        ex->active = false;
        ex->timer.cancel();
        ex->stall.cancel();
        beast::error_code ignored;
        client_sock.cancel(ignored);
        if (reusable && pump) reusable = pump->done && co_await relay::join(*pump);
        reusable = reusable && !ex->timed_out && !ex->client_gone;
        if (reusable) {
            const int fd = ex->up.release(ignored);
            if (!ignored) pool.put(svc, info.instance_id, fd);
        } else {
            ex->up.close(ignored);
        }
        const bool body_done = !pump || co_await relay::join(*pump);
        if (upgraded || stream_body) {
            co_await finish(ticket, kind);
            metrics.histogram("ember_request_duration_seconds", {{"service", svc}})
                .observe(static_cast<double>(mono_now_ns() - t0) / 1e9);
            co_return keep&& body_done&& kind == FinishKind::kCompleted;
        }
        if (info.state != TicketState::kHanded)
            info = co_await backend_call<TicketInfo>(
                [&](auto done) { backend.ticket_info(ticket, std::move(done)); });
        if (ec)
            res = failed_exchange(ec, *ex, info, svc, version, &kind);
        else
            res = relayed(rp.release(), info, version, head, svc, t0, t_first);
        finish_now(ticket, kind);
        if (!res) co_return false;  // the client left
        co_return co_await reply(client, std::move(*res), keep && body_done);
    }
}

asio::awaitable<Gateway::Impl::Opened> Gateway::Impl::open_exchange(const std::string& svc,
                                                                    const std::string& wire,
                                                                    bool may_reuse,
                                                                    unsigned version, int64_t t0,
                                                                    tcp::socket* client_sock) {
    Opened o;
    o.up = co_await open_upstream(svc, wire, may_reuse);
    if (!o.up) {
        count(svc, 503);
        o.refusal = json_error(http_error(Code::kResourceExhausted),
                               "gateway out of file descriptors", version);
        co_return o;
    }
    const TicketId ticket = o.up->acquired.ticket;
    const TicketInfo& info = o.up->acquired.info;
    if (info.state == TicketState::kRejected) {
        ::close(o.up->fd);
        co_await finish(ticket, FinishKind::kCompleted);
        o.refusal = rejection(info, svc, version);
        co_return o;
    }
    o.ex = std::make_shared<Exchange>(co_await asio::this_coro::executor);
    beast::error_code ec;
    o.ex->up.assign(unix_stream(), o.up->fd, ec);
    if (ec) {
        ::close(o.up->fd);
        co_await finish(ticket, FinishKind::kClientGone);
        count(svc, 503);
        o.refusal = json_error(http_error(Code::kUnavailable), "gateway: " + ec.message(), version);
        co_return o;
    }
    watch(o.ex, client_sock, t0 + static_cast<int64_t>(info.timeout_ms) * 1000000);
    if (!o.up->reused && info.reusable) watch_stall(o.ex, info.instance_id);
    if (o.up->sent < wire.size()) {
        // Even when the write fails (the server answered early and
        // closed), a response may be there to read.
        beast::error_code wec;
        co_await asio::async_write(o.ex->up,
                                   asio::buffer(wire.data() + o.up->sent, wire.size() - o.up->sent),
                                   asio::redirect_error(asio::use_awaitable, wec));
        o.sent_whole = !wec;
    }
    co_return o;
}

asio::awaitable<std::optional<Upstream>> Gateway::Impl::open_upstream(const std::string& svc,
                                                                      const std::string& wire,
                                                                      bool reuse) {
    Upstream u;
    std::vector<UpstreamPool::Stream> kept;
    if (reuse) kept = pool.take(svc, gateway_protocol::kMaxReuseCandidates);
    if (!kept.empty()) {
        std::vector<uint64_t> ids;
        for (const auto& k : kept) ids.push_back(k.instance_id);
        Acquired a = co_await backend_call<Acquired>(
            [&](auto done) { backend.reuse(svc, ids, std::move(done)); });
        for (const auto& k : kept) {
            const bool stale =
                std::find(a.stale.begin(), a.stale.end(), k.instance_id) != a.stale.end();
            if (a.ticket != 0 && u.fd < 0 && k.instance_id == a.info.instance_id)
                u.fd = k.fd;
            else if (stale)
                ::close(k.fd);
            else
                pool.put(svc, k.instance_id, k.fd);
        }
        for (uint64_t id : a.stale) pool.drop_instance(id);
        if (u.fd >= 0) {
            u.acquired = std::move(a);
            u.reused = true;
            metrics.counter("ember_gateway_upstream_streams_total", {{"stream", "reused"}}).inc();
            co_return u;
        }
        if (a.ticket != 0) co_await finish(a.ticket, FinishKind::kClientGone);
    }
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) co_return std::nullopt;
    const ssize_t sent = ::send(sv[0], wire.data(), wire.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    u.sent = sent < 0 ? 0 : static_cast<size_t>(sent);
    u.fd = sv[0];
    u.acquired = co_await backend_call<Acquired>(
        [&](auto done) { backend.acquire(svc, sv[1], std::move(done)); });
    metrics.counter("ember_gateway_upstream_streams_total", {{"stream", "new"}}).inc();
    co_return u;
}

// While a request on a new stream waits for its response's header, checks
// every kStallCheck whether its instance has idle kept-alive streams: a
// server that serves one connection at a time is reading one of them and
// never accepts the new stream (see kStallCheck).
void Gateway::Impl::watch_stall(const std::shared_ptr<Exchange>& ex, uint64_t instance_id) {
    ex->stall.expires_after(kStallCheck);
    ex->stall.async_wait([this, ex, instance_id](beast::error_code e) {
        if (e || !ex->active || ex->header_seen) return;
        if (pool.has_idle(instance_id)) {
            pool.disable(instance_id);
            metrics.counter("ember_gateway_upstream_pool_disabled_total").inc();
        }
        watch_stall(ex, instance_id);
    });
}

template <class Stream>
asio::awaitable<bool> Gateway::Impl::pump_request(Stream& client, beast::flat_buffer& cbuf,
                                                  http::request_parser<http::buffer_body>& p,
                                                  std::shared_ptr<Exchange> ex, bool chunked) {
    const uint64_t to = opts.client_timeout_ms;
    const relay::RelayEnd end = co_await relay::relay_body(
        client, cbuf, p, ex->up, chunked, [&client, to] { relay::client_deadline(client, to); },
        [] {});
    // A client that stops sending its body (gone, timed out, malformed)
    // ends the exchange; an instance that stops reading it has answered.
    if (end == relay::RelayEnd::kInFailed && ex->active) {
        ex->client_gone = true;
        beast::error_code ig;
        ex->up.close(ig);
    }
    co_return end == relay::RelayEnd::kDone;
}

template <class Stream>
asio::awaitable<FinishKind> Gateway::Impl::stream_response(
    Stream& client, Exchange& ex, beast::flat_buffer& cbuf, beast::flat_buffer& ubuf,
    ResponseParser& rp, const std::string& svc, const TicketInfo& info, int64_t t_first,
    unsigned version, bool upgraded, bool* keep, bool* reusable) {
    *reusable = false;
    gateway_http::ResponseHeader h = rp.get().base();
    // A body without a length reaches an HTTP/1.1 client chunked, and an
    // HTTP/1.0 one delimited by the end of the connection.
    const bool unsized = !rp.content_length();
    const bool chunk_out = !upgraded && unsized && version == 11;
    if (upgraded || (unsized && version != 11)) *keep = false;
    gateway_http::client_head(h, chunk_out);
    h.version(version);
    if (!upgraded && version == 11 && !*keep) h.set(http::field::connection, "close");
    if (!upgraded && version != 11 && *keep) h.set(http::field::connection, "keep-alive");
    h.set("Server-Timing", timing(info, t_first));
    h.set("X-Ember-Instance", "i-" + std::to_string(info.instance_id));
    count(svc, h.result_int());
    std::ostringstream os;
    os << h;
    const std::string head_wire = std::move(os).str();
    beast::error_code ec;
    relay::client_deadline(client, opts.client_timeout_ms);
    co_await asio::async_write(client, asio::buffer(head_wire),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return FinishKind::kClientGone;
    if (upgraded) co_return co_await splice(client, ex, cbuf, ubuf);
    http::response_parser<http::buffer_body> bp(std::move(rp));
    // No cap on a body that streams: a declared length was checked against
    // max_response_bytes with the header.
    if (unsized) bp.body_limit(boost::none);
    const uint64_t to = opts.client_timeout_ms;
    const relay::RelayEnd end = co_await relay::relay_body(
        ex.up, ubuf, bp, client, chunk_out, [] {},
        [&client, to] { relay::client_deadline(client, to); });
    if (end == relay::RelayEnd::kDone) {
        // A delimited body (chunked or with a length) leaves the stream
        // ready for the next request.
        *reusable = (bp.chunked() || !unsized) && bp.keep_alive() && ubuf.size() == 0;
        co_return FinishKind::kCompleted;
    }
    *keep = false;  // the client's copy is cut short: only closing tells it
    co_return end == relay::RelayEnd::kOutFailed ? FinishKind::kClientGone : FinishKind::kFailed;
}

// The raw two-way copy of an upgraded connection, for as long as both
// sides keep it open (no deadline); bytes read past the 101 on either side
// go first.
template <class Stream>
asio::awaitable<FinishKind> Gateway::Impl::splice(Stream& client, Exchange& ex,
                                                  beast::flat_buffer& cbuf,
                                                  beast::flat_buffer& ubuf) {
    beast::error_code ec;
    relay::client_no_deadline(client);
    if (ubuf.size() > 0) {
        co_await asio::async_write(client, ubuf.data(),
                                   asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return FinishKind::kClientGone;
        ubuf.consume(ubuf.size());
    }
    if (cbuf.size() > 0) {
        co_await asio::async_write(ex.up, cbuf.data(),
                                   asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return FinishKind::kFailed;
        cbuf.consume(cbuf.size());
    }
    auto& client_sock = beast::get_lowest_layer(client).socket();
    auto down = relay::spawn_joined(co_await asio::this_coro::executor,
                                    relay::copy_until_eof(ex.up, client, [&client_sock] {
                                        beast::error_code ig;
                                        client_sock.shutdown(tcp::socket::shutdown_send, ig);
                                    }));
    const bool up_ok = co_await relay::copy_until_eof(client, ex.up, [&ex] {
        beast::error_code ig;
        ex.up.shutdown(unix_stream::socket::shutdown_send, ig);
    });
    if (!up_ok) {
        // A reset on one side ends both.
        beast::error_code ig;
        ex.up.close(ig);
    }
    const bool down_ok = co_await relay::join(*down);
    if (!down_ok) {
        beast::error_code ig;
        client_sock.shutdown(tcp::socket::shutdown_both, ig);
    }
    co_return FinishKind::kCompleted;
}

// The answer when the instance manager refused the request.
Response Gateway::Impl::rejection(const TicketInfo& i, const std::string& service,
                                  unsigned version) {
    HttpError st = http_error(Code::kUnavailable);
    if (i.reason == RejectReason::kNoService)
        st = http_error(Code::kNotFound);
    else if (i.reason == RejectReason::kInstanceFailed)
        st = kBadGateway;
    Response r = json_error(st, i.message, version);
    if (st.status == 503) r.set(http::field::retry_after, "1");
    count(service, static_cast<unsigned>(st.status));
    return r;
}

// The request of an HTTP/2 stream: the exchange of forward() with the
// response read whole (up to --max-response), over a kept-alive or new
// stream, without a client watch (the stream's reset is not seen: the
// answer is dropped).
asio::awaitable<Response> Gateway::Impl::answer(Request req, std::string peer_addr) {
    const int64_t t0 = mono_now_ns();
    const bool head = req.method() == http::verb::head;
    if (const char* why = gateway_http::refusal(req)) {
        metrics.counter("ember_gateway_client_errors_total", {{"reason", "bad_request"}}).inc();
        co_return json_error(kBadRequest, why, 11);
    }
    const auto host = req[http::field::host];
    const auto target = req.target();
    const auto route = route_request(std::string_view(host.data(), host.size()),
                                     std::string_view(target.data(), target.size()), opts.domain);
    if (!route) {
        count("", 404);
        co_return json_error(
            http_error(Code::kNotFound),
            "no service named: use Host: <name>." + opts.domain + " or the path /<name>/", 11);
    }
    const std::string svc = route->service;
    const std::string wire = gateway_http::upstream_wire(req, route->target, peer_addr, "https");
    for (bool may_reuse = true;; may_reuse = false) {
        Opened o = co_await open_exchange(svc, wire, may_reuse, 11, t0, nullptr);
        if (o.refusal) co_return std::move(*o.refusal);
        const std::optional<Upstream>& up = o.up;
        const TicketId ticket = up->acquired.ticket;
        TicketInfo info = up->acquired.info;
        const std::shared_ptr<Exchange> ex = o.ex;
        const bool sent_whole = o.sent_whole;
        beast::error_code ec;
        ResponseParser rp;
        gateway_http::limit_response(rp, opts);
        if (head) rp.skip(true);
        beast::flat_buffer ubuf;
        co_await http::async_read_header(ex->up, ubuf, rp,
                                         asio::redirect_error(asio::use_awaitable, ec));
        ex->header_seen = true;
        const bool retry = ec && up->reused && !ex->timed_out && !rp.got_some() && ubuf.size() == 0;
        const int64_t t_first = mono_now_ns();
        if (!ec && !rp.is_done())
            co_await http::async_read(ex->up, ubuf, rp,
                                      asio::redirect_error(asio::use_awaitable, ec));
        ex->active = false;
        ex->timer.cancel();
        ex->stall.cancel();
        beast::error_code ignored;
        const bool reusable = !ec && sent_whole && info.reusable && rp.is_done() &&
                              rp.keep_alive() && ubuf.size() == 0 && !ex->timed_out;
        if (reusable) {
            const int fd = ex->up.release(ignored);
            if (!ignored) pool.put(svc, info.instance_id, fd);
        } else {
            ex->up.close(ignored);
        }
        if (retry) {
            co_await finish(ticket, FinishKind::kFailed);
            metrics.counter("ember_gateway_upstream_retries_total").inc();
            continue;
        }
        if (info.state != TicketState::kHanded)
            info = co_await backend_call<TicketInfo>(
                [&](auto done) { backend.ticket_info(ticket, std::move(done)); });
        FinishKind kind = FinishKind::kCompleted;
        std::optional<Response> res;
        if (ec)
            res = failed_exchange(ec, *ex, info, svc, 11, &kind);
        else
            res = relayed(rp.release(), info, 11, head, svc, t0, t_first);
        finish_now(ticket, kind);
        co_return std::move(*res);  // no client watch: never "the client left"
    }
}

// Closes the stream to the instance at the deadline, or as soon as the
// client disconnects (which frees its slot at once) when client_sock.
void Gateway::Impl::watch(const std::shared_ptr<Exchange>& ex, tcp::socket* client_sock,
                          int64_t deadline_ns) {
    ex->timer.expires_after(std::chrono::nanoseconds(deadline_ns - mono_now_ns()));
    ex->timer.async_wait([ex](beast::error_code e) {
        if (e || !ex->active) return;
        ex->timed_out = true;
        beast::error_code ig;
        ex->up.close(ig);
    });
    if (!client_sock) return;
    client_sock->async_wait(tcp::socket::wait_read,
                            [ex, client_fd = client_sock->native_handle()](beast::error_code e) {
                                if (e || !ex->active) return;
                                char c;
                                const ssize_t n = ::recv(client_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
                                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                                    ex->client_gone = true;
                                    beast::error_code ig;
                                    ex->up.close(ig);
                                }
                            });
}

// The answer when no complete response came back: nullopt when the client
// left, else 502/503/504 by what happened; *kind is how the ticket ends.
std::optional<Response> Gateway::Impl::failed_exchange(beast::error_code ec, const Exchange& ex,
                                                       const TicketInfo& info,
                                                       const std::string& svc, unsigned version,
                                                       FinishKind* kind) {
    if (ex.client_gone) {
        *kind = FinishKind::kClientGone;
        count(svc, 499);
        return std::nullopt;
    }
    if (info.state == TicketState::kRejected) {
        *kind = FinishKind::kCompleted;
        return rejection(info, svc, version);
    }
    if (ex.timed_out) {
        *kind = FinishKind::kTimedOut;
        count(svc, 504);
        return json_error(http_error(Code::kTimeout),
                          "service '" + svc + "' did not respond within " +
                              std::to_string(info.timeout_ms) + " ms",
                          version);
    }
    *kind = FinishKind::kFailed;
    count(svc, 502);
    const std::string why =
        ec == http::error::body_limit
            ? "the response is larger than " + std::to_string(opts.max_response_bytes) + " bytes"
            : "the instance closed the connection without a complete response (" + ec.message() +
                  ")";
    return json_error(kBadGateway, "service '" + svc + "': " + why, version);
}

// The Server-Timing stages known when the response's header arrives.
std::string Gateway::Impl::timing(const TicketInfo& info, int64_t t_first) {
    const double app_ms = info.t_handed ? static_cast<double>(t_first - info.t_handed) / 1e6 : 0;
    std::string t = "queue;dur=" + ms3(info.queue_ms);
    if (info.cold) t += ", restore;dur=" + ms3(info.restore_ms);
    return t + ", app;dur=" + ms3(app_ms);
}

// The instance's response as the client gets it, with Server-Timing; counts
// it in the metrics.
Response Gateway::Impl::relayed(Response res, const TicketInfo& info, unsigned version, bool head,
                                const std::string& svc, int64_t t0, int64_t t_first) {
    gateway_http::strip_hop_by_hop(res);
    const int64_t t_end = mono_now_ns();
    const double app_ms = info.t_handed ? static_cast<double>(t_first - info.t_handed) / 1e6 : 0;
    const double total_ms = static_cast<double>(t_end - t0) / 1e6;
    res.set("Server-Timing", timing(info, t_first) + ", total;dur=" + ms3(total_ms));
    res.set("X-Ember-Instance", "i-" + std::to_string(info.instance_id));
    res.version(version);
    if (!head) res.prepare_payload();
    count(svc, res.result_int());
    metrics.histogram("ember_request_duration_seconds", {{"service", svc}}).observe(total_ms / 1e3);
    // The Server-Timing stages per service, for the console's latency chart.
    metrics.histogram("ember_request_stage_seconds", {{"service", svc}, {"stage", "queue"}})
        .observe(info.queue_ms / 1e3);
    if (info.cold)
        metrics.histogram("ember_request_stage_seconds", {{"service", svc}, {"stage", "restore"}})
            .observe(info.restore_ms / 1e3);
    metrics.histogram("ember_request_stage_seconds", {{"service", svc}, {"stage", "app"}})
        .observe(app_ms / 1e3);
    if (info.cold) {
        const std::pair<const char*, double> stages[] = {{"queue", info.queue_ms},
                                                         {"restore", info.restore_ms},
                                                         {"app", app_ms},
                                                         {"total", total_ms}};
        for (const auto& [stage, ms] : stages)
            metrics.histogram("ember_cold_start_duration_seconds", {{"stage", stage}})
                .observe(ms / 1e3);
    }
    return res;
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() { stop(); }

uint16_t Gateway::port() const {
    beast::error_code ec;
    return impl_->acceptor.local_endpoint(ec).port();
}

Result<std::unique_ptr<Gateway>> Gateway::start(const GatewayOptions& opts, GatewayBackend& backend,
                                                Metrics& metrics, int listen_fd, int tls_fd,
                                                std::shared_ptr<TlsContext> tls) {
    auto impl = std::make_unique<Impl>(opts, backend, metrics);
    if (tls_fd >= 0 && tls) {
        impl->tls = std::move(tls);
        beast::error_code ec;
        sockaddr_storage ts{};
        socklen_t tl = sizeof ts;
        if (::getsockname(tls_fd, reinterpret_cast<sockaddr*>(&ts), &tl) != 0 ||
            (ts.ss_family != AF_INET && ts.ss_family != AF_INET6))
            return Status::invalid_argument("gateway: fd " + std::to_string(tls_fd) +
                                            " is not a listening TCP socket");
        impl->tls_acceptor.assign(ts.ss_family == AF_INET ? tcp::v4() : tcp::v6(), tls_fd, ec);
        if (ec) return Status::internal("gateway: adopting the HTTPS socket: " + ec.message());
    }
    sockaddr_storage sa{};
    socklen_t len = sizeof sa;
    if (::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0 ||
        (sa.ss_family != AF_INET && sa.ss_family != AF_INET6))
        return Status::invalid_argument("gateway: fd " + std::to_string(listen_fd) +
                                        " is not a listening TCP socket");
    beast::error_code ec;
    impl->acceptor.assign(sa.ss_family == AF_INET ? tcp::v4() : tcp::v6(), listen_fd, ec);
    if (ec) return Status::internal("gateway: adopting the listening socket: " + ec.message());
    metrics.describe("ember_requests_total", "counter",
                     "Gateway requests by service and response code (499: client left)");
    metrics.describe("ember_request_duration_seconds", "histogram",
                     "Gateway request latency, arrival to response");
    metrics.describe("ember_request_stage_seconds", "histogram",
                     "Server-Timing stages of every request by service: queue, restore (requests "
                     "that started an instance), app (to first byte)");
    metrics.describe(
        "ember_cold_start_duration_seconds", "histogram",
        "Stages of requests that started an instance: queue, restore, app (to first byte), total");
    metrics.describe("ember_gateway_client_errors_total", "counter",
                     "Client requests refused by the gateway's limits");
    metrics.describe("ember_gateway_tls_handshake_failures_total", "counter",
                     "HTTPS connections whose TLS handshake failed or timed out");
    metrics.add_collector([conns = impl->connections](std::vector<GaugeSample>* out) {
        out->push_back({"ember_gateway_connections", {}, static_cast<double>(conns->load())});
    });
    Impl* p = impl.get();
    const bool redirect = impl->tls && opts.tls_redirect;
    asio::co_spawn(
        impl->io,
        impl->accept_loop(impl->acceptor, redirect ? Impl::Kind::kRedirect : Impl::Kind::kPlain),
        asio::detached);
    if (impl->tls)
        asio::co_spawn(impl->io, impl->accept_loop(impl->tls_acceptor, Impl::Kind::kTls),
                       asio::detached);
    for (int i = 0; i < std::max(1, opts.threads); ++i)
        impl->threads.emplace_back([p] {
            (void)sandbox_thread(ThreadKind::kGateway);  // in the sandboxed gateway process
            p->io.run();
        });
    return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

namespace {

void arm_readable(const std::shared_ptr<asio::posix::stream_descriptor>& d,
                  const std::shared_ptr<std::function<bool()>>& on_readable) {
    d->async_wait(asio::posix::stream_descriptor::wait_read,
                  [d, on_readable](beast::error_code ec) {
                      if (!ec && (*on_readable)()) arm_readable(d, on_readable);
                  });
}

}  // namespace

void Gateway::watch_readable(int fd, std::function<bool()> on_readable) {
    impl_->watched = std::make_shared<asio::posix::stream_descriptor>(impl_->io, fd);
    arm_readable(impl_->watched, std::make_shared<std::function<bool()>>(std::move(on_readable)));
}

void Gateway::stop() {
    if (!impl_ || impl_->stopped) return;
    impl_->stopped = true;
    asio::post(impl_->io, [p = impl_.get()] {
        beast::error_code ec;
        p->acceptor.close(ec);
        p->tls_acceptor.close(ec);
    });
    impl_->io.stop();
    for (auto& t : impl_->threads) t.join();
    // The fd is the caller's: the descriptor must not close it.
    if (impl_->watched) (void)impl_->watched->release();
}

}  // namespace ember::platform
