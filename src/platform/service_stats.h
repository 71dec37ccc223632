// service_stats.h - the per-service time series behind the console's charts
// (GET /v1/stats, GET /v1/services/{name}/stats): requests, errors, cold
// starts, latency quantiles, the mean Server-Timing stages and the instance
// count, one point per sampling interval, in memory. Each service keeps a
// fixed-size ring (360 points: an hour at the default 10 s), so memory is
// bounded by the number of services; a service that disappears loses its
// ring at the next sample.
//
// The values come from the Prometheus text of GET /metrics (the gateway's
// counters live in another process: the text is how emberd sees them), so a
// point is the difference of two cumulative samples, as Prometheus' rate()
// and histogram_quantile() compute it. A counter that went down (the gateway
// process was replaced) counts from zero again.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace ember::platform {

// The Server-Timing stages the gateway measures per request.
enum Stage : int { kStageQueue = 0, kStageRestore = 1, kStageApp = 2, kStageCount = 3 };

// One service's cumulative counters at one instant.
struct ServiceTotals {
    double requests = 0;
    double errors = 0;  // 5xx responses
    double cold_starts = 0;
    std::map<double, double> latency;           // le (seconds, +inf last) -> cumulative count
    double stage_sum[kStageCount] = {0, 0, 0};  // seconds
    double stage_count[kStageCount] = {0, 0, 0};
};

// Per-service totals in a Prometheus text: ember_requests_total,
// ember_cold_starts_total, ember_request_duration_seconds_bucket and
// ember_request_stage_seconds_{sum,count}. Lines it does not know, and
// malformed ones, are skipped.
std::map<std::string, ServiceTotals> parse_service_totals(const std::string& metrics_text);

// The q-quantile (seconds) of the observations between two cumulative bucket
// sets, linear inside its bucket as histogram_quantile(); NaN when none.
double histogram_quantile(double q, const std::map<double, double>& now,
                          const std::map<double, double>& before);

// One interval of one service. Latencies are NaN when the interval had no
// request (restore_ms: no cold start).
struct StatsPoint {
    int64_t t_ms = 0;    // wall clock at the end of the interval
    double seconds = 0;  // the interval's length
    double requests = 0, errors = 0, cold_starts = 0;
    double p50_ms = NAN, p99_ms = NAN;
    double stage_ms[kStageCount] = {NAN, NAN, NAN};  // mean per request
    int instances = 0;                               // at the end of the interval
};

// What one sample knows of a live service.
struct ServiceSample {
    ServiceTotals totals;
    int instances = 0;
};

class ServiceStats {
  public:
    explicit ServiceStats(size_t capacity = 360) : capacity_(capacity ? capacity : 1) {}

    // Records a sample taken at t_ms (wall clock) and mono_ms (monotonic).
    // Services absent from `now` are forgotten; a service's first sample is
    // only its baseline (no point).
    void record(int64_t t_ms, int64_t mono_ms, const std::map<std::string, ServiceSample>& now);

    // The service's points, oldest first, those ending after since_ms.
    std::vector<StatsPoint> points(const std::string& service, int64_t since_ms = 0) const;
    std::optional<StatsPoint> latest(const std::string& service) const;
    size_t capacity() const { return capacity_; }

  private:
    struct Series {
        ServiceTotals last;  // the previous sample's totals
        int64_t last_mono_ms = 0;
        std::vector<StatsPoint> ring;  // grows to capacity_, then wraps at next
        size_t next = 0;
    };
    static StatsPoint diff(const ServiceTotals& now, const ServiceTotals& before);

    size_t capacity_;
    mutable std::mutex mu_;
    std::map<std::string, Series> series_;
};

}  // namespace ember::platform
