// Prometheus-style metrics (text exposition format 0.0.4): counters and histograms, thread-safe.
// runtime/ records into them; server/ renders them at GET /metrics.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace bge {

// Counters keyed by a label set written as Prometheus does: `route="/embed",status="200"` ("" for none).
class CounterFamily {
 public:
    CounterFamily(std::string name, std::string help) : name_(std::move(name)), help_(std::move(help)) {}
    void add(const std::string& labels, double value = 1);
    void append_prometheus(std::string& out) const;

 private:
    std::string name_, help_;
    mutable std::mutex mutex_;
    std::map<std::string, double> values_;
};

// A gauge read when rendered.
void append_gauge(std::string& out, const std::string& name, const std::string& help, double value);
// A family read when rendered: one value per label set; type "gauge" or "counter".
void append_family(std::string& out, const std::string& name, const std::string& help, const char* type,
                   const std::vector<std::pair<std::string, double>>& series);

// A cumulative histogram over fixed upper bounds (+Inf implied).
class Histogram {
 public:
    Histogram(std::string name, std::string help, std::vector<double> bounds);
    void observe(double value);
    void append_prometheus(std::string& out) const;

    // 1e-4 s .. ~100 s, three buckets per decade.
    static std::vector<double> latency_bounds();
    // 1, 2, 4, ... up to `max`.
    static std::vector<double> powers_of_two(double max);

 private:
    std::string name_, help_;
    std::vector<double> bounds_;
    mutable std::mutex mutex_;
    std::vector<uint64_t> counts_;  // [bounds + 1], not cumulative; the last is +Inf
    double sum_ = 0;
};

}  // namespace bge
