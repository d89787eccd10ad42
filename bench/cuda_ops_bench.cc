// Throughput of the CUDA backend's attention at BGE-M3 shapes (16 heads x 64), fp16: one packed batch of
// `batch` sequences of `tokens` tokens, on the own kernel (BGE_CUDA_ATTENTION=flash) and on cuDNN's fused SDPA
// (=cudnn, where it loads). Usage: bge_cuda_ops_bench [--reps N]. Prints a table, then JSON. Each figure is the
// median of N timed calls (host clock around call + synchronize), after two warm-ups (which build cuDNN's plan).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/cuda_backend.h"

namespace {

template <typename T>
T ok_value(bge::StatusOr<T> v) {
    if (!v.ok()) {
        std::fprintf(stderr, "bge_cuda_ops_bench: %s\n", v.status().message().c_str());
        std::exit(1);
    }
    return std::move(v).value();
}

}  // namespace

int main(int argc, char** argv) {
    int reps = 10;
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::strcmp(argv[i], "--reps") == 0) reps = std::max(1, std::atoi(argv[i + 1]));
    }
    constexpr int kHeads = 16;
    constexpr int64_t kHidden = 1024;
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(-2.f, 2.f);
    std::string json = "[";
    std::printf("%-8s %-16s %10s %10s\n", "kernel", "tokens x batch", "ms", "TFLOP/s");
    for (const char* mode : {"flash", "cudnn"}) {
        setenv("BGE_CUDA_ATTENTION", mode, 1);
        auto made = bge::make_cuda_backend(0, bge::DType::kF16);
        if (!made.ok()) {
            std::printf("%-8s %s\n", mode, made.status().message().c_str());
            continue;
        }
        auto backend = std::move(made).value();
        for (const auto& [tokens, batch] : {std::pair{8192, 1}, {2048, 32}, {512, 32}, {128, 256}, {256, 64}}) {
            const int64_t n = static_cast<int64_t>(tokens) * batch;
            std::vector<float> host(static_cast<size_t>(n * 3 * kHidden));
            for (float& x : host) x = dist(rng);
            auto qkv = ok_value(backend->upload(host.data(), n, 3 * kHidden, bge::DType::kF16));
            auto out = ok_value(backend->alloc(bge::DType::kF16, n, kHidden));
            std::vector<int32_t> cu(batch + 1);
            for (int s = 0; s <= batch; ++s) cu[s] = s * tokens;
            auto cu_device = ok_value(backend->alloc(bge::DType::kI32, batch + 1, 1));
            backend->copy_to_device(cu.data(), cu_device.view);
            const bge::SeqLayout layout{cu, cu_device.view, tokens};
            std::vector<double> ms;
            for (int r = 0; r < reps + 2; ++r) {
                const auto start = std::chrono::steady_clock::now();
                backend->attention(qkv.view, layout, kHeads, out.view);
                if (bge::Status s = backend->synchronize(); !s.ok()) {
                    std::fprintf(stderr, "bge_cuda_ops_bench: %s\n", s.message().c_str());
                    return 1;
                }
                if (r >= 2)
                    ms.push_back(
                        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
            }
            std::sort(ms.begin(), ms.end());
            const double median = ms[ms.size() / 2];
            const double tflops = 4.0 * tokens * static_cast<double>(tokens) * kHidden * batch / (median * 1e-3) / 1e12;
            std::printf("%-8s %6d x %-7d %10.3f %10.1f\n", mode, tokens, batch, median, tflops);
            char entry[160];
            std::snprintf(entry, sizeof entry,
                          "%s{\"kernel\":\"%s\",\"tokens\":%d,\"batch\":%d,\"ms\":%.4f,\"tflops\":%.2f}",
                          json.size() > 1 ? "," : "", mode, tokens, batch, median, tflops);
            json += entry;
        }
    }
    std::printf("%s]\n", json.c_str());
    return 0;
}
