#include "platform/cluster/etcd_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

#include "platform/cluster/http_call.h"

namespace ember::platform::cluster {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using nlohmann::json;
using tcp = asio::ip::tcp;

namespace {

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// etcd's gateway writes int64 fields as JSON strings ("revision": "4") and
// leaves out zero values.
int64_t int_field(const json& j, const char* name) {
    auto it = j.find(name);
    if (it == j.end()) return 0;
    if (it->is_number_integer()) return it->get<int64_t>();
    if (it->is_string()) {
        try {
            return std::stoll(it->get<std::string>());
        } catch (const std::exception&) {
            return 0;
        }
    }
    return 0;
}

std::string str_field(const json& j, const char* name) {
    auto it = j.find(name);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<KeyValue> kv_from_json(const json& j) {
    KeyValue kv;
    if (!base64_decode(str_field(j, "key"), &kv.key) ||
        !base64_decode(str_field(j, "value"), &kv.value))
        return Status::corruption("etcd: a key or value is not base64");
    kv.create_revision = int_field(j, "create_revision");
    kv.mod_revision = int_field(j, "mod_revision");
    kv.lease = int_field(j, "lease");
    return kv;
}

Result<json> parse_reply(const std::string& body) {
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Status::corruption("etcd: malformed reply");
    if (j.contains("error") || (j.contains("code") && j.contains("message"))) {
        // {"error": {"message": ...}} from some versions, {"error": "...",
        // "message": "...", "code": n} from etcd 3.4's gateway.
        const json& e = j.contains("error") && j["error"].is_object() ? j["error"] : j;
        std::string m = str_field(e, "message");
        if (m.empty()) m = str_field(j, "error");
        return Status::invalid_argument("etcd: " + m);
    }
    return j;
}

}  // namespace

std::string base64_encode(const std::string& in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
        for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 63];
    }
    if (i < in.size()) {
        uint32_t v = uint8_t(in[i]) << 16;
        if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

bool base64_decode(const std::string& in, std::string* out) {
    out->clear();
    if (in.size() % 4 != 0) return false;
    auto val = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    for (size_t i = 0; i < in.size(); i += 4) {
        const bool last = i + 4 == in.size();
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            if (last && k >= 2 && in[i + k] == '=') {
                v[k] = 0;
                ++pad;
                continue;
            }
            if (pad) return false;  // data after '='
            v[k] = val(in[i + k]);
            if (v[k] < 0) return false;
        }
        const uint32_t w = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
        *out += static_cast<char>((w >> 16) & 0xff);
        if (pad < 2) *out += static_cast<char>((w >> 8) & 0xff);
        if (pad < 1) *out += static_cast<char>(w & 0xff);
    }
    return true;
}

std::string prefix_end(const std::string& prefix) {
    std::string end = prefix;
    while (!end.empty()) {
        if (static_cast<uint8_t>(end.back()) < 0xff) {
            end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
            return end;
        }
        end.pop_back();
    }
    return std::string(1, '\0');  // every key
}

Result<std::vector<Endpoint>> parse_endpoints(const std::string& urls) {
    std::vector<Endpoint> out;
    size_t i = 0;
    while (i <= urls.size()) {
        size_t j = urls.find(',', i);
        if (j == std::string::npos) j = urls.size();
        std::string u = urls.substr(i, j - i);
        i = j + 1;
        if (u.empty()) continue;
        const std::string scheme = "http://";
        if (u.rfind(scheme, 0) != 0)
            return Status::invalid_argument(
                "etcd endpoint '" + u + "': expected http://HOST:PORT (https is not supported)");
        u = u.substr(scheme.size());
        while (!u.empty() && u.back() == '/') u.pop_back();
        const size_t colon = u.rfind(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == u.size() ||
            u.find_first_not_of("0123456789", colon + 1) != std::string::npos ||
            u.size() - colon - 1 > 5 || std::stoul(u.substr(colon + 1)) > 65535)
            return Status::invalid_argument("etcd endpoint 'http://" + u +
                                            "': expected http://HOST:PORT");
        Endpoint e;
        e.host = u.substr(0, colon);
        if (e.host.size() >= 2 && e.host.front() == '[')
            e.host = e.host.substr(1, e.host.size() - 2);
        e.port = static_cast<uint16_t>(std::stoul(u.substr(colon + 1)));
        out.push_back(e);
    }
    if (out.empty()) return Status::invalid_argument("no etcd endpoint given");
    return out;
}

namespace {

Result<std::string> post_once(const Endpoint& ep, const std::string& path, const std::string& body,
                              const std::string& authorization, int timeout_ms) {
    auto r = http_call("POST", ep.host, ep.port, path, body, authorization, timeout_ms);
    const std::string where = "etcd at http://" + ep.host + ":" + std::to_string(ep.port);
    if (!r) {
        if (r.code() == Code::kUnavailable)
            return Status::unavailable(
                where + " unreachable: " + r.message().substr(r.message().find(": ") + 2));
        return r.status();
    }
    if (r->status != 200) {
        auto j = parse_reply(r->body);
        if (!j) return j.status();
        return Status::invalid_argument(where + ": HTTP " + std::to_string(r->status) + ": " +
                                        r->body.substr(0, 200));
    }
    return std::move(r->body);
}

// etcd's answers to a call whose token it does not (or no longer) accept.
bool token_refused(const Status& st) {
    return !st && st.code() == Code::kInvalidArgument &&
           (st.message().find("invalid auth token") != std::string::npos ||
            st.message().find("user name is empty") != std::string::npos);
}

}  // namespace

Result<std::string> EtcdClient::token(bool renew) {
    if (auth_.user.empty()) return std::string();
    {
        std::lock_guard g(mu_);
        if (!renew && !token_.empty()) return token_;
    }
    auto r = post_any("/v3/auth/authenticate",
                      json{{"name", auth_.user}, {"password", auth_.password}}.dump(), "");
    if (!r) {
        if (r.code() == Code::kInvalidArgument)
            return Status::invalid_argument("etcd refused user '" + auth_.user +
                                            "': " + r.message());
        return r.status();
    }
    auto j = parse_reply(*r);
    if (!j) return j.status();
    const std::string t = str_field(*j, "token");
    if (t.empty())
        return Status::invalid_argument(
            "etcd gave no auth token for user '" + auth_.user +
            "' (is authentication enabled in etcd? `etcdctl auth enable`)");
    std::lock_guard g(mu_);
    token_ = t;
    return t;
}

Result<std::string> EtcdClient::post(const std::string& path, const std::string& body) {
    auto t = token(false);
    if (!t) return t.status();
    auto r = post_any(path, body, *t);
    if (r || !token_refused(r.status())) return r;
    if (auth_.user.empty())
        return Status::invalid_argument(r.message() +
                                        " (etcd requires authentication: emberd --etcd-user and "
                                        "--etcd-password-file)");
    t = token(true);
    if (!t) return t.status();
    return post_any(path, body, *t);
}

Result<std::string> EtcdClient::post_any(const std::string& path, const std::string& body,
                                         const std::string& authorization) {
    size_t start;
    {
        std::lock_guard g(mu_);
        start = current_;
    }
    Status last = Status::unavailable("no etcd endpoint");
    for (size_t k = 0; k < endpoints_.size(); ++k) {
        const size_t i = (start + k) % endpoints_.size();
        auto r = post_once(endpoints_[i], path, body, authorization, timeout_ms_);
        if (r || r.code() != Code::kUnavailable) {
            std::lock_guard g(mu_);
            current_ = i;
            return r;
        }
        last = r.status();
    }
    return last;
}

Result<int64_t> EtcdClient::put(const std::string& key, const std::string& value, int64_t lease) {
    json req{{"key", base64_encode(key)}, {"value", base64_encode(value)}};
    if (lease) req["lease"] = std::to_string(lease);
    auto body = post("/v3/kv/put", req.dump());
    if (!body) return body.status();
    auto j = parse_reply(*body);
    if (!j) return j.status();
    return int_field((*j)["header"], "revision");
}

Result<std::optional<KeyValue>> EtcdClient::get(const std::string& key) {
    auto body = post("/v3/kv/range", json{{"key", base64_encode(key)}}.dump());
    if (!body) return body.status();
    auto j = parse_reply(*body);
    if (!j) return j.status();
    if (!j->contains("kvs") || (*j)["kvs"].empty()) return std::optional<KeyValue>();
    auto kv = kv_from_json((*j)["kvs"][0]);
    if (!kv) return kv.status();
    return std::optional<KeyValue>(std::move(*kv));
}

Result<std::vector<KeyValue>> EtcdClient::get_prefix(const std::string& prefix, int64_t* revision) {
    auto body = post("/v3/kv/range", json{{"key", base64_encode(prefix)},
                                          {"range_end", base64_encode(prefix_end(prefix))}}
                                         .dump());
    if (!body) return body.status();
    auto j = parse_reply(*body);
    if (!j) return j.status();
    if (revision) *revision = int_field((*j)["header"], "revision");
    std::vector<KeyValue> out;
    if (j->contains("kvs"))
        for (const auto& e : (*j)["kvs"]) {
            auto kv = kv_from_json(e);
            if (!kv) return kv.status();
            out.push_back(std::move(*kv));
        }
    return out;
}

Result<int64_t> EtcdClient::del(const std::string& key) {
    auto body = post("/v3/kv/deleterange", json{{"key", base64_encode(key)}}.dump());
    if (!body) return body.status();
    auto j = parse_reply(*body);
    if (!j) return j.status();
    return int_field(*j, "deleted");
}

Result<int64_t> EtcdClient::del_prefix(const std::string& prefix) {
    auto body = post("/v3/kv/deleterange", json{{"key", base64_encode(prefix)},
                                                {"range_end", base64_encode(prefix_end(prefix))}}
                                               .dump());
    if (!body) return body.status();
    auto j = parse_reply(*body);
    if (!j) return j.status();
    return int_field(*j, "deleted");
}

Result<int64_t> EtcdClient::put_if(const std::string& key, const std::string& value,
                                   int64_t expected_mod_revision, int64_t lease) {
    json put{{"key", base64_encode(key)}, {"value", base64_encode(value)}};
    if (lease) put["lease"] = std::to_string(lease);
    json cmp{{"key", base64_encode(key)},
             {"result", "EQUAL"},
             {"target", "MOD"},
             {"mod_revision", std::to_string(expected_mod_revision)}};
    json req{{"compare", json::array({cmp})},
             {"success", json::array({json{{"request_put", put}}})}};
    auto body = post("/v3/kv/txn", req.dump());
    if (!body) return body.status();
    auto j = parse_reply(*body);
    if (!j) return j.status();
    if (!j->value("succeeded", false)) return int64_t{0};
    return int_field((*j)["header"], "revision");
}

Result<int64_t> EtcdClient::lease_grant(int64_t ttl_s) {
    auto body = post("/v3/lease/grant", json{{"TTL", std::to_string(ttl_s)}}.dump());
    if (!body) return body.status();
    auto j = parse_reply(*body);
    if (!j) return j.status();
    const int64_t id = int_field(*j, "ID");
    if (id == 0)
        return Status::internal("etcd: lease grant without an ID: " + str_field(*j, "error"));
    return id;
}

Result<int64_t> EtcdClient::lease_keepalive(int64_t id) {
    auto body = post("/v3/lease/keepalive", json{{"ID", std::to_string(id)}}.dump());
    if (!body) return body.status();
    auto j = parse_reply(*body);
    if (!j) return j.status();
    // The gateway streams: one {"result": {...}} per keepalive sent.
    const json& r = j->contains("result") ? (*j)["result"] : *j;
    return int_field(r, "TTL");
}

Status EtcdClient::lease_revoke(int64_t id) {
    auto body = post("/v3/lease/revoke", json{{"ID", std::to_string(id)}}.dump());
    if (!body) return body.status();
    auto j = parse_reply(*body);
    if (!j) return j.status();
    return Status::ok();
}

Status EtcdClient::watch(
    const std::string& prefix, int64_t start_revision,
    const std::function<bool(const std::vector<WatchEvent>&, int64_t revision)>& fn,
    const std::atomic<bool>& stop, int poll_ms) {
    Endpoint ep;
    {
        std::lock_guard g(mu_);
        ep = endpoints_[current_];
    }
    const std::string where = "etcd at http://" + ep.host + ":" + std::to_string(ep.port);
    json create{{"key", base64_encode(prefix)}, {"range_end", base64_encode(prefix_end(prefix))}};
    if (start_revision > 0) create["start_revision"] = std::to_string(start_revision);
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    {
        tcp::resolver resolver(ioc);
        beast::error_code ec;
        auto results = resolver.resolve(ep.host, std::to_string(ep.port), ec);
        if (ec) return Status::unavailable(where + " unreachable: " + ec.message());
        stream.expires_after(std::chrono::milliseconds(timeout_ms_));
        beast::error_code cec = asio::error::would_block;
        stream.async_connect(results, [&](beast::error_code e, const tcp::endpoint&) { cec = e; });
        ioc.run();
        ioc.restart();
        if (cec) {
            // Let the next call try the other endpoints.
            std::lock_guard g(mu_);
            current_ = (current_ + 1) % endpoints_.size();
            return Status::unavailable(where + " unreachable: " + cec.message());
        }
    }
    auto tok = token(false);
    if (!tok) return tok.status();
    http::request<http::string_body> req{http::verb::post, "/v3/watch", 11};
    req.set(http::field::host, ep.host);
    if (!tok->empty()) req.set(http::field::authorization, *tok);
    req.set(http::field::content_type, "application/json");
    req.body() = json{{"create_request", create}}.dump();
    req.prepare_payload();
    beast::error_code ec;
    stream.expires_never();
    http::write(stream, req, ec);
    if (ec) return Status::unavailable(where + ": " + ec.message());

    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    std::string pending;
    Status outcome = Status::ok();
    bool done = false;
    auto on_line = [&](const std::string& line) {
        json j = json::parse(line, nullptr, false);
        if (j.is_discarded()) return;
        if (j.contains("error")) {
            outcome = Status::unavailable(where + ": watch: " + str_field(j["error"], "message"));
            done = true;
            return;
        }
        const json& r = j.contains("result") ? j["result"] : j;
        if (r.value("canceled", false)) {
            const std::string reason = str_field(r, "cancel_reason");
            if (token_refused(Status::invalid_argument(reason))) {
                // The next call (the caller's next watch) asks for a new token.
                std::lock_guard g(mu_);
                token_.clear();
            }
            outcome = int_field(r, "compact_revision") > 0
                          ? Status::not_found("etcd: watch revision compacted")
                          : Status::unavailable(where + ": watch canceled: " + reason);
            done = true;
            return;
        }
        std::vector<WatchEvent> events;
        if (r.contains("events"))
            for (const auto& e : r["events"]) {
                WatchEvent ev;
                ev.deleted = str_field(e, "type") == "DELETE";
                auto kv = kv_from_json(e.value("kv", json::object()));
                if (!kv) continue;
                ev.kv = std::move(*kv);
                events.push_back(std::move(ev));
            }
        if (!events.empty() &&
            !fn(events, int_field(r.value("header", json::object()), "revision")))
            done = true;
    };
    auto chunk_cb = [&](uint64_t, beast::string_view body, beast::error_code&) -> size_t {
        pending.append(body.data(), body.size());
        size_t nl;
        while (!done && (nl = pending.find('\n')) != std::string::npos) {
            std::string line = pending.substr(0, nl);
            pending.erase(0, nl + 1);
            on_line(line);
        }
        // A reply without newlines is one JSON object per chunk.
        if (!done && !pending.empty() && json::accept(pending)) {
            std::string line;
            line.swap(pending);
            on_line(line);
        }
        return body.size();
    };
    parser.on_chunk_body(chunk_cb);
    beast::flat_buffer buf;
    beast::error_code rec = asio::error::would_block;
    bool finished = false;
    http::async_read(stream, buf, parser, [&](beast::error_code e, size_t) {
        rec = e;
        finished = true;
    });
    while (!finished) {
        ioc.run_for(std::chrono::milliseconds(poll_ms));
        if (finished) break;
        if (stop.load() || done) {
            beast::error_code ignored;
            stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
            stream.socket().close(ignored);
            ioc.restart();
            ioc.run();  // the read ends with operation_aborted
            return outcome;
        }
    }
    if (done) return outcome;
    if (parser.is_header_done() && parser.get().result_int() != 200)
        return Status::unavailable(where + ": watch: HTTP " +
                                   std::to_string(parser.get().result_int()));
    return Status::unavailable(where +
                               ": watch ended: " + (rec ? rec.message() : std::string("closed")));
}

}  // namespace ember::platform::cluster
