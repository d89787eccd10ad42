#include "core/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace bge {
namespace {

void append_number(std::string& out, double v) {
    if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
        return;
    }
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out.append(buf, r.ptr);
}

void append_header(std::string& out, const std::string& name, const std::string& help, const char* type) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

void CounterFamily::add(const std::string& labels, double value) {
    std::lock_guard lock(mutex_);
    values_[labels] += value;
}

void CounterFamily::append_prometheus(std::string& out) const {
    append_header(out, name_, help_, "counter");
    std::lock_guard lock(mutex_);
    for (const auto& [labels, value] : values_) {
        out += name_;
        if (!labels.empty()) out += "{" + labels + "}";
        out += ' ';
        append_number(out, value);
        out += '\n';
    }
}

void append_gauge(std::string& out, const std::string& name, const std::string& help, double value) {
    append_header(out, name, help, "gauge");
    out += name + ' ';
    append_number(out, value);
    out += '\n';
}

void append_family(std::string& out, const std::string& name, const std::string& help, const char* type,
                   const std::vector<std::pair<std::string, double>>& series) {
    append_header(out, name, help, type);
    for (const auto& [labels, value] : series) {
        out += name + "{" + labels + "} ";
        append_number(out, value);
        out += '\n';
    }
}

Histogram::Histogram(std::string name, std::string help, std::vector<double> bounds)
    : name_(std::move(name)), help_(std::move(help)), bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
    const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
    std::lock_guard lock(mutex_);
    ++counts_[bucket];
    sum_ += value;
}

void Histogram::append_prometheus(std::string& out) const {
    append_header(out, name_, help_, "histogram");
    std::lock_guard lock(mutex_);
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
        cumulative += counts_[i];
        out += name_ + "_bucket{le=\"";
        append_number(out, i < bounds_.size() ? bounds_[i] : INFINITY);
        out += "\"} " + std::to_string(cumulative) + "\n";
    }
    out += name_ + "_sum ";
    append_number(out, sum_);
    out += "\n" + name_ + "_count " + std::to_string(cumulative) + "\n";
}

std::vector<double> Histogram::latency_bounds() {
    std::vector<double> b;
    for (double decade = 1e-4; decade < 100; decade *= 10) {
        for (double m : {1.0, 2.5, 5.0}) b.push_back(decade * m);
    }
    return b;
}

std::vector<double> Histogram::powers_of_two(double max) {
    std::vector<double> b;
    for (double v = 1; v <= max; v *= 2) b.push_back(v);
    return b;
}

}  // namespace bge
