// gateway_protocol.cpp - encoding of the gateway's messages (see
// gateway_protocol.h). Decoders catch the type and range errors here, so
// none escapes to the caller: a wrong message is a Status.
#include "platform/gateway_protocol.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace ember::platform::gateway_protocol {

using json = nlohmann::json;

namespace {

std::string text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Parses body and runs fn on the object; any type or range error is corruption.
template <class Fn>
Status decode(const std::string& body, const char* what, Fn fn) {
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return Status::corruption(std::string("gateway message '") + what + "': not a JSON object");
    try {
        return fn(j);
    } catch (const std::exception& e) {
        return Status::corruption(std::string("gateway message '") + what + "': " + e.what());
    }
}

// nlohmann converts between number kinds silently (-1 to 2^64-1, 1.5 to
// 1): these insist on the kind.
uint64_t u64(const json& v) {
    if (!v.is_number_unsigned()) throw std::out_of_range("not an unsigned integer");
    return v.get<uint64_t>();
}
int64_t i64(const json& v) {
    if (!v.is_number_integer()) throw std::out_of_range("not an integer");
    return v.get<int64_t>();
}
double dbl(const json& v) {
    if (!v.is_number()) throw std::out_of_range("not a number");
    return v.get<double>();
}

template <class E>
E enum_in(const json& v, E last) {
    const int64_t n = i64(v);
    if (n < 0 || n > static_cast<int64_t>(last)) throw std::out_of_range("value out of range");
    return static_cast<E>(n);
}

json info_json(const TicketInfo& i) {
    return json::array({static_cast<int>(i.state), static_cast<int>(i.reason), i.message,
                        i.instance_id, i.cold, i.queue_ms, i.restore_ms, i.t_handed, i.timeout_ms,
                        i.reusable});
}

TicketInfo info_of(const json& a) {
    if (!a.is_array() || a.size() != 10) throw std::out_of_range("info: not a 10-element array");
    TicketInfo i;
    i.state = enum_in(a[0], TicketState::kDone);
    i.reason = enum_in(a[1], RejectReason::kShuttingDown);
    i.message = a[2].get<std::string>();
    i.instance_id = u64(a[3]);
    i.cold = a[4].get<bool>();
    i.queue_ms = dbl(a[5]);
    i.restore_ms = dbl(a[6]);
    i.t_handed = i64(a[7]);
    i.timeout_ms = u64(a[8]);
    i.reusable = a[9].get<bool>();
    return i;
}

}  // namespace

std::string encode_config(const Config& c) {
    const GatewayOptions& o = c.options;
    return text({{"addr", o.addr},
                 {"port", o.port},
                 {"domain", o.domain},
                 {"threads", std::max(1, o.threads)},
                 {"max_header_bytes", o.max_header_bytes},
                 {"max_body_bytes", o.max_body_bytes},
                 {"max_response_bytes", o.max_response_bytes},
                 {"client_timeout_ms", o.client_timeout_ms},
                 {"keepalive_timeout_ms", o.keepalive_timeout_ms},
                 {"max_connections", o.max_connections},
                 {"tls_certs", o.tls_certs.size()},
                 {"tls_addr", o.tls_addr},
                 {"tls_port", o.tls_port},
                 {"tls_redirect", o.tls_redirect},
                 {"sandbox", c.sandbox}});
}

std::string encode_tls_cert(const GatewayOptions::TlsCert& c) {
    return text({{"cert", c.cert_pem}, {"key", c.key_pem}});
}

Status decode_tls_cert(const std::string& body, GatewayOptions::TlsCert* c) {
    return decode(body, kTlsCert, [&](const json& j) {
        c->cert_pem = j.at("cert").get<std::string>();
        c->key_pem = j.at("key").get<std::string>();
        return Status::ok();
    });
}

Result<Config> decode_config(const std::string& body, size_t* tls_certs) {
    Config c;
    auto st = decode(body, kConfig, [&](const json& j) {
        GatewayOptions& o = c.options;
        o.addr = j.at("addr").get<std::string>();
        const uint64_t port = u64(j.at("port"));
        if (port > 65535) throw std::out_of_range("port");
        o.port = static_cast<uint16_t>(port);
        o.domain = j.at("domain").get<std::string>();
        o.threads = static_cast<int>(std::min<uint64_t>(u64(j.at("threads")), 1024));
        o.max_header_bytes = u64(j.at("max_header_bytes"));
        o.max_body_bytes = u64(j.at("max_body_bytes"));
        o.max_response_bytes = u64(j.at("max_response_bytes"));
        o.client_timeout_ms = u64(j.at("client_timeout_ms"));
        o.keepalive_timeout_ms = u64(j.at("keepalive_timeout_ms"));
        o.max_connections = u64(j.at("max_connections"));
        *tls_certs = u64(j.at("tls_certs"));
        if (*tls_certs > kMaxTlsCerts) throw std::out_of_range("tls_certs");
        o.tls_addr = j.at("tls_addr").get<std::string>();
        const uint64_t tls_port = u64(j.at("tls_port"));
        if (tls_port > 65535) throw std::out_of_range("tls_port");
        o.tls_port = static_cast<uint16_t>(tls_port);
        o.tls_redirect = j.at("tls_redirect").get<bool>();
        c.sandbox = j.at("sandbox").get<bool>();
        return Status::ok();
    });
    if (!st) return st;
    return c;
}

