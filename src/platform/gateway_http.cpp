// gateway_http.cpp - the gateway's message handling (see gateway_http.h).
#include "platform/gateway_http.h"

#include <sstream>

namespace ember::platform::gateway_http {

namespace {

constexpr http::field kHopByHop[] = {http::field::connection,       http::field::keep_alive,
                                     http::field::proxy_connection, http::field::transfer_encoding,
                                     http::field::upgrade,          http::field::te,
                                     http::field::trailer,          http::field::expect};

}  // namespace

bool hop_by_hop(http::field f) {
    for (http::field h : kHopByHop)
        if (f == h) return true;
    return false;
}

void limit_request(RequestParser& p, const GatewayOptions& opts) {
    p.header_limit(static_cast<uint32_t>(opts.max_header_bytes));
    p.body_limit(opts.max_body_bytes);
}

void limit_response(ResponseParser& p, const GatewayOptions& opts) {
    p.header_limit(64 << 10);
    p.body_limit(opts.max_response_bytes);
}

const char* refusal(const Request& req) {
    if (req.method() == http::verb::trace && !req.body().empty())
        return "a TRACE request must not have a body";
    return nullptr;
}

std::string upstream_wire(Request& req, const std::string& target, const std::string& peer_addr) {
    Request up_req{req.method(), boost::beast::string_view(target.data(), target.size()), 11};
    if (req.method() == http::verb::unknown) up_req.method_string(req.method_string());
    for (const auto& f : req)
        if (!hop_by_hop(f.name())) up_req.insert(f.name_string(), f.value());
    if (!peer_addr.empty()) up_req.set("X-Forwarded-For", peer_addr);
    up_req.set("X-Forwarded-Proto", "http");
    up_req.set(http::field::connection, "close");
    up_req.body() = std::move(req.body());
    up_req.prepare_payload();
    std::ostringstream os;
    os << up_req;
    return std::move(os).str();
}

void strip_hop_by_hop(Response& res) {
    for (http::field f : kHopByHop) res.erase(f);
}

}  // namespace ember::platform::gateway_http
