#include "common/units.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace ember {

namespace {

// Parses a non-negative decimal number (digits, optional fraction) at the
// start of s; *end is set past it. No exponent, no sign, no locale.
std::optional<double> leading_number(const std::string& s, size_t* end) {
    size_t i = 0;
    double v = 0;
    bool digits = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        v = v * 10 + (s[i] - '0');
        digits = true;
        ++i;
        if (v > 1e18) return std::nullopt;
    }
    if (i < s.size() && s[i] == '.') {
        ++i;
        double scale = 0.1;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            v += (s[i] - '0') * scale;
            scale /= 10;
            digits = true;
            ++i;
        }
    }
    if (!digits) return std::nullopt;
    *end = i;
    return v;
}

}  // namespace

std::optional<uint64_t> parse_size(const std::string& s) {
    size_t end = 0;
    auto v = leading_number(s, &end);
    if (!v) return std::nullopt;
    const std::string suffix = s.substr(end);
    double mul;
    if (suffix.empty() || suffix == "B")
        mul = 1;
    else if (suffix == "K" || suffix == "k" || suffix == "KiB")
        mul = 1024.0;
    else if (suffix == "M" || suffix == "m" || suffix == "MiB")
        mul = 1024.0 * 1024;
    else if (suffix == "G" || suffix == "g" || suffix == "GiB")
        mul = 1024.0 * 1024 * 1024;
    else
        return std::nullopt;
    const double bytes = *v * mul;
    if (bytes > 9.0e18 || bytes != std::floor(bytes)) return std::nullopt;
    return static_cast<uint64_t>(bytes);
}

namespace {

// A duration's number and its unit in ns and in ms (both exact factors, so
// that neither result goes through the other's rounding).
struct Duration {
    double value;
    double ns_per_unit;
    double ms_per_unit;
};

std::optional<Duration> split_duration(const std::string& s) {
    struct Unit {
        const char* name;
        double ns, ms;
    };
    static constexpr Unit kUnits[] = {{"ns", 1, 1e-6},     {"us", 1e3, 1e-3},    {"ms", 1e6, 1},
                                      {"s", 1e9, 1e3},     {"", 1e9, 1e3},       {"m", 60e9, 60e3},
                                      {"min", 60e9, 60e3}, {"h", 3600e9, 3600e3}};
    size_t end = 0;
    auto v = leading_number(s, &end);
    if (!v) return std::nullopt;
    const std::string unit = s.substr(end);
    for (const Unit& u : kUnits) {
        if (unit != u.name) continue;
        if (*v * u.ms > 10.0 * 365 * 24 * 3600e3) return std::nullopt;
        return Duration{*v, u.ns, u.ms};
    }
    return std::nullopt;
}

}  // namespace

std::optional<uint64_t> parse_duration_ms(const std::string& s) {
    const auto d = split_duration(s);
    if (!d) return std::nullopt;
    return static_cast<uint64_t>(std::ceil(d->value * d->ms_per_unit));
}

std::optional<uint64_t> parse_duration_ns(const std::string& s) {
    const auto d = split_duration(s);
    if (!d) return std::nullopt;
    return static_cast<uint64_t>(d->value * d->ns_per_unit);
}

std::string format_duration_ms(uint64_t ms) {
    char b[64];
    if (ms < 1000) {
        std::snprintf(b, sizeof b, "%llums", static_cast<unsigned long long>(ms));
    } else if (ms < 60000) {
        if (ms % 1000 == 0)
            std::snprintf(b, sizeof b, "%llus", static_cast<unsigned long long>(ms / 1000));
        else
            std::snprintf(b, sizeof b, "%gs", static_cast<double>(ms) / 1000);
    } else {
        const uint64_t m = ms / 60000, rest = ms % 60000;
        if (rest == 0)
            std::snprintf(b, sizeof b, "%llum", static_cast<unsigned long long>(m));
        else
            std::snprintf(b, sizeof b, "%llum%s", static_cast<unsigned long long>(m),
                          format_duration_ms(rest).c_str());
    }
    return b;
}

std::string format_size(uint64_t bytes) {
    static const char* kUnits[] = {"", "K", "M", "G", "T"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char b[32];
    if (v == std::floor(v))
        std::snprintf(b, sizeof b, "%.0f%s", v, kUnits[u]);
    else
        std::snprintf(b, sizeof b, "%.1f%s", v, kUnits[u]);
    return b;
}

std::string format_hex(uint64_t v) {
    char b[24];
    std::snprintf(b, sizeof b, "%#llx", static_cast<unsigned long long>(v));
    return b;
}

}  // namespace ember