std::string encode_acquire(uint64_t r, const std::string& service) {
    return text({{"r", r}, {"service", service}});
}

Status decode_acquire(const std::string& body, uint64_t* r, std::string* service) {
    return decode(body, kAcquire, [&](const json& j) {
        *r = u64(j.at("r"));
        *service = j.at("service").get<std::string>();
        return Status::ok();
    });
}

namespace {

json ids_json(const std::vector<uint64_t>& ids) {
    json a = json::array();
    for (uint64_t id : ids) a.push_back(id);
    return a;
}

std::vector<uint64_t> ids_of(const json& a) {
    if (!a.is_array() || a.size() > kMaxReuseCandidates)
        throw std::out_of_range("instance ids: not an array of at most 16");
    std::vector<uint64_t> ids;
    for (const auto& v : a) ids.push_back(u64(v));
    return ids;
}

}  // namespace

std::string encode_reuse(uint64_t r, const std::string& service,
                         const std::vector<uint64_t>& instances) {
    return text({{"r", r}, {"service", service}, {"i", ids_json(instances)}});
}

Status decode_reuse(const std::string& body, uint64_t* r, std::string* service,
                    std::vector<uint64_t>* instances) {
    return decode(body, kReuse, [&](const json& j) {
        *r = u64(j.at("r"));
        *service = j.at("service").get<std::string>();
        *instances = ids_of(j.at("i"));
        return Status::ok();
    });
}

std::string encode_acquired(uint64_t r, const Acquired& a) {
    return text(
        {{"r", r}, {"t", a.ticket}, {"info", info_json(a.info)}, {"stale", ids_json(a.stale)}});
}

Status decode_acquired(const std::string& body, uint64_t* r, Acquired* a) {
    return decode(body, kAcquired, [&](const json& j) {
        *r = u64(j.at("r"));
        a->ticket = u64(j.at("t"));
        a->info = info_of(j.at("info"));
        a->stale = ids_of(j.at("stale"));
        return Status::ok();
    });
}

std::string encode_info_request(uint64_t r, TicketId t) { return text({{"r", r}, {"t", t}}); }

Status decode_info_request(const std::string& body, uint64_t* r, TicketId* t) {
    return decode(body, kInfo, [&](const json& j) {
        *r = u64(j.at("r"));
        *t = u64(j.at("t"));
        return Status::ok();
    });
}

std::string encode_info_reply(uint64_t r, const TicketInfo& i) {
    return text({{"r", r}, {"info", info_json(i)}});
}

Status decode_info_reply(const std::string& body, uint64_t* r, TicketInfo* i) {
    return decode(body, kInfo, [&](const json& j) {
        *r = u64(j.at("r"));
        *i = info_of(j.at("info"));
        return Status::ok();
    });
}

std::string encode_finish(uint64_t r, TicketId t, FinishKind kind) {
    return text({{"r", r}, {"t", t}, {"kind", static_cast<int>(kind)}});
}

Status decode_finish(const std::string& body, uint64_t* r, TicketId* t, FinishKind* kind) {
    return decode(body, kFinish, [&](const json& j) {
        *r = u64(j.at("r"));
        *t = u64(j.at("t"));
        *kind = enum_in(j.at("kind"), FinishKind::kFailed);
        return Status::ok();
    });
}

std::string encode_finished(uint64_t r) { return text({{"r", r}}); }

Status decode_finished(const std::string& body, uint64_t* r) {
    return decode(body, kFinished, [&](const json& j) {
        *r = u64(j.at("r"));
        return Status::ok();
    });
}

std::string encode_text(const char* key, const std::string& t) { return text({{key, t}}); }

Status decode_text(const std::string& body, const char* key, std::string* t) {
    return decode(body, key, [&](const json& j) {
        *t = j.at(key).get<std::string>();
        return Status::ok();
    });
}

}  // namespace ember::platform::gateway_protocol
