// gateway_h2.cpp - HTTP/2 sessions at the gateway (see gateway_h2.h): an
// nghttp2 server session fed by the TLS stream. One reader (this
// coroutine) and one writer (a coroutine woken when nghttp2 has frames to
// send) per connection, and one coroutine per request while its handler
// runs, all on the connection's strand.
#include "platform/gateway_h2.h"

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>

#include "platform/http_error.h"

namespace ember::platform::h2 {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using gateway_http::Request;
using gateway_http::Response;

bool negotiated(TlsStream& stream) {
    const unsigned char* p = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(stream.native_handle(), &p, &len);
    return len == 2 && p[0] == 'h' && p[1] == '2';
}

namespace {

// Streams a client may have open at once: each holds its request body
// (up to --max-body) until it is answered.
constexpr uint32_t kMaxStreams = 32;

struct Incoming {
    Request req;
    std::string authority;
    size_t header_bytes = 0;
    bool headers_too_large = false;
    bool body_too_large = false;
};

struct Outgoing {
    std::string body;
    size_t off = 0;
};

Response local_error(HttpError e, const std::string& message) {
    Response r{static_cast<http::status>(e.status), 11};
    r.set(http::field::server, "ember");
    r.set(http::field::content_type, "application/json");
    r.body() = json_text(error_json(e.code, message)) + "\n";
    r.prepare_payload();
    return r;
}

// Headers of an HTTP/1.1 connection, which HTTP/2 forbids (RFC 9113 8.2.2).
bool connection_specific(http::field f) {
    return f == http::field::connection || f == http::field::keep_alive ||
           f == http::field::proxy_connection || f == http::field::transfer_encoding ||
           f == http::field::upgrade || f == http::field::te;
}

struct Conn : std::enable_shared_from_this<Conn> {
    Conn(TlsStream& s, const GatewayOptions& o, Handler h, const asio::any_io_executor& ex)
        : stream(s), opts(o), handler(std::move(h)), wake(ex), idle(ex), writer_done(ex) {}
    ~Conn() {
        if (session) nghttp2_session_del(session);
    }

    TlsStream& stream;
    const GatewayOptions& opts;
    Handler handler;
    nghttp2_session* session = nullptr;
    std::map<int32_t, Incoming> incoming;
    std::map<int32_t, Outgoing> outgoing;
    size_t in_flight = 0;  // requests with the handler
    bool closed = false;   // no more I/O; late answers are dropped
    bool writing = true;   // the writer coroutine runs
    std::chrono::steady_clock::time_point last_read = std::chrono::steady_clock::now();
    asio::steady_timer wake;         // the writer waits on it for frames to send
    asio::steady_timer idle;         // closes a connection without streams
    asio::steady_timer writer_done;  // cancelled when the writer ends

    void kick() { wake.cancel(); }

    void close() {
        if (closed) return;
        closed = true;
        beast::error_code ig;
        beast::get_lowest_layer(stream).socket().close(ig);
        idle.cancel();
        kick();
    }

    void dispatch(int32_t id) {
        auto it = incoming.find(id);
        if (it == incoming.end()) return;
        Incoming in = std::move(it->second);
        incoming.erase(it);
        if (in.headers_too_large) {
            respond(id, local_error(kHeadersTooLarge, "request headers larger than " +
                                                          std::to_string(opts.max_header_bytes) +
                                                          " bytes"));
            return;
        }
        if (in.body_too_large) {
            respond(id, local_error(kPayloadTooLarge, "request body larger than " +
                                                          std::to_string(opts.max_body_bytes) +
                                                          " bytes"));
            return;
        }
        Request& req = in.req;
        req.version(11);
        if (req.count(http::field::host) == 0 && !in.authority.empty())
            req.set(http::field::host, in.authority);
        if (!req.body().empty()) req.content_length(req.body().size());
        ++in_flight;
        asio::co_spawn(wake.get_executor(), run(shared_from_this(), id, std::move(req)),
                       asio::detached);
    }

