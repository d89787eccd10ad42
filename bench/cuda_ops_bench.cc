// Throughput of the CUDA backend's ops at BGE-M3 shapes, fp16. Attention (16 heads x 64): packed batches of
// equal and of mixed lengths, on the own mma.sync kernel (BGE_CUDA_ATTENTION=mma), the own Hopper kernel (=wgmma,
// where it runs) and cuDNN's fused SDPA (=cudnn, where it loads). Layer ops at 512 x 32 tokens: the four GEMMs
// (TFLOP/s), exact GELU and residual + LayerNorm (TB/s of the bytes they must move), each as the encoder calls it,
// and the FFN sub-layer (up, GELU, down, residual + LayerNorm) over row chunks of several sizes.
// Usage: bge_cuda_ops_bench [--reps N] [--attention MODE,...] (those attention modes only, no layer ops). Prints a
// table, then JSON. Each figure is the median over N timings (host clock around back-to-back calls + synchronize;
// attention one call per timing, the layer ops 10), after two warm-ups (which build the plans).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/cuda_backend.h"

namespace {

constexpr int kHeads = 16;
constexpr int64_t kHidden = 1024;
constexpr int64_t kFfn = 4096;

template <typename T>
T ok_value(bge::StatusOr<T> v) {
    if (!v.ok()) {
        std::fprintf(stderr, "bge_cuda_ops_bench: %s\n", v.status().message().c_str());
        std::exit(1);
    }
    return std::move(v).value();
}

// Median ms of one `op` call: `reps` timings of `calls` back-to-back calls each, after two warm-up timings.
double median_ms(bge::Backend& backend, int reps, int calls, const std::function<void()>& op) {
    std::vector<double> ms;
    for (int r = 0; r < reps + 2; ++r) {
        const auto start = std::chrono::steady_clock::now();
        for (int c = 0; c < calls; ++c) op();
        if (bge::Status s = backend.synchronize(); !s.ok()) {
            std::fprintf(stderr, "bge_cuda_ops_bench: %s\n", s.message().c_str());
            std::exit(1);
        }
        const double elapsed =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        if (r >= 2) ms.push_back(elapsed / calls);
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

bge::DeviceTensor random_tensor(bge::Backend& backend, int64_t rows, int64_t cols, float scale, std::mt19937& rng) {
    std::uniform_real_distribution<float> dist(-scale, scale);
    std::vector<float> host(static_cast<size_t>(rows * cols));
    for (float& x : host) x = dist(rng);
    return ok_value(backend.upload(host.data(), rows, cols, bge::DType::kF16));
}

std::unique_ptr<bge::LinearWeight> random_linear(bge::Backend& backend, int64_t out, int64_t in, std::mt19937& rng) {
    std::uniform_real_distribution<float> dist(-0.03f, 0.03f);
    std::vector<float> w(static_cast<size_t>(out * in)), b(static_cast<size_t>(out));
    for (float& x : w) x = dist(rng);
    for (float& x : b) x = dist(rng);
    return ok_value(backend.make_linear(w.data(), b.data(), out, in));
}

struct Row {
    std::string op, shape;
    double ms, rate;  // rate: TFLOP/s or TB/s, per `unit`
    const char* unit;
};

// One packed batch per shape: `batch` sequences of `tokens` tokens, or (tokens 0) 128 sequences of uniform random
// lengths 16-512, the server's mixed batch (cuDNN's ragged plan).
void bench_attention(int reps, const std::vector<std::string>& modes, std::mt19937& rng, std::vector<Row>& rows) {
    std::vector<int32_t> mixed(128);
    std::uniform_int_distribution<int32_t> length(16, 512);
    for (int32_t& l : mixed) l = length(rng);
    for (const std::string& m : modes) {
        const char* mode = m.c_str();
        setenv("BGE_CUDA_ATTENTION", mode, 1);
        auto made = bge::make_cuda_backend(0, bge::DType::kF16);
        if (!made.ok()) {
            std::printf("%-8s %s\n", mode, made.status().message().c_str());
            continue;
        }
        auto backend = std::move(made).value();
        for (const auto& [tokens, batch] : {std::pair{8192, 1},
                                            {2048, 32},
                                            {512, 32},
                                            {256, 64},
                                            {128, 256},
                                            {128, 1},
                                            {0, static_cast<int>(mixed.size())}}) {
            std::vector<int32_t> cu(batch + 1, 0);
            for (int s = 0; s < batch; ++s) cu[s + 1] = cu[s] + (tokens > 0 ? tokens : mixed[s]);
            const int64_t n = cu[batch];
            auto qkv = random_tensor(*backend, n, 3 * kHidden, 2.f, rng);
            auto out = ok_value(backend->alloc(bge::DType::kF16, n, kHidden));
            auto cu_device = ok_value(backend->alloc(bge::DType::kI32, batch + 1, 1));
            backend->copy_to_device(cu.data(), cu_device.view);
            const int max_len = tokens > 0 ? tokens : *std::max_element(mixed.begin(), mixed.end());
            const bge::SeqLayout layout{cu, cu_device.view, max_len};
            const double ms =
                median_ms(*backend, reps, 1, [&] { backend->attention(qkv.view, layout, kHeads, out.view); });
            double flop = 0;
            for (int s = 0; s < batch; ++s) flop += 4.0 * (cu[s + 1] - cu[s]) * double(cu[s + 1] - cu[s]) * kHidden;
            rows.push_back({std::string("attention ") + mode,
                            tokens > 0 ? std::to_string(tokens) + " x " + std::to_string(batch) : "16-512 x 128", ms,
                            flop / (ms * 1e-3) / 1e12, "TFLOP/s"});
        }
    }
    unsetenv("BGE_CUDA_ATTENTION");
}

// The encoder layer's ops as xlmr_encoder.cc calls them, on 512 x 32 tokens.
void bench_layer(int reps, std::mt19937& rng, std::vector<Row>& rows) {
    auto backend = ok_value(bge::make_cuda_backend(0, bge::DType::kF16));
    const int64_t n = 512 * 32;
    const std::string shape = std::to_string(n) + " tokens";
    auto x = random_tensor(*backend, n, kHidden, 1.f, rng);
    auto y = random_tensor(*backend, n, kHidden, 1.f, rng);
    auto qkv = ok_value(backend->alloc(bge::DType::kF16, n, 3 * kHidden));
    auto ffn = ok_value(backend->alloc(bge::DType::kF16, n, kFfn));
    auto gamma = ok_value(backend->upload(std::vector<float>(kHidden, 1.f).data(), 1, kHidden, bge::DType::kF32));
    auto beta = ok_value(backend->upload(std::vector<float>(kHidden, 0.f).data(), 1, kHidden, bge::DType::kF32));
    auto w_qkv = random_linear(*backend, 3 * kHidden, kHidden, rng);
    auto w_out = random_linear(*backend, kHidden, kHidden, rng);
    auto w_up = random_linear(*backend, kFfn, kHidden, rng);
    auto w_down = random_linear(*backend, kHidden, kFfn, rng);
    const auto gemm = [&](const char* op, int64_t in, int64_t out, const std::function<void()>& call) {
        const double ms = median_ms(*backend, reps, 10, call);
        rows.push_back({op, shape, ms, 2.0 * n * in * out / (ms * 1e-3) / 1e12, "TFLOP/s"});
        return ms;
    };
    const auto bytes = [&](const char* op, double ms, double moved) {
        rows.push_back({op, shape, ms, moved / (ms * 1e-3) / 1e12, "TB/s"});
    };
    const double f16 = 2.0;
    gemm("linear QKV", kHidden, 3 * kHidden,
         [&] { backend->linear(x.view, *w_qkv, bge::Activation::kNone, qkv.view); });
    gemm("linear attention-out", kHidden, kHidden,
         [&] { backend->linear(x.view, *w_out, bge::Activation::kNone, y.view); });
    const double up_ms =
        gemm("linear FFN-up", kHidden, kFfn, [&] { backend->linear(x.view, *w_up, bge::Activation::kNone, ffn.view); });
    const double up_gelu_ms = gemm("linear FFN-up + GELU", kHidden, kFfn,
                                   [&] { backend->linear(x.view, *w_up, bge::Activation::kGelu, ffn.view); });
    bytes("exact GELU (difference)", up_gelu_ms - up_ms, 2 * f16 * n * kFfn);
    gemm("linear FFN-down", kFfn, kHidden, [&] { backend->linear(ffn.view, *w_down, bge::Activation::kNone, y.view); });
    const double ln_ms =
        median_ms(*backend, reps, 10, [&] { backend->add_layer_norm(y.view, x.view, gamma.view, beta.view, 1e-5f); });
    bytes("residual + LayerNorm", ln_ms, 3 * f16 * n * kHidden);
    // The encoder runs the FFN over row chunks of at most kFfnChunkTokens (8192): smaller chunks would keep the
    // [chunk, 4096] activations in L2 (50 MB) between the GELU pass and the down GEMM.
    for (int64_t chunk : {16384, 8192, 4096, 2048}) {
        const double ms = median_ms(*backend, reps, 10, [&] {
            for (int64_t r = 0; r < n; r += chunk) {
                const int64_t m = std::min(chunk, n - r);
                backend->feed_forward(x.view.row_slice(r, m), *w_up, *w_down, ffn.view.row_slice(0, m),
                                      {x.view.row_slice(r, m), gamma.view, beta.view, 1e-5f, nullptr},
                                      y.view.row_slice(r, m));
            }
        });
        rows.push_back({"FFN + LayerNorm, chunks of " + std::to_string(chunk), shape, ms,
                        4.0 * n * kHidden * kFfn / (ms * 1e-3) / 1e12, "TFLOP/s"});
    }
}

}  // namespace

int main(int argc, char** argv) {
    int reps = 10;
    std::vector<std::string> modes = {"mma", "wgmma", "cudnn"};
    bool layer = true;
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::strcmp(argv[i], "--reps") == 0) reps = std::max(1, std::atoi(argv[i + 1]));
        if (std::strcmp(argv[i], "--attention") == 0) {
            modes.clear();
            for (std::string list = argv[i + 1]; !list.empty();) {
                const size_t comma = list.find(',');
                modes.push_back(list.substr(0, comma));
                list = comma == std::string::npos ? "" : list.substr(comma + 1);
            }
            layer = false;
        }
    }
    std::mt19937 rng(1);
    std::vector<Row> rows;
    bench_attention(reps, modes, rng, rows);
    if (layer) bench_layer(reps, rng, rows);
    std::printf("%-34s %-14s %10s %10s\n", "op", "shape", "ms", "rate");
    std::string json = "[";
    for (const Row& r : rows) {
        std::printf("%-34s %-14s %10.4f %10.1f %s\n", r.op.c_str(), r.shape.c_str(), r.ms, r.rate, r.unit);
        char entry[256];
        std::snprintf(entry, sizeof entry,
                      "%s{\"op\":\"%s\",\"shape\":\"%s\",\"ms\":%.5f,\"rate\":%.3f,\"unit\":\"%s\"}",
                      json.size() > 1 ? "," : "", r.op.c_str(), r.shape.c_str(), r.ms, r.rate, r.unit);
        json += entry;
    }
    std::printf("%s]\n", json.c_str());
    return 0;
}
