#include "platform/service_stats.h"

#include <algorithm>
#include <cstdlib>
#include <iterator>

namespace ember::platform {

namespace {

// The labels of one sample line, {k="v",...} without the braces, with the
// text format's \\, \" and \n escapes; false when malformed.
bool parse_labels(const std::string& s, std::map<std::string, std::string>* out) {
    size_t i = 0;
    while (i < s.size()) {
        const size_t eq = s.find('=', i);
        if (eq == std::string::npos || eq + 1 >= s.size() || s[eq + 1] != '"') return false;
        std::string key = s.substr(i, eq - i), val;
        size_t j = eq + 2;
        for (; j < s.size() && s[j] != '"'; ++j) {
            if (s[j] == '\\' && j + 1 < s.size()) {
                ++j;
                val += s[j] == 'n' ? '\n' : s[j];
            } else {
                val += s[j];
            }
        }
        if (j >= s.size()) return false;  // unterminated value
        (*out)[key] = val;
        i = j + 1;
        if (i < s.size() && s[i] == ',') ++i;
    }
    return true;
}

int stage_of(const std::string& s) {
    if (s == "queue") return kStageQueue;
    if (s == "restore") return kStageRestore;
    if (s == "app") return kStageApp;
    return -1;
}

// now - before for a counter; a counter that went down was reset (its
// process restarted), so everything it counts now is new.
double delta(double now, double before) { return now >= before ? now - before : now; }

}  // namespace

std::map<std::string, ServiceTotals> parse_service_totals(const std::string& text) {
    std::map<std::string, ServiceTotals> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        const std::string line = text.substr(pos, end - pos);
        pos = end + 1;
        if (line.empty() || line[0] == '#') continue;
        const size_t brace = line.find('{'), close = line.rfind('}');
        if (brace == std::string::npos || close == std::string::npos || close < brace) continue;
        std::map<std::string, std::string> labels;
        if (!parse_labels(line.substr(brace + 1, close - brace - 1), &labels)) continue;
        const auto svc = labels.find("service");
        if (svc == labels.end()) continue;
        char* num_end = nullptr;
        const char* num = line.c_str() + close + 1;
        const double v = std::strtod(num, &num_end);
        if (num_end == num || !std::isfinite(v)) continue;
        const std::string name = line.substr(0, brace);
        ServiceTotals& t = out[svc->second];
        if (name == "ember_requests_total") {
            t.requests += v;
            const std::string& code = labels["code"];
            if (code.size() == 3 && code[0] == '5') t.errors += v;
        } else if (name == "ember_cold_starts_total") {
            t.cold_starts += v;
        } else if (name == "ember_request_duration_seconds_bucket") {
            const std::string& le = labels["le"];
            t.latency[le == "+Inf" ? INFINITY : std::strtod(le.c_str(), nullptr)] = v;
        } else if (name == "ember_request_stage_seconds_sum" ||
                   name == "ember_request_stage_seconds_count") {
            const int st = stage_of(labels["stage"]);
            if (st < 0) continue;
            (name.back() == 'm' ? t.stage_sum : t.stage_count)[st] = v;
        }
    }
    return out;
}

double histogram_quantile(double q, const std::map<double, double>& now,
                          const std::map<double, double>& before) {
    std::vector<std::pair<double, double>> d;  // le, cumulative count in the interval
    for (const auto& [le, c] : now) {
        const auto b = before.find(le);
        d.emplace_back(le, delta(c, b == before.end() ? 0 : b->second));
    }
    if (d.empty() || d.back().second <= 0) return NAN;
    const double rank = q * d.back().second;
    double lower = 0, prev = 0;
    for (const auto& [le, c] : d) {
        if (c >= rank) {
            if (std::isinf(le)) return lower;  // beyond the largest bound
            return lower + (le - lower) * (c > prev ? (rank - prev) / (c - prev) : 0);
        }
        lower = le;
        prev = c;
    }
    return lower;
}

StatsPoint ServiceStats::diff(const ServiceTotals& now, const ServiceTotals& before) {
    StatsPoint p;
    p.requests = delta(now.requests, before.requests);
    p.errors = delta(now.errors, before.errors);
    p.cold_starts = delta(now.cold_starts, before.cold_starts);
    p.p50_ms = histogram_quantile(0.5, now.latency, before.latency) * 1e3;
    p.p99_ms = histogram_quantile(0.99, now.latency, before.latency) * 1e3;
    for (int s = 0; s < kStageCount; ++s) {
        const double n = delta(now.stage_count[s], before.stage_count[s]);
        // A reset count resets the sum with it.
        const double sum = now.stage_count[s] >= before.stage_count[s]
                               ? now.stage_sum[s] - before.stage_sum[s]
                               : now.stage_sum[s];
        p.stage_ms[s] = n > 0 ? std::max(0.0, sum) / n * 1e3 : NAN;
    }
    return p;
}

void ServiceStats::record(int64_t t_ms, int64_t mono_ms,
                          const std::map<std::string, ServiceSample>& now) {
    std::lock_guard lock(mu_);
    for (auto it = series_.begin(); it != series_.end();)
        it = now.count(it->first) ? std::next(it) : series_.erase(it);
    for (const auto& [name, sample] : now) {
        auto [it, fresh] = series_.try_emplace(name);
        Series& s = it->second;
        if (!fresh) {
            StatsPoint p = diff(sample.totals, s.last);
            p.t_ms = t_ms;
            p.seconds = static_cast<double>(std::max<int64_t>(0, mono_ms - s.last_mono_ms)) / 1e3;
            p.instances = sample.instances;
            if (s.ring.size() < capacity_) {
                s.ring.push_back(p);
            } else {
                s.ring[s.next] = p;
            }
            s.next = (s.next + 1) % capacity_;
        }
        s.last = sample.totals;
        s.last_mono_ms = mono_ms;
    }
}

std::vector<StatsPoint> ServiceStats::points(const std::string& service, int64_t since_ms) const {
    std::lock_guard lock(mu_);
    std::vector<StatsPoint> out;
    const auto it = series_.find(service);
    if (it == series_.end()) return out;
    const Series& s = it->second;
    // Full ring: the oldest point is the one to be overwritten next.
    const size_t start = s.ring.size() < capacity_ ? 0 : s.next;
    for (size_t i = 0; i < s.ring.size(); ++i) {
        const StatsPoint& p = s.ring[(start + i) % s.ring.size()];
        if (p.t_ms > since_ms) out.push_back(p);
    }
    return out;
}

std::optional<StatsPoint> ServiceStats::latest(const std::string& service) const {
    std::lock_guard lock(mu_);
    const auto it = series_.find(service);
    if (it == series_.end() || it->second.ring.empty()) return std::nullopt;
    const Series& s = it->second;
    return s.ring[(s.next + capacity_ - 1) % capacity_];  // the newest
}

}  // namespace ember::platform
