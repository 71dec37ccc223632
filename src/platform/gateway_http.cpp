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

bool wants_upgrade(const RequestHeader& h) {
    if (h.version() != 11) return false;
    const auto up = h[http::field::upgrade];
    if (up.empty()) return false;
    return http::token_list(h[http::field::connection]).exists("upgrade");
}

namespace {

// The request line and end-to-end headers an instance gets, and the
// connection headers: none (HTTP/1.1 keeps the stream alive for the next
// request), or the upgrade's.
template <class Out>
void upstream_fields(const RequestHeader& req, Out& up, const std::string& peer_addr,
                     const char* proto) {
    if (req.method() == http::verb::unknown) up.method_string(req.method_string());
    for (const auto& f : req)
        if (!hop_by_hop(f.name())) up.insert(f.name_string(), f.value());
    if (!peer_addr.empty()) up.set("X-Forwarded-For", peer_addr);
    up.set("X-Forwarded-Proto", proto);
    if (wants_upgrade(req)) {
        up.set(http::field::upgrade, req[http::field::upgrade]);
        up.set(http::field::connection, "upgrade");
    }
}

}  // namespace

std::string upstream_head(const RequestHeader& req, bool chunked, const std::string& target,
                          const std::string& peer_addr, const char* proto) {
    RequestHeader up;
    up.method(req.method());
    up.target(boost::beast::string_view(target.data(), target.size()));
    up.version(11);
    upstream_fields(req, up, peer_addr, proto);
    if (chunked)
        up.set(http::field::transfer_encoding, "chunked");
    else if (req.count(http::field::content_length))
        up.set(http::field::content_length, req[http::field::content_length]);
    std::ostringstream os;
    os << up;
    return std::move(os).str();
}

void client_head(ResponseHeader& h, bool chunked) {
    const std::string upgrade(h[http::field::upgrade]);
    for (http::field f : kHopByHop) h.erase(f);
    if (h.result() == http::status::switching_protocols) {
        if (!upgrade.empty()) h.set(http::field::upgrade, upgrade);
        h.set(http::field::connection, "upgrade");
    }
    if (chunked) h.set(http::field::transfer_encoding, "chunked");
}

std::string upstream_wire(Request& req, const std::string& target, const std::string& peer_addr,
                          const char* proto) {
    Request up_req{req.method(), boost::beast::string_view(target.data(), target.size()), 11};
    upstream_fields(req.base(), up_req.base(), peer_addr, proto);
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
