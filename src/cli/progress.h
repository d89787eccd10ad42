// Progress lines on stderr for long runs: silent for the first seconds, then one line every few seconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace bge::cli {

class Progress {
 public:
    Progress(const char* what, bool quiet) : what_(what), quiet_(quiet) {}

    void add(int64_t inputs, int64_t tokens) {
        inputs_ += inputs;
        tokens_ += tokens;
        const auto now = Clock::now();
        if (quiet_ || now - last_ < kInterval) return;
        last_ = now;
        const double seconds = std::chrono::duration<double>(now - start_).count();
        std::fprintf(stderr, "bge %s: %lld inputs, %lld tokens, %.1f tokens/s\n", what_,
                     static_cast<long long>(inputs_), static_cast<long long>(tokens_), tokens_ / seconds);
    }

 private:
    using Clock = std::chrono::steady_clock;
    static constexpr auto kInterval = std::chrono::seconds(5);
    const char* what_;
    bool quiet_;
    int64_t inputs_ = 0;
    int64_t tokens_ = 0;
    Clock::time_point start_ = Clock::now();
    Clock::time_point last_ = start_;
};

}  // namespace bge::cli
