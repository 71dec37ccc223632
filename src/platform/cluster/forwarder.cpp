// forwarder.cpp - Forwarder (see forwarder.h): one Asio thread of its own;
// every request is a coroutine on it, so the connection pool needs no lock.
#include "platform/cluster/forwarder.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <map>
#include <thread>
#include <vector>
// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange
// clang-format on
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sstream>

#include "platform/http_error.h"

namespace ember::platform::cluster {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

namespace {

constexpr http::field kHopByHop[] = {http::field::connection,       http::field::keep_alive,
                                     http::field::proxy_connection, http::field::te,
                                     http::field::trailer,          http::field::transfer_encoding,
                                     http::field::upgrade,          http::field::content_length};

template <class Fields>
void strip_hop_by_hop(Fields& f) {
    for (http::field h : kHopByHop) f.erase(h);
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Upgrades (WebSocket) and server-sent events are relayed as streams by the
// gateway; a forwarded request is a whole message, so those stay here. The
// gateway wrote the request's head into the stream before it asked for an
// instance: a peek sees it.
bool is_stream_request(int fd) {
    char buf[8192];
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    if (n <= 0) return true;  // nothing to look at yet: do not guess, serve here
    std::string head = lower(std::string(buf, static_cast<size_t>(n)));
    const size_t end = head.find("\r\n\r\n");
    if (end == std::string::npos) return true;  // a head larger than the peek
    head.resize(end + 2);
    return head.find("\r\nupgrade:") != std::string::npos ||
           head.find("text/event-stream") != std::string::npos;
}

Response error_response(HttpError e, const std::string& message) {
    Response r{static_cast<http::status>(e.status), 11};
    r.set(http::field::server, "ember");
    r.set(http::field::content_type, "application/json");
    if (e.status == 503) r.set(http::field::retry_after, "1");
    r.body() = json_text(error_json(e.code, message)) + "\n";
    r.prepare_payload();
    return r;
}

Response rejection(const TicketInfo& i) {
    if (i.reason == RejectReason::kNoService)
        return error_response(http_error(Code::kNotFound), i.message);
    if (i.reason == RejectReason::kInstanceFailed) return error_response(kBadGateway, i.message);
    return error_response(http_error(Code::kUnavailable), i.message);
}

template <class Message>
std::string to_wire(const Message& m) {
    std::ostringstream os;
    os << m;
    return std::move(os).str();
}

bool parse_addr(const std::string& s, tcp::endpoint* ep) {
    const size_t colon = s.rfind(':');
    if (colon == std::string::npos) return false;
    std::string host = s.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    beast::error_code ec;
    const auto a = asio::ip::make_address(host, ec);
    if (ec) return false;
    unsigned long port = 0;
    try {
        port = std::stoul(s.substr(colon + 1));
    } catch (...) {
        return false;
    }
    if (port == 0 || port > 65535) return false;
    *ep = tcp::endpoint(a, static_cast<uint16_t>(port));
    return true;
}

// How one attempt at a peer ended.
struct Outcome {
    bool answered = false;  // *res holds the peer's response
    bool sent = false;      // the request may have reached the peer (do not retry elsewhere)
    std::string error;
};

}  // namespace

struct Forwarder::Impl {
    Impl(ForwarderOptions o, InstanceManager& m, Placement& p, Metrics& met)
        : opts(std::move(o)), manager(m), placement(p), metrics(met), work(io.get_executor()) {}

    asio::awaitable<void> relay(std::string service, int fd, std::vector<Peer> peers,
                                uint64_t timeout_ms);
    asio::awaitable<Outcome> attempt(const Peer& peer, Request& req, uint64_t timeout_ms,
                                     bool fresh, Response* res);
    asio::awaitable<Response> serve_local(std::string service, std::string wire, bool head);
    asio::awaitable<void> answer(std::string service, std::string wire,
                                 std::function<void(std::string)> done);

