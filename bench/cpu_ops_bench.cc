// Throughput of the CPU backend's hot ops at BGE-M3 shapes (hidden 1024, 16 heads x 64, FFN 4096).
// Usage: bge_cpu_ops_bench [--threads N] [--reps N]. Prints a table, then one JSON line.
// Each figure is the minimum time over the repetitions, after one warm-up call.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backend/cpu/cpu_backend.h"

namespace {

struct Result {
    std::string op, shape;
    double ms, gflops;
};

template <typename F>
double min_seconds(int reps, F&& fn) {
    fn();  // warm-up: primitive creation, first-touch of scratch
    double best = 1e30;
    for (int i = 0; i < reps; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        fn();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
}

std::vector<float> random_vector(size_t n, std::mt19937& rng, float scale) {
    std::uniform_real_distribution<float> dist(-scale, scale);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    int threads = 0;
    int reps = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--threads") == 0) {
            threads = std::atoi(argv[i + 1]);
        } else if (std::strcmp(argv[i], "--reps") == 0) {
            reps = std::max(1, std::atoi(argv[i + 1]));
        } else {
            std::fprintf(stderr, "usage: %s [--threads N] [--reps N]\n", argv[0]);
            return 2;
        }
    }
    auto backend = bge::make_cpu_backend(threads);
    std::mt19937 rng(42);
    std::vector<Result> results;

    constexpr int64_t kRows = 512;
    struct LinearCase {
        int64_t in, out;
        bge::Activation act;
        const char* what;
    };
    for (const LinearCase& c : {LinearCase{1024, 3072, bge::Activation::kNone, "fused QKV"},
                                LinearCase{1024, 1024, bge::Activation::kNone, "attn out"},
                                LinearCase{1024, 4096, bge::Activation::kGelu, "FFN up+gelu"},
                                LinearCase{4096, 1024, bge::Activation::kNone, "FFN down"}}) {
        const auto w = random_vector(c.out * c.in, rng, 0.05f);
        const auto b = random_vector(c.out, rng, 0.05f);
        const auto x_host = random_vector(kRows * c.in, rng, 1.f);
        auto weight = backend->make_linear(w.data(), b.data(), c.out, c.in);
        auto x = backend->upload(x_host.data(), kRows, c.in, bge::DType::kF32);
        auto y = backend->alloc(bge::DType::kF32, kRows, c.out).value();
        const double s = min_seconds(reps, [&] { backend->linear(x.view, *weight, c.act, y.view); });
        char shape[96];
        std::snprintf(shape, sizeof shape, "[%lld,%lld]x[%lld,%lld] %s", static_cast<long long>(kRows),
                      static_cast<long long>(c.in), static_cast<long long>(c.in), static_cast<long long>(c.out),
                      c.what);
        results.push_back({"linear", shape, s * 1e3, 2.0 * kRows * c.in * c.out / s / 1e9});
    }

    constexpr int kHeads = 16;
    constexpr int64_t kHidden = 1024;
    for (const int64_t len : {512, 8192}) {
        const auto qkv_host = random_vector(len * 3 * kHidden, rng, 1.f);
        auto qkv = backend->upload(qkv_host.data(), len, 3 * kHidden, bge::DType::kF32);
        auto out = backend->alloc(bge::DType::kF32, len, kHidden).value();
        const std::vector<int32_t> cu = {0, static_cast<int32_t>(len)};
        const double s = min_seconds(len > 2048 ? std::min(reps, 3) : reps,
                                     [&] { backend->attention(qkv.view, cu, kHeads, out.view); });
        char shape[96];
        std::snprintf(shape, sizeof shape, "L=%lld, %d heads x %lld", static_cast<long long>(len), kHeads,
                      static_cast<long long>(kHidden / kHeads));
        // QKᵀ and PV: 2 * L * L * head_dim flops each, per head.
        results.push_back({"attention", shape, s * 1e3, 4.0 * len * len * kHidden / s / 1e9});
    }

    std::printf("%-10s %-40s %10s %10s\n", "op", "shape", "ms", "GFLOP/s");
    for (const Result& r : results) {
        std::printf("%-10s %-40s %10.3f %10.1f\n", r.op.c_str(), r.shape.c_str(), r.ms, r.gflops);
    }
    const int used_threads = threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency());
    std::printf("{\"bench\":\"cpu_ops\",\"threads\":%d,\"results\":[", used_threads);
    for (size_t i = 0; i < results.size(); ++i) {
        std::printf("%s{\"op\":\"%s\",\"shape\":\"%s\",\"ms\":%.4f,\"gflops\":%.2f}", i ? "," : "",
                    results[i].op.c_str(), results[i].shape.c_str(), results[i].ms, results[i].gflops);
    }
    std::printf("]}\n");
    return 0;
}
