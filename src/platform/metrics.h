// metrics.h - counters and histograms for the Prometheus text format
// (GET /metrics). Lookups take a mutex; callers on the request path keep the
// returned references (they live as long as the registry), whose updates are
// lock-free atomics. Gauges are computed at scrape time by collectors.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ember::platform {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
  public:
    void inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
    uint64_t value() const { return v_.load(std::memory_order_relaxed); }

  private:
    std::atomic<uint64_t> v_{0};
};

class Histogram {
  public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double seconds);
    const std::vector<double>& bounds() const { return bounds_; }
    // Cumulative counts per bound, then the total count and the sum.
    void snapshot(std::vector<uint64_t>* cumulative, uint64_t* count, double* sum) const;

  private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1 (+Inf)
    std::atomic<uint64_t> count_{0};
    std::atomic<uint64_t> sum_ns_{0};
};

// Latency buckets from 50 us to 30 s, for request and cold-start stages.
std::vector<double> latency_buckets();

struct GaugeSample {
    std::string family;
    Labels labels;
    double value;
};

class Metrics {
  public:
    Counter& counter(const std::string& family, const Labels& labels = {});
    Histogram& histogram(const std::string& family, const Labels& labels = {});
    // Help text and type of a family (shown once in the output).
    void describe(const std::string& family, const std::string& type, const std::string& help);
    // Called at every render; appends gauge samples.
    void add_collector(std::function<void(std::vector<GaugeSample>*)> fn);
    // Called at every render; its text (whole families in the text format,
    // none of them also in this registry) is appended. Another process's
    // metrics: the gateway's.
    void add_text_source(std::function<std::string()> fn);
    std::string render() const;

  private:
    struct Family {
        std::string type, help;
        std::map<std::string, std::unique_ptr<Counter>> counters;      // by rendered labels
        std::map<std::string, std::unique_ptr<Histogram>> histograms;  // by rendered labels
    };
    mutable std::mutex mu_;
    std::map<std::string, Family> families_;
    std::vector<std::function<void(std::vector<GaugeSample>*)>> collectors_;
    std::vector<std::function<std::string()>> text_sources_;
};

// {a="x",b="y"} with Prometheus escaping; "" for no labels.
std::string render_labels(const Labels& labels);

}  // namespace ember::platform