    ForwarderOptions opts;
    InstanceManager& manager;
    Placement& placement;
    Metrics& metrics;
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> work;
    std::thread thread;
    // Idle keep-alive connections by peer address (the io thread only).
    std::map<std::string, std::vector<std::unique_ptr<beast::tcp_stream>>> idle;
};

Forwarder::Forwarder(ForwarderOptions opts, InstanceManager& manager, Placement& placement,
                     Metrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(opts), manager, placement, metrics)) {
    metrics.describe("ember_forwarded_requests_total", "counter",
                     "Requests forwarded between nodes: direction out (sent to a peer), in "
                     "(served for a peer), fallback (no peer answered: served here)");
    Impl* p = impl_.get();
    impl_->thread = std::thread([p] { p->io.run(); });
}

Forwarder::~Forwarder() { stop(); }

void Forwarder::stop() {
    if (!impl_->thread.joinable()) return;
    impl_->work.reset();
    impl_->io.stop();
    impl_->thread.join();
}

bool Forwarder::take(const std::string& service, int fd, uint64_t* timeout_ms) {
    const ServiceStatus st = impl_->manager.status(service);
    if (!st.exists) return false;
    const ServiceSpec& spec = st.record.spec;  // the cluster-wide min/max
    if (impl_->placement.my_share(spec.max_instances) > 0 && impl_->manager.can_take_now(service))
        return false;
    if (is_stream_request(fd)) return false;
    std::vector<Peer> peers = impl_->placement.targets(spec.max_instances);
    if (peers.empty()) return false;
    *timeout_ms = spec.timeout_ms;
    asio::co_spawn(impl_->io, impl_->relay(service, fd, std::move(peers), spec.timeout_ms),
                   asio::detached);
    return true;
}

void Forwarder::serve_forwarded(const std::string& service, std::string wire,
                                std::function<void(std::string)> done) {
    asio::co_spawn(impl_->io, impl_->answer(service, std::move(wire), std::move(done)),
                   asio::detached);
}

asio::awaitable<void> Forwarder::Impl::answer(std::string service, std::string wire,
                                              std::function<void(std::string)> done) {
    const bool head = wire.rfind("HEAD ", 0) == 0;
    Response res = co_await serve_local(service, std::move(wire), head);
    metrics.counter("ember_forwarded_requests_total", {{"direction", "in"}}).inc();
    res.set(kNodeHeader, placement.self());
    res.keep_alive(true);
    done(to_wire(res));
}

// The gateway's side of one request, done here: the request into a stream
// pair, its other end to the instance manager, the response back.
asio::awaitable<Response> Forwarder::Impl::serve_local(std::string service, std::string wire,
                                                       bool head) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        co_return error_response(http_error(Code::kResourceExhausted),
                                 "emberd out of file descriptors");
    ssize_t sent = ::send(sv[0], wire.data(), wire.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < 0) sent = 0;
    TicketPtr t = manager.acquire(service, sv[1]);
    TicketInfo info = manager.ticket_info(t);
    if (info.state == TicketState::kRejected) {
        ::close(sv[0]);
        manager.finish(t, FinishKind::kCompleted);
        co_return rejection(info);
    }
    auto up = std::make_shared<unix_stream::socket>(io);
    beast::error_code ec;
    up->assign(unix_stream(), sv[0], ec);
    if (ec) {
        ::close(sv[0]);
        manager.finish(t, FinishKind::kClientGone);
        co_return error_response(http_error(Code::kUnavailable), "emberd: " + ec.message());
    }
    auto timed_out = std::make_shared<bool>(false);
    asio::steady_timer timer(io);
    timer.expires_after(std::chrono::milliseconds(info.timeout_ms ? info.timeout_ms : 30000));
    timer.async_wait([up, timed_out](beast::error_code e) {
        if (e) return;
        *timed_out = true;
        beast::error_code ig;
        up->close(ig);
    });
    if (static_cast<size_t>(sent) < wire.size())
        co_await asio::async_write(*up, asio::buffer(wire.data() + sent, wire.size() - sent),
                                   asio::redirect_error(asio::use_awaitable, ec));
    http::response_parser<http::string_body> rp;
    rp.body_limit(opts.max_response_bytes);
    if (head) rp.skip(true);
    beast::flat_buffer buf;
    co_await http::async_read(*up, buf, rp, asio::redirect_error(asio::use_awaitable, ec));
    timer.cancel();
    beast::error_code ig;
    up->close(ig);
    if (!ec) {
        manager.finish(t, FinishKind::kCompleted);
        Response res = rp.release();
        const bool keep_length = head && res.has_content_length();
        const std::string length =
            keep_length ? std::string(res[http::field::content_length]) : std::string();
        strip_hop_by_hop(res);
        if (keep_length)
            res.set(http::field::content_length, length);
        else
            res.prepare_payload();
        co_return res;
    }
    info = manager.ticket_info(t);
    if (info.state == TicketState::kRejected) {
        manager.finish(t, FinishKind::kCompleted);
        co_return rejection(info);
    }
    if (*timed_out) {
        manager.finish(t, FinishKind::kTimedOut);
        co_return error_response(http_error(Code::kTimeout),
                                 "service '" + service + "' did not respond within " +
                                     std::to_string(info.timeout_ms) + " ms");
    }
    manager.finish(t, FinishKind::kFailed);
    co_return error_response(kBadGateway,
                             "service '" + service +
                                 "': the instance closed the connection without a complete "
                                 "response (" +
                                 ec.message() + ")");
}

