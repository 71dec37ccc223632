#include "platform/cluster/http_call.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

namespace ember::platform::cluster {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Result<HttpReply> http_call(const std::string& method, const std::string& host, uint16_t port,
                            const std::string& target, const std::string& body,
                            const std::string& authorization, int timeout_ms, uint64_t max_body) {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    tcp::resolver resolver(ioc);
    beast::flat_buffer buf;
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host + ":" + std::to_string(port));
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    if (!authorization.empty()) req.set(http::field::authorization, authorization);
    req.body() = body;
    req.prepare_payload();
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_body);
    beast::error_code result = asio::error::would_block;
    stream.expires_after(std::chrono::milliseconds(timeout_ms));
    resolver.async_resolve(
        host, std::to_string(port), [&](beast::error_code ec, tcp::resolver::results_type r) {
            if (ec) {
                result = ec;
                return;
            }
            stream.async_connect(r, [&](beast::error_code ec2, const tcp::endpoint&) {
                if (ec2) {
                    result = ec2;
                    return;
                }
                http::async_write(stream, req, [&](beast::error_code ec3, size_t) {
                    if (ec3) {
                        result = ec3;
                        return;
                    }
                    http::async_read(stream, buf, parser,
                                     [&](beast::error_code ec4, size_t) { result = ec4; });
                });
            });
        });
    ioc.run();
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    const std::string where = "http://" + host + ":" + std::to_string(port);
    if (result == http::error::body_limit)
        return Status::resource_exhausted(where + target + ": reply larger than " +
                                          std::to_string(max_body) + " bytes");
    if (result) return Status::unavailable(where + " unreachable: " + result.message());
    HttpReply r;
    r.status = parser.get().result_int();
    r.body = std::move(parser.get().body());
    return r;
}

}  // namespace ember::platform::cluster
