#include "platform/router.h"

namespace ember::platform {

namespace {

bool is_label_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// "Host: a.b:8080" -> "a.b"; "[::1]:80" -> "[::1]".
std::string_view strip_port(std::string_view host) {
    if (!host.empty() && host.front() == '[') {
        const auto close = host.find(']');
        return close == std::string_view::npos ? host : host.substr(0, close + 1);
    }
    const auto colon = host.rfind(':');
    return colon == std::string_view::npos ? host : host.substr(0, colon);
}

}  // namespace

std::optional<Route> route_request(std::string_view host, std::string_view target,
                                   std::string_view domain) {
    const std::string h = lower(strip_port(host));
    if (!domain.empty() && h.size() > domain.size() + 1 &&
        h.compare(h.size() - domain.size(), domain.size(), domain) == 0 &&
        h[h.size() - domain.size() - 1] == '.') {
        const std::string label = h.substr(0, h.size() - domain.size() - 1);
        bool ok = !label.empty();
        for (char c : label) ok &= is_label_char(c);
        if (ok) return Route{label, std::string(target.empty() ? "/" : target), true};
    }
    // Path prefix: "/name", "/name/...", "/name?...".
    if (target.size() < 2 || target[0] != '/') return std::nullopt;
    size_t end = 1;
    while (end < target.size() && target[end] != '/' && target[end] != '?') ++end;
    const std::string name(target.substr(1, end - 1));
    for (char c : name)
        if (!is_label_char(c)) return std::nullopt;
    std::string rest(target.substr(end));
    if (rest.empty() || rest[0] == '?') rest = "/" + rest;
    return Route{name, rest, false};
}

}  // namespace ember::platform
