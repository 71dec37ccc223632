// The control API's time series (service_stats.h): sampling every service's
// counters from the metrics text, GET /v1/stats (every service's totals now
// and its last interval) and GET /v1/services/{name}/stats (the points of the
// last hour, for the console's charts).
#include <chrono>
#include <nlohmann/json.hpp>

#include "platform/api.h"

namespace ember::platform {

using nlohmann::json;

namespace {

int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

int64_t mono_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// A latency or rate, or null for an interval without one. Rounded to the
// microsecond: the text stays short and the charts need no more.
json rounded_or_null(double v) {
    if (!std::isfinite(v)) return nullptr;
    return std::round(v * 1e3) / 1e3;
}

json point_json(const StatsPoint& p) {
    return json{
        {"t", p.t_ms},
        {"seconds", p.seconds},
        {"requests", p.requests},
        {"errors", p.errors},
        {"cold_starts", p.cold_starts},
        {"requests_per_s", p.seconds > 0 ? rounded_or_null(p.requests / p.seconds) : json(0)},
        {"p50_ms", rounded_or_null(p.p50_ms)},
        {"p99_ms", rounded_or_null(p.p99_ms)},
        {"queue_ms", rounded_or_null(p.stage_ms[kStageQueue])},
        {"restore_ms", rounded_or_null(p.stage_ms[kStageRestore])},
        {"app_ms", rounded_or_null(p.stage_ms[kStageApp])},
        {"instances", p.instances}};
}

}  // namespace

void Api::sample_stats() {
    auto list = store_.list_services();
    if (!list) return;  // the next interval tries again
    const auto totals = parse_service_totals(metrics_.render());
    std::map<std::string, ServiceSample> now;
    for (const auto& rec : *list) {
        ServiceSample& s = now[rec.spec.name];
        const auto t = totals.find(rec.spec.name);
        if (t != totals.end()) s.totals = t->second;
        s.instances = static_cast<int>(manager_.status(rec.spec.name).instances);
    }
    stats_.record(wall_ms(), mono_ms(), now);
}

ApiResponse Api::stats() {
    auto list = store_.list_services();
    if (!list) return error(list.status());
    const auto totals = parse_service_totals(metrics_.render());
    json arr = json::array();
    for (const auto& rec : *list) {
        const std::string& name = rec.spec.name;
        const auto t = totals.find(name);
        const ServiceTotals now = t == totals.end() ? ServiceTotals{} : t->second;
        json j{{"name", name},
               {"requests_total", now.requests},
               {"errors_total", now.errors},
               {"cold_starts_total", now.cold_starts},
               {"instances", manager_.status(name).instances}};
        const auto last = stats_.latest(name);
        j["last"] = last ? point_json(*last) : json(nullptr);
        arr.push_back(std::move(j));
    }
    ApiResponse r;
    r.body = json_text(json{{"interval_s", static_cast<double>(info_.stats_interval_ms) / 1e3},
                            {"services", arr}}) +
             "\n";
    return r;
}

ApiResponse Api::service_stats(const std::string& name, const std::string& query) {
    const std::string since_s = query_param(query, "since");
    int64_t since = 0;
    if (!since_s.empty()) {
        if (since_s.size() > 15 || since_s.find_first_not_of("0123456789") != std::string::npos)
            return error(Status::invalid_argument(
                "since must be a time in unix milliseconds (decimal digits)"));
        since = std::stoll(since_s);
    }
    json arr = json::array();
    for (const auto& p : stats_.points(name, since)) arr.push_back(point_json(p));
    ApiResponse r;
    r.body = json_text(json{{"interval_s", static_cast<double>(info_.stats_interval_ms) / 1e3},
                            {"retention_s", static_cast<double>(info_.stats_retention_ms) / 1e3},
                            {"points", arr}}) +
             "\n";
    return r;
}

}  // namespace ember::platform