    static asio::awaitable<void> run(std::shared_ptr<Conn> c, int32_t id, Request req) {
        Response res;
        try {
            res = co_await c->handler(req);
        } catch (const std::exception& e) {
            res = local_error(kBadGateway, std::string("gateway: ") + e.what());
        }
        --c->in_flight;
        c->respond(id, std::move(res));
    }

    static ssize_t read_body(nghttp2_session*, int32_t id, uint8_t* buf, size_t length,
                             uint32_t* flags, nghttp2_data_source*, void* user) {
        auto* c = static_cast<Conn*>(user);
        auto it = c->outgoing.find(id);
        if (it == c->outgoing.end()) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
            return 0;
        }
        Outgoing& o = it->second;
        const size_t n = std::min(length, o.body.size() - o.off);
        std::memcpy(buf, o.body.data() + o.off, n);
        o.off += n;
        if (o.off == o.body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
    }

    void respond(int32_t id, Response res) {
        if (closed || !nghttp2_session_find_stream(session, id)) return;  // the client reset it
        std::vector<std::pair<std::string, std::string>> fields;
        fields.emplace_back(":status", std::to_string(res.result_int()));
        for (const auto& f : res) {
            if (connection_specific(f.name())) continue;
            std::string name(f.name_string());
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
            fields.emplace_back(std::move(name), std::string(f.value()));
        }
        std::vector<nghttp2_nv> nva;
        for (auto& [n, v] : fields)
            nva.push_back({reinterpret_cast<uint8_t*>(n.data()),
                           reinterpret_cast<uint8_t*>(v.data()), n.size(), v.size(),
                           NGHTTP2_NV_FLAG_NONE});
        nghttp2_data_provider prd{};
        nghttp2_data_provider* data = nullptr;
        if (!res.body().empty()) {
            outgoing[id] = Outgoing{std::move(res.body()), 0};
            prd.read_callback = read_body;
            data = &prd;
        }
        if (nghttp2_submit_response(session, id, nva.data(), nva.size(), data) != 0)
            outgoing.erase(id);
        kick();
    }

    // Sends what nghttp2 has queued; waits for more until the session ends.
    static asio::awaitable<void> writer(std::shared_ptr<Conn> c) {
        std::string out;
        while (!c->closed) {
            out.clear();
            for (;;) {
                const uint8_t* data = nullptr;
                const ssize_t n = nghttp2_session_mem_send(c->session, &data);
                if (n < 0) {
                    c->close();
                    break;
                }
                if (n == 0) break;
                out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
                if (out.size() >= (256u << 10)) break;
            }
            if (c->closed) break;
            beast::error_code ec;
            if (out.empty()) {
                if (!nghttp2_session_want_read(c->session) &&
                    !nghttp2_session_want_write(c->session)) {
                    c->close();  // GOAWAY sent and every stream done
                    break;
                }
                c->wake.expires_at(asio::steady_timer::time_point::max());
                co_await c->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                continue;
            }
            co_await asio::async_write(c->stream, asio::buffer(out),
                                       asio::redirect_error(asio::use_awaitable, ec));
            if (ec) c->close();
        }
        c->writing = false;
        c->writer_done.cancel();
    }

