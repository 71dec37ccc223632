// api_forward.cpp - see api_forward.h.
#include "platform/api_forward.h"

#include <optional>
#include <sstream>

#include "platform/http_error.h"
#include "platform/linger.h"

namespace ember::platform {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// A peer's request body is at most its gateway's limit; this bounds what a
// holder of the cluster token can make this node buffer.
constexpr uint64_t kMaxForwardedBody = 64ull << 20;
constexpr auto kReadTimeout = std::chrono::seconds(60);

http::response<http::string_body> refusal(HttpError e, const std::string& message) {
    http::response<http::string_body> r{static_cast<http::status>(e.status), 11};
    r.set(http::field::server, "emberd");
    r.set(http::field::content_type, "application/json");
    r.body() = json_text(error_json(e.code, message)) + "\n";
    r.keep_alive(false);
    r.prepare_payload();
    return r;
}

}  // namespace

asio::awaitable<bool> serve_forwarded_request(beast::tcp_stream& stream, beast::flat_buffer& buf,
                                              http::request_parser<http::string_body>& parser,
                                              Api& api,
                                              std::shared_ptr<const ForwardHandler> handler) {
    beast::error_code ec;
    auto& h = parser.get();
    std::optional<http::response<http::string_body>> refused;
    if (!handler || !api.node_authorized(std::string(h["X-Ember-Cluster-Auth"])))
        refused = refusal(kUnauthorized, handler ? "invalid cluster token" : "not a cluster node");
    else if (h[http::field::upgrade] != "")
        refused = refusal(http_error(Code::kInvalidArgument), "upgrades are not forwarded");
    else if (parser.content_length() && *parser.content_length() > kMaxForwardedBody)
        refused = refusal(http_error(Code::kResourceExhausted), "forwarded body too large");
    if (refused) {
        // The rest of the request was not read: answer and close.
        co_await http::async_write(stream, *refused, asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) co_await linger_close(stream, 64ull << 20, std::chrono::seconds(2));
        co_return false;
    }
    if (!parser.is_done()) {
        parser.body_limit(kMaxForwardedBody);
        stream.expires_after(kReadTimeout);
        co_await http::async_read(stream, buf, parser,
                                  asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return false;
    }
    stream.expires_never();  // the service's own timeout applies on this node
    http::request<http::string_body> req = parser.release();
    const bool keep = req.keep_alive();
    // /v1/cluster/forward/<service><target as the instance gets it>
    std::string rest = std::string(req.target()).substr(std::string("/v1/cluster/forward/").size());
    const size_t cut = rest.find_first_of("/?");
    const std::string service = rest.substr(0, cut);
    std::string target = cut == std::string::npos ? "/" : rest.substr(cut);
    if (target[0] == '?') target = "/" + target;
    req.target(target);
    req.erase("X-Ember-Cluster-Auth");
    req.keep_alive(false);  // upstream: one request per stream, as the gateway sends
    req.prepare_payload();
    std::ostringstream os;
    os << req;

    // The forwarder answers on its own thread; a timer that it cancels
    // resumes this coroutine on the server's (as api_server.cpp does for
    // its handler pool).
    auto result = std::make_shared<std::string>();
    auto done = std::make_shared<asio::steady_timer>(stream.get_executor(),
                                                     asio::steady_timer::time_point::max());
    (*handler)(service, std::move(os).str(), [result, done](std::string wire) {
        asio::post(done->get_executor(), [result, done, w = std::move(wire)]() mutable {
            *result = std::move(w);
            done->cancel();
        });
    });
    co_await done->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_await asio::async_write(stream, asio::buffer(*result),
                               asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec && keep;
}

}  // namespace ember::platform
