// The console's time series: parsing per-service totals out of the metrics
// text, quantiles of bucket deltas, and the bounded per-service ring.
#include "platform/service_stats.h"

#include <gtest/gtest.h>

#include "platform/metrics.h"

namespace ember::platform {
namespace {

ServiceSample sample(double requests, double errors = 0, int instances = 0) {
    ServiceSample s;
    s.totals.requests = requests;
    s.totals.errors = errors;
    s.instances = instances;
    return s;
}

TEST(ServiceStatsParse, TotalsPerServiceFromTheMetricsRegistry) {
    Metrics m;
    m.counter("ember_requests_total", {{"service", "a"}, {"code", "200"}}).inc(7);
    m.counter("ember_requests_total", {{"service", "a"}, {"code", "503"}}).inc(2);
    m.counter("ember_requests_total", {{"service", "b"}, {"code", "404"}}).inc(1);
    m.counter("ember_cold_starts_total", {{"service", "a"}}).inc(3);
    for (double s : {0.001, 0.002, 0.003})
        m.histogram("ember_request_duration_seconds", {{"service", "a"}}).observe(s);
    m.histogram("ember_request_stage_seconds", {{"service", "a"}, {"stage", "queue"}}).observe(0.5);
    m.histogram("ember_request_stage_seconds", {{"service", "a"}, {"stage", "app"}}).observe(0.25);
    m.histogram("ember_request_stage_seconds", {{"service", "a"}, {"stage", "app"}}).observe(0.75);
    const auto t = parse_service_totals(m.render());
    ASSERT_EQ(t.size(), 2u);
    const ServiceTotals& a = t.at("a");
    EXPECT_EQ(a.requests, 9);
    EXPECT_EQ(a.errors, 2);
    EXPECT_EQ(a.cold_starts, 3);
    EXPECT_EQ(a.latency.rbegin()->second, 3);  // +Inf holds every observation
    EXPECT_TRUE(std::isinf(a.latency.rbegin()->first));
    EXPECT_DOUBLE_EQ(a.stage_sum[kStageQueue], 0.5);
    EXPECT_EQ(a.stage_count[kStageApp], 2);
    EXPECT_DOUBLE_EQ(a.stage_sum[kStageApp], 1.0);
    EXPECT_EQ(a.stage_count[kStageRestore], 0);
    EXPECT_EQ(t.at("b").requests, 1);
    EXPECT_EQ(t.at("b").errors, 0);
}

TEST(ServiceStatsParse, MalformedLinesAreSkipped) {
    const std::string text =
        "# HELP x\n"
        "ember_requests_total{service=\"a\",code=\"200\"} 5\n"
        "ember_requests_total{service=\"a\",code=\"200\" 5\n"     // no closing brace
        "ember_requests_total{service=\"a,code=\"200\"} 5\n"      // unterminated value
        "ember_requests_total{service=a} 5\n"                     // unquoted
        "ember_requests_total{service=\"a\",code=\"200\"} x\n"    // not a number
        "ember_requests_total{service=\"a\",code=\"200\"} inf\n"  // not finite
        "ember_requests_total{code=\"200\"} 5\n"                  // no service
        "ember_request_stage_seconds_sum{service=\"a\",stage=\"nap\"} 5\n"
        "ember_requests_total{service=\"we\\\"ird\"} 1";  // escaped quote, no newline
    const auto t = parse_service_totals(text);
    ASSERT_EQ(t.count("a"), 1u);
    EXPECT_EQ(t.at("a").requests, 5);
    EXPECT_EQ(t.at("we\"ird").requests, 1);
}

TEST(ServiceStatsQuantile, InterpolatesInsideTheBucketOfTheDelta) {
    const std::map<double, double> before = {{0.001, 10}, {0.01, 10}, {INFINITY, 10}};
    const std::map<double, double> now = {{0.001, 10}, {0.01, 20}, {INFINITY, 20}};
    // The 10 new observations all fell in (1 ms, 10 ms]: the median is halfway.
    EXPECT_NEAR(histogram_quantile(0.5, now, before), 0.0055, 1e-9);
    EXPECT_TRUE(std::isnan(histogram_quantile(0.5, before, before)));
    // Beyond the largest finite bound: that bound.
    const std::map<double, double> slow = {{0.001, 10}, {0.01, 10}, {INFINITY, 30}};
    EXPECT_DOUBLE_EQ(histogram_quantile(0.99, slow, before), 0.01);
}

TEST(ServiceStats, FirstSampleIsABaselineThenPointsAreDeltas) {
    ServiceStats s(10);
    s.record(1000, 0, {{"a", sample(5)}});
    EXPECT_TRUE(s.points("a").empty());
    EXPECT_FALSE(s.latest("a"));
    s.record(11000, 10000, {{"a", sample(25, 1, 2)}});
    const auto p = s.points("a");
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].t_ms, 11000);
    EXPECT_DOUBLE_EQ(p[0].seconds, 10);
    EXPECT_EQ(p[0].requests, 20);
    EXPECT_EQ(p[0].errors, 1);
    EXPECT_EQ(p[0].instances, 2);
    EXPECT_TRUE(std::isnan(p[0].p50_ms));  // no histogram: no latency
    EXPECT_TRUE(std::isnan(p[0].stage_ms[kStageRestore]));
}

TEST(ServiceStats, CounterThatWentDownCountsFromZero) {
    ServiceStats s(10);
    s.record(0, 0, {{"a", sample(100)}});
    s.record(1, 10, {{"a", sample(4)}});  // the gateway process was replaced
    EXPECT_EQ(s.points("a").at(0).requests, 4);
}

TEST(ServiceStats, StageMeansAreSumOverCountOfTheInterval) {
    ServiceStats s(10);
    ServiceSample a;
    a.totals.stage_sum[kStageApp] = 1.0;
    a.totals.stage_count[kStageApp] = 4;
    s.record(0, 0, {{"a", a}});
    a.totals.stage_sum[kStageApp] = 1.6;  // two more requests of 300 ms
    a.totals.stage_count[kStageApp] = 6;
    s.record(1, 1, {{"a", a}});
    EXPECT_NEAR(s.points("a").at(0).stage_ms[kStageApp], 300, 1e-9);
}

TEST(ServiceStats, RingKeepsTheNewestCapacityPointsInOrder) {
    ServiceStats s(3);
    for (int i = 0; i <= 5; ++i) s.record(i * 10, i * 10, {{"a", sample(i * i)}});
    const auto p = s.points("a");
    ASSERT_EQ(p.size(), 3u);
    EXPECT_EQ(p[0].t_ms, 30);
    EXPECT_EQ(p[1].t_ms, 40);
    EXPECT_EQ(p[2].t_ms, 50);
    EXPECT_EQ(p[2].requests, 25 - 16);
    EXPECT_EQ(s.latest("a")->t_ms, 50);
    EXPECT_EQ(s.points("a", 35).size(), 2u);  // since: points ending after it
}

TEST(ServiceStats, RemovedServiceLosesItsSeries) {
    ServiceStats s(3);
    s.record(0, 0, {{"a", sample(1)}, {"b", sample(1)}});
    s.record(10, 10, {{"a", sample(2)}, {"b", sample(2)}});
    s.record(20, 20, {{"a", sample(3)}});
    EXPECT_EQ(s.points("a").size(), 2u);
    EXPECT_TRUE(s.points("b").empty());
    // A new service of the same name starts over from a baseline.
    s.record(30, 30, {{"a", sample(4)}, {"b", sample(50)}});
    EXPECT_TRUE(s.points("b").empty());
}

}  // namespace
}  // namespace ember::platform