// One try at a peer over a pooled connection (fresh: a new one).
asio::awaitable<Outcome> Forwarder::Impl::attempt(const Peer& peer, Request& req,
                                                  uint64_t timeout_ms, bool fresh, Response* res) {
    Outcome out;
    std::unique_ptr<beast::tcp_stream> conn;
    auto& pool = idle[peer.api];
    if (!fresh && !pool.empty()) {
        conn = std::move(pool.back());
        pool.pop_back();
    }
    beast::error_code ec;
    if (!conn) {
        fresh = true;
        tcp::endpoint ep;
        if (!parse_addr(peer.api, &ep)) {
            out.error = "bad address '" + peer.api + "'";
            co_return out;
        }
        conn = std::make_unique<beast::tcp_stream>(io);
        conn->expires_after(std::chrono::milliseconds(1000));
        co_await conn->async_connect(ep, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            out.error = "connect: " + ec.message();
            co_return out;
        }
        conn->socket().set_option(tcp::no_delay(true), ec);
    }
    conn->expires_after(std::chrono::milliseconds(timeout_ms + 1000));
    co_await http::async_write(*conn, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        // A pooled connection the peer closed meanwhile: nothing was served.
        out.error = "write: " + ec.message();
        co_return out;
    }
    beast::flat_buffer buf;
    http::response_parser<http::string_body> rp;
    rp.body_limit(opts.max_response_bytes);
    if (req.method() == http::verb::head) rp.skip(true);
    co_await http::async_read_header(*conn, buf, rp, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        // Nothing came back. On a pooled connection that is a peer that had
        // closed it (idle): the request was not taken. On a fresh one the
        // peer may have died with the request: it is not sent elsewhere.
        out.sent = fresh;
        out.error = "reading the response: " + ec.message();
        co_return out;
    }
    out.sent = true;
    if (!rp.is_done())
        co_await http::async_read(*conn, buf, rp, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        out.error = "reading the response: " + ec.message();
        co_return out;
    }
    *res = rp.release();
    out.answered = true;
    if (res->keep_alive() && buf.size() == 0 && pool.size() < opts.max_idle_per_peer) {
        conn->expires_never();
        pool.push_back(std::move(conn));
    }
    co_return out;
}

asio::awaitable<void> Forwarder::Impl::relay(std::string service, int fd, std::vector<Peer> peers,
                                             uint64_t timeout_ms) {
    unix_stream::socket sock(io);
    beast::error_code ec;
    sock.assign(unix_stream(), fd, ec);
    if (ec) {
        ::close(fd);
        co_return;
    }
    // The gateway has the whole request or sends it at once (it read it
    // within its client timeout); the deadline only bounds a broken stream.
    beast::basic_stream<unix_stream, asio::any_io_executor> stream(std::move(sock));
    stream.expires_after(std::chrono::milliseconds(timeout_ms + 1000));
    beast::flat_buffer buf;
    http::request_parser<http::string_body> p;
    p.header_limit(64 << 10);
    p.body_limit(opts.max_body_bytes);
    co_await http::async_read(stream, buf, p, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;  // the gateway answers the client (its stream ends)
    Request req = p.release();
    const std::string target = std::string(req.target());
    Request out{req.method(), kForwardPrefix + service + target, 11};
    for (const auto& f : req) out.insert(f.name_string(), f.value());
    strip_hop_by_hop(out);
    out.erase(kClusterAuthHeader);
    out.set(kClusterAuthHeader, "Bearer " + opts.token);
    out.set(kHopHeader, placement.self());
    out.keep_alive(true);
    out.body() = std::move(req.body());
    out.prepare_payload();

    Response res;
    bool have = false;
    for (const Peer& peer : peers) {
        Outcome o = co_await attempt(peer, out, timeout_ms, false, &res);
        if (!o.answered && !o.sent && o.error.rfind("connect", 0) != 0)
            o = co_await attempt(peer, out, timeout_ms, true, &res);  // a stale pooled one
        if (o.answered) {
            have = true;
            metrics.counter("ember_forwarded_requests_total", {{"direction", "out"}}).inc();
            break;
        }
        spdlog::warn("cluster: forwarding a request for {} to node {}: {}", service, peer.name,
                     o.error);
        if (o.sent) {
            res = error_response(kBadGateway, "service '" + service + "': node " + peer.name +
                                                  " failed during the request (" + o.error + ")");
            have = true;
            break;
        }
    }
    if (!have) {
        // No peer could be reached: serve here after all (queued if it must).
        metrics.counter("ember_forwarded_requests_total", {{"direction", "fallback"}}).inc();
        Request local{req.method(), target, 11};
        for (const auto& f : out)
            if (f.name_string() != kClusterAuthHeader && f.name_string() != kHopHeader)
                local.insert(f.name_string(), f.value());
        local.keep_alive(false);
        local.body() = std::move(out.body());
        local.prepare_payload();
        res = co_await serve_local(service, to_wire(local), req.method() == http::verb::head);
    }
    res.keep_alive(false);
    const std::string wire = to_wire(res);
    co_await asio::async_write(stream, asio::buffer(wire),
                               asio::redirect_error(asio::use_awaitable, ec));
    stream.socket().shutdown(unix_stream::socket::shutdown_send, ec);
}

}  // namespace ember::platform::cluster
