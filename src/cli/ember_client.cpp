#include "ember_client.h"

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange
// clang-format on
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace ember::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

void throw_failure(const std::string& msg, int code) { throw Failure{code, msg}; }

Endpoint parse_url(const std::string& url) {
    std::string rest = url;
    if (rest.rfind("http://", 0) == 0)
        rest = rest.substr(7);
    else if (rest.find("://") != std::string::npos)
        throw_failure("--api: only http:// URLs are supported, got '" + url + "'", kExitUsage);
    if (const auto slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos || colon == 0) return {rest.empty() ? "127.0.0.1" : rest, "80"};
    return {rest.substr(0, colon), rest.substr(colon + 1)};
}

namespace {

std::string read_token(const Global& g) {
    if (!g.token.empty()) return g.token;
    if (const char* t = std::getenv("EMBER_TOKEN"); t && *t) return t;
    std::string dir = g.data_dir;
    if (dir.empty()) {
        const char* d = std::getenv("EMBER_DATA_DIR");
        dir = d && *d ? d : "./var/ember";
    }
    // Without a directory given, the packaged service's (emberd.service,
    // /var/lib/ember) is the next place to look.
    std::string tried = dir + "/token";
    std::ifstream f(dir + "/token");
    if (!f && g.data_dir.empty() && dir == "./var/ember") {
        f.open("/var/lib/ember/token");
        tried += " and /var/lib/ember/token";
    }
    std::string tok;
    if (!f || !std::getline(f, tok) || tok.empty())
        throw_failure(
            "no API token: pass --token, set EMBER_TOKEN, or point --data-dir (EMBER_DATA_DIR) at "
            "emberd's data directory (tried " +
            tried + ")");
    return tok;
}

}  // namespace

namespace {

tcp::socket connect(asio::io_context& io, const Endpoint& ep) {
    beast::error_code ec;
    tcp::resolver resolver(io);
    auto results = resolver.resolve(ep.host, ep.port, ec);
    if (ec) throw_failure("cannot resolve " + ep.host + ": " + ec.message());
    tcp::socket sock(io);
    asio::connect(sock, results, ec);
    if (ec)
        throw_failure("cannot connect to " + ep.host + ":" + ep.port + ": " + ec.message() +
                      " (is emberd running?)");
    return sock;
}

}  // namespace

HttpResult request(const Endpoint& ep, const std::string& method_name, const std::string& target,
                   const std::string& token, const std::string& body,
                   const std::string& content_type, const std::string& host_header,
                   const Headers& extra) {
    const http::verb method = http::string_to_verb(method_name);
    if (method == http::verb::unknown)
        throw_failure("unknown HTTP method '" + method_name + "'", kExitUsage);
    asio::io_context io;
    beast::tcp_stream stream(connect(io, ep));
    beast::error_code ec;
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, host_header.empty() ? ep.host + ":" + ep.port : host_header);
    req.set(http::field::user_agent, "ember-cli");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    for (const auto& [k, v] : extra) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req, ec);
    if (ec) throw_failure("sending the request: " + ec.message());
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1ull << 30);
    if (method == http::verb::head) parser.skip(true);
    http::read(stream, buf, parser, ec);
    if (ec) throw_failure("reading the response: " + ec.message());
    HttpResult r;
    r.status = parser.get().result_int();
    r.body = std::move(parser.get().body());
    for (const auto& f : parser.get())
        r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    return r;
}

std::string api_error(const HttpResult& r) {
    auto j = json::parse(r.body, nullptr, false);
    if (!j.is_discarded() && j.contains("error") && j["error"].contains("message") &&
        j["error"]["message"].is_string())
        return j["error"]["message"].get<std::string>();
    return "HTTP " + std::to_string(r.status);
}

Client::Client(const Global& g) : ep_(parse_url(g.api)), token_(read_token(g)) {}

json Client::call(const std::string& method, const std::string& target, const std::string& body,
                  const std::string& content_type) {
    auto r = request(ep_, method, target, token_, body, body.empty() ? "" : content_type);
    if (r.status >= 400) {
        // Deploy failures carry the program's output after the first line.
        const std::string msg = api_error(r);
        const auto nl = msg.find('\n');
        if (nl == std::string::npos) throw_failure(msg);
        std::fprintf(stderr, "ember: %s\n", msg.substr(0, nl).c_str());
        std::string rest = msg.substr(nl + 1);
        size_t i = 0;
        while (i < rest.size()) {
            size_t j = rest.find('\n', i);
            if (j == std::string::npos) j = rest.size();
            std::fprintf(stderr, "  | %s\n", rest.substr(i, j - i).c_str());
            i = j + 1;
        }
        throw Failure{kExitError, ""};
    }
    if (r.body.empty()) return json::object();
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_discarded()) throw_failure("the API answered with something that is not JSON");
    if (!j.is_object()) throw_failure("the API answered with JSON that is not an object");
    return j;
}

void stream_get(const Endpoint& ep, const std::string& target, const std::string& token,
                const std::function<void(const char*, size_t)>& sink) {
    asio::io_context io;
    beast::tcp_stream stream(connect(io, ep));
    beast::error_code ec;
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, ep.host);
    req.set(http::field::authorization, "Bearer " + token);
    http::write(stream, req, ec);
    beast::flat_buffer buf;
    http::response_parser<http::buffer_body> p;
    p.body_limit(boost::none);
    if (!ec) http::read_header(stream, buf, p, ec);
    if (ec) throw_failure("reading the stream: " + ec.message());
    if (p.get().result_int() >= 400) throw_failure("HTTP " + std::to_string(p.get().result_int()));
    char out[8192];
    while (!p.is_done()) {
        p.get().body().data = out;
        p.get().body().size = sizeof out;
        http::read_some(stream, buf, p,
                        ec);  // returns with what arrived (read() would wait for 8 KiB)
        if (ec == http::error::need_buffer) ec = {};
        if (ec) break;
        sink(out, sizeof out - p.get().body().size);
    }
}

}  // namespace ember::cli