    // Closes the connection after keepalive_timeout_ms without a read while
    // no request is open (a client that stops reading our frames stalls
    // the writer; it too is closed then).
    void arm_idle() {
        idle.expires_after(std::chrono::milliseconds(opts.keepalive_timeout_ms));
        idle.async_wait([self = shared_from_this()](beast::error_code e) {
            if (e || self->closed) return;
            const auto quiet = std::chrono::steady_clock::now() - self->last_read;
            if (self->in_flight == 0 && self->incoming.empty() &&
                quiet >= std::chrono::milliseconds(self->opts.keepalive_timeout_ms))
                self->close();
            else
                self->arm_idle();
        });
    }
};

Conn* of(void* user) { return static_cast<Conn*>(user); }

int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
        of(user)->incoming[frame->hd.stream_id] = Incoming{};
    return 0;
}

int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
              const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    Conn* c = of(user);
    auto it = c->incoming.find(frame->hd.stream_id);
    if (it == c->incoming.end()) return 0;
    Incoming& in = it->second;
    in.header_bytes += namelen + valuelen + 4;
    if (in.header_bytes > c->opts.max_header_bytes) in.headers_too_large = true;
    if (in.headers_too_large) return 0;
    const beast::string_view n(reinterpret_cast<const char*>(name), namelen);
    const beast::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":method") {
        const http::verb verb = http::string_to_verb(v);
        if (verb == http::verb::unknown)
            in.req.method_string(v);
        else
            in.req.method(verb);
    } else if (n == ":path") {
        in.req.target(v);
    } else if (n == ":authority") {
        in.authority = std::string(v.data(), v.size());
    } else if (n.empty() || n[0] == ':') {
        // :scheme, :protocol: not carried to HTTP/1.1
    } else if (n == "cookie" && in.req.count(http::field::cookie)) {
        // HTTP/2 splits cookies; HTTP/1.1 has one header (RFC 9113 8.2.3).
        in.req.set(http::field::cookie, std::string(in.req[http::field::cookie]) + "; " +
                                            std::string(v.data(), v.size()));
    } else {
        in.req.insert(n, v);
    }
    return 0;
}

int on_data_chunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                  void* user) {
    Conn* c = of(user);
    auto it = c->incoming.find(id);
    if (it == c->incoming.end()) return 0;
    Incoming& in = it->second;
    if (in.req.body().size() + len > c->opts.max_body_bytes) in.body_too_large = true;
    if (!in.body_too_large) in.req.body().append(reinterpret_cast<const char*>(data), len);
    return 0;
}

int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        of(user)->dispatch(frame->hd.stream_id);
    return 0;
}

int on_stream_close(nghttp2_session*, int32_t id, uint32_t, void* user) {
    of(user)->incoming.erase(id);
    of(user)->outgoing.erase(id);
    return 0;
}

}  // namespace

asio::awaitable<void> serve(TlsStream& stream, const GatewayOptions& opts, const Handler& handler) {
    const auto executor = co_await asio::this_coro::executor;
    auto c = std::make_shared<Conn>(stream, opts, handler, executor);
    nghttp2_session_callbacks* cbs = nullptr;
    if (nghttp2_session_callbacks_new(&cbs) != 0) co_return;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    const int rv = nghttp2_session_server_new(&c->session, cbs, c.get());
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0) co_return;
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxStreams},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(opts.max_header_bytes)}};
    nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    beast::get_lowest_layer(stream).expires_never();  // arm_idle instead
    asio::co_spawn(c->wake.get_executor(), Conn::writer(c), asio::detached);
    c->arm_idle();

    std::array<char, 16384> buf;
    while (!c->closed) {
        beast::error_code ec;
        const size_t n = co_await stream.async_read_some(
            asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
        if (ec || c->closed) break;
        c->last_read = std::chrono::steady_clock::now();
        const ssize_t used =
            nghttp2_session_mem_recv(c->session, reinterpret_cast<const uint8_t*>(buf.data()), n);
        if (used < 0) {
            // A protocol error: GOAWAY goes out, then the writer ends it.
            nghttp2_session_terminate_session(c->session, NGHTTP2_PROTOCOL_ERROR);
            c->kick();
            break;
        }
        c->kick();
    }
    // Let the writer send what is queued (a GOAWAY; answers already made),
    // then stop: the stream belongs to the caller once this returns.
    if (!c->closed && c->writing && nghttp2_session_want_write(c->session)) {
        c->writer_done.expires_after(std::chrono::seconds(1));
        beast::error_code ec;
        co_await c->writer_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    c->close();
    if (c->writing) {
        c->writer_done.expires_after(std::chrono::seconds(5));
        beast::error_code ec;
        co_await c->writer_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

}  // namespace ember::platform::h2
