#include "platform/metrics.h"

#include <cmath>
#include <cstdio>

namespace ember::platform {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
    for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::observe(double seconds) {
    if (!(seconds >= 0)) seconds = 0;
    size_t i = 0;
    while (i < bounds_.size() && seconds > bounds_[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<uint64_t>(std::llround(seconds * 1e9)),
                      std::memory_order_relaxed);
}

void Histogram::snapshot(std::vector<uint64_t>* cumulative, uint64_t* count, double* sum) const {
    cumulative->clear();
    uint64_t acc = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
        acc += buckets_[i].load(std::memory_order_relaxed);
        cumulative->push_back(acc);
    }
    acc += buckets_[bounds_.size()].load(std::memory_order_relaxed);
    *count = acc;
    *sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
}

std::vector<double> latency_buckets() {
    return {50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 25e-3,
            50e-3, 100e-3, 250e-3, 500e-3, 1.0,  2.5,  5.0,  10.0,  30.0};
}

std::string render_labels(const Labels& labels) {
    if (labels.empty()) return "";
    std::string out = "{";
    for (size_t i = 0; i < labels.size(); ++i) {
        if (i) out += ",";
        out += labels[i].first + "=\"";
        for (char c : labels[i].second) {
            if (c == '\\')
                out += "\\\\";
            else if (c == '"')
                out += "\\\"";
            else if (c == '\n')
                out += "\\n";
            else
                out += c;
        }
        out += "\"";
    }
    return out + "}";
}

Counter& Metrics::counter(const std::string& family, const Labels& labels) {
    std::lock_guard lock(mu_);
    auto& slot = families_[family].counters[render_labels(labels)];
    if (!slot) slot = std::make_unique<Counter>();
    return *slot;
}

Histogram& Metrics::histogram(const std::string& family, const Labels& labels) {
    std::lock_guard lock(mu_);
    auto& slot = families_[family].histograms[render_labels(labels)];
    if (!slot) slot = std::make_unique<Histogram>(latency_buckets());
    return *slot;
}

void Metrics::describe(const std::string& family, const std::string& type,
                       const std::string& help) {
    std::lock_guard lock(mu_);
    families_[family].type = type;
    families_[family].help = help;
}

void Metrics::add_collector(std::function<void(std::vector<GaugeSample>*)> fn) {
    std::lock_guard lock(mu_);
    collectors_.push_back(std::move(fn));
}

void Metrics::add_text_source(std::function<std::string()> fn) {
    std::lock_guard lock(mu_);
    text_sources_.push_back(std::move(fn));
}

namespace {

std::string fmt_double(double v) {
    char b[64];
    if (v == std::floor(v) && std::fabs(v) < 1e15)
        std::snprintf(b, sizeof b, "%.0f", v);
    else
        std::snprintf(b, sizeof b, "%.9g", v);
    return b;
}

// Inserts an extra label into a rendered label set.
std::string with_label(const std::string& rendered, const std::string& kv) {
    if (rendered.empty()) return "{" + kv + "}";
    return rendered.substr(0, rendered.size() - 1) + "," + kv + "}";
}

}  // namespace

std::string Metrics::render() const {
    std::vector<GaugeSample> gauges;
    std::vector<std::function<void(std::vector<GaugeSample>*)>> collectors;
    std::vector<std::function<std::string()>> sources;
    {
        std::lock_guard lock(mu_);
        collectors = collectors_;
        sources = text_sources_;
    }
    // Text sources first: the gateway's answer comes after every message it
    // sent before (finish() of the requests its clients already have), so
    // the gauges collected next see those requests finished.
    std::string extra;
    for (auto& src : sources) {
        extra += src();
        if (!extra.empty() && extra.back() != '\n') extra += '\n';
    }
    for (auto& c : collectors) c(&gauges);

    std::lock_guard lock(mu_);
    std::map<std::string, std::vector<const GaugeSample*>> gauge_families;
    for (const auto& g : gauges) gauge_families[g.family].push_back(&g);
    std::string out;
    auto header = [&](const std::string& name, const std::string& dflt_type) {
        auto it = families_.find(name);
        const std::string help = it != families_.end() ? it->second.help : "";
        const std::string type =
            it != families_.end() && !it->second.type.empty() ? it->second.type : dflt_type;
        if (!help.empty()) out += "# HELP " + name + " " + help + "\n";
        out += "# TYPE " + name + " " + type + "\n";
    };
    for (const auto& [name, fam] : families_) {
        if (fam.counters.empty() && fam.histograms.empty()) continue;
        header(name, fam.histograms.empty() ? "counter" : "histogram");
        for (const auto& [labels, c] : fam.counters)
            out += name + labels + " " + std::to_string(c->value()) + "\n";
        for (const auto& [labels, h] : fam.histograms) {
            std::vector<uint64_t> cum;
            uint64_t count;
            double sum;
            h->snapshot(&cum, &count, &sum);
            for (size_t i = 0; i < cum.size(); ++i)
                out += name + "_bucket" +
                       with_label(labels, "le=\"" + fmt_double(h->bounds()[i]) + "\"") + " " +
                       std::to_string(cum[i]) + "\n";
            out += name + "_bucket" + with_label(labels, "le=\"+Inf\"") + " " +
                   std::to_string(count) + "\n";
            out += name + "_sum" + labels + " " + fmt_double(sum) + "\n";
            out += name + "_count" + labels + " " + std::to_string(count) + "\n";
        }
    }
    for (const auto& [name, samples] : gauge_families) {
        header(name, "gauge");
        for (const auto* g : samples)
            out += name + render_labels(g->labels) + " " + fmt_double(g->value) + "\n";
    }
    return out + extra;
}

}  // namespace ember::platform
