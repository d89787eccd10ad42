// Throughput of the CPU backend's hot ops at BGE-M3 shapes (hidden 1024, 16 heads x 64, FFN 4096).
// Usage: bge_cpu_ops_bench [--threads N] [--reps N] [--rows N]. Prints a table, then one JSON line.
// Each figure is the minimum time over the repetitions, after one warm-up call. Linear layers run under every CPU
// precision (fp32, bf16, int8: what that precision uses for the map, see CpuPrecision), the three in turn per
// repetition so that load on the machine hits them alike.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "backend/cpu/cpu_backend.h"

namespace {

template <typename T>
T ok_value(bge::StatusOr<T> v) {
    if (!v.ok()) {
        std::fprintf(stderr, "bge_cpu_ops_bench: %s\n", v.status().message().c_str());
        std::exit(1);
    }
    return std::move(v).value();
}

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
    int64_t rows = 512;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--threads") == 0) {
            threads = std::atoi(argv[i + 1]);
        } else if (std::strcmp(argv[i], "--reps") == 0) {
            reps = std::max(1, std::atoi(argv[i + 1]));
        } else if (std::strcmp(argv[i], "--rows") == 0) {
            rows = std::max(1, std::atoi(argv[i + 1]));
        } else {
            std::fprintf(stderr, "usage: %s [--threads N] [--reps N] [--rows N]\n", argv[0]);
            return 2;
        }
    }
    std::mt19937 rng(42);
    std::vector<Result> results;

    struct LinearCase {
        int64_t in, out;
        bge::Activation act;
        bge::EncoderLinear which;
        const char* what;
    };
    const char* kPrecisionNames[] = {"fp32", "bf16", "int8"};
    std::unique_ptr<bge::Backend> precisions[] = {bge::make_cpu_backend(threads, bge::CpuPrecision::kF32),
                                                  bge::make_cpu_backend(threads, bge::CpuPrecision::kBF16),
                                                  bge::make_cpu_backend(threads, bge::CpuPrecision::kInt8)};
    for (const LinearCase& c :
         {LinearCase{1024, 3072, bge::Activation::kNone, bge::EncoderLinear::kQkv, "fused QKV"},
          LinearCase{1024, 1024, bge::Activation::kNone, bge::EncoderLinear::kAttentionOut, "attn out"},
          LinearCase{1024, 4096, bge::Activation::kGelu, bge::EncoderLinear::kFfnIn, "FFN up+gelu"},
          LinearCase{4096, 1024, bge::Activation::kNone, bge::EncoderLinear::kFfnOut, "FFN down"}}) {
        const auto w = random_vector(c.out * c.in, rng, 0.05f);
        const auto b = random_vector(c.out, rng, 0.05f);
        const auto x_host = random_vector(rows * c.in, rng, 1.f);
        // Q/K/V and FFN up read a LayerNorm's output: int8 smooths them by its gamma and beta (ones and zeros here).
        const bool after_norm = c.which == bge::EncoderLinear::kQkv || c.which == bge::EncoderLinear::kFfnIn;
        const std::vector<float> gamma(c.in, 1.f), beta(c.in, 0.f);
        const bge::InputNorm norm = after_norm ? bge::InputNorm{gamma, beta} : bge::InputNorm{};
        std::unique_ptr<bge::LinearWeight> weights[3];
        bge::DeviceTensor xs[3], ys[3];
        double best[3] = {1e30, 1e30, 1e30};
        for (int p = 0; p < 3; ++p) {
            bge::Backend& be = *precisions[p];
            weights[p] = ok_value(be.make_encoder_linear(c.which, w.data(), b.data(), c.out, c.in, norm));
            xs[p] = ok_value(be.upload(x_host.data(), rows, c.in, bge::DType::kF32));
            ys[p] = ok_value(be.alloc(bge::DType::kF32, rows, c.out));
            be.linear(xs[p].view, *weights[p], c.act, ys[p].view);  // warm-up
        }
        for (int i = 0; i < reps; ++i) {
            for (int p = 0; p < 3; ++p) {
                const auto t0 = std::chrono::steady_clock::now();
                precisions[p]->linear(xs[p].view, *weights[p], c.act, ys[p].view);
                best[p] =
                    std::min(best[p], std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            }
        }
        for (int p = 0; p < 3; ++p) {
            char shape[128];
            std::snprintf(shape, sizeof shape, "[%lld,%lld]x[%lld,%lld] %s %s", static_cast<long long>(rows),
                          static_cast<long long>(c.in), static_cast<long long>(c.in), static_cast<long long>(c.out),
                          c.what, kPrecisionNames[p]);
            results.push_back({"linear", shape, best[p] * 1e3, 2.0 * rows * c.in * c.out / best[p] / 1e9});
        }
    }

    constexpr int kHeads = 16;
    constexpr int64_t kHidden = 1024;
    constexpr int64_t kIntermediate = 4096;
    {  // The layer's two sub-layers as the encoder runs them (Backend::linear_add_norm, Backend::feed_forward with
       // the next map hinted) against the same maps, residual adds and LayerNorms as separate ops.
        const auto w_out = random_vector(kHidden * kHidden, rng, 0.05f);
        const auto b_out = random_vector(kHidden, rng, 0.05f);
        const auto w_up = random_vector(kIntermediate * kHidden, rng, 0.05f);
        const auto b_up = random_vector(kIntermediate, rng, 0.05f);
        const auto w_down = random_vector(kHidden * kIntermediate, rng, 0.05f);
        const auto b_down = random_vector(kHidden, rng, 0.05f);
        const auto x_host = random_vector(rows * kHidden, rng, 1.f);
        const std::vector<float> gamma(kHidden, 1.f), beta(kHidden, 0.f);
        for (int p = 0; p < 3; ++p) {
            bge::Backend& be = *precisions[p];
            auto out = ok_value(be.make_encoder_linear(bge::EncoderLinear::kAttentionOut, w_out.data(), b_out.data(),
                                                       kHidden, kHidden, {}));
            auto up = ok_value(be.make_encoder_linear(bge::EncoderLinear::kFfnIn, w_up.data(), b_up.data(),
                                                      kIntermediate, kHidden, bge::InputNorm{gamma, beta}));
            auto down = ok_value(be.make_encoder_linear(bge::EncoderLinear::kFfnOut, w_down.data(), b_down.data(),
                                                        kHidden, kIntermediate, {}));
            auto x = ok_value(be.upload(x_host.data(), rows, kHidden, bge::DType::kF32));
            auto g = ok_value(be.upload(gamma.data(), 1, kHidden, bge::DType::kF32));
            auto bt = ok_value(be.upload(beta.data(), 1, kHidden, bge::DType::kF32));
            auto mid = ok_value(be.alloc(bge::DType::kF32, rows, kIntermediate));
            auto y = ok_value(be.alloc(bge::DType::kF32, rows, kHidden));
            auto z = ok_value(be.alloc(bge::DType::kF32, rows, kHidden));
            const double attn_separate = min_seconds(reps, [&] {
                be.linear(x.view, *out, bge::Activation::kNone, y.view);
                be.add_layer_norm(y.view, x.view, g.view, bt.view, 1e-5f);
            });
            const double attn_fused = min_seconds(
                reps, [&] { be.linear_add_norm(x.view, *out, {x.view, g.view, bt.view, 1e-5f, up.get()}, y.view); });
            const double ffn_separate = min_seconds(reps, [&] {
                be.linear(y.view, *up, bge::Activation::kGelu, mid.view);
                be.linear(mid.view, *down, bge::Activation::kNone, z.view);
                be.add_layer_norm(z.view, y.view, g.view, bt.view, 1e-5f);
            });
            // Every call after the first reads y as the attention sub-layer above left it: converted for FFN up.
            be.linear_add_norm(x.view, *out, {x.view, g.view, bt.view, 1e-5f, up.get()}, y.view);
            const double ffn_fused = min_seconds(reps, [&] {
                be.feed_forward(y.view, *up, *down, mid.view, {y.view, g.view, bt.view, 1e-5f, nullptr}, z.view);
            });
            const double attn_flop = 2.0 * rows * kHidden * kHidden, ffn_flop = 4.0 * rows * kHidden * kIntermediate;
            char shape[160];
            for (auto [what, seconds, flop] : {std::tuple{"attn out + LayerNorm, separate", attn_separate, attn_flop},
                                               {"attn out + LayerNorm, fused", attn_fused, attn_flop},
                                               {"FFN + LayerNorm, separate", ffn_separate, ffn_flop},
                                               {"FFN + LayerNorm, fused", ffn_fused, ffn_flop}}) {
                std::snprintf(shape, sizeof shape, "[%lld,%lld] %s %s", static_cast<long long>(rows),
                              static_cast<long long>(kHidden), what, kPrecisionNames[p]);
                results.push_back({"sublayer", shape, seconds * 1e3, flop / seconds / 1e9});
            }
        }
    }
    struct AttentionCase {
        int64_t len, count;  // `count` sequences of `len` tokens
    };
    for (const AttentionCase c : {AttentionCase{128, 32}, AttentionCase{256, 16}, AttentionCase{512, 1},
                                  AttentionCase{512, 8}, AttentionCase{8192, 1}}) {
        const int64_t n = c.len * c.count;
        const auto qkv_host = random_vector(n * 3 * kHidden, rng, 1.f);
        std::vector<int32_t> cu = {0};
        for (int64_t i = 0; i < c.count; ++i) cu.push_back(cu.back() + static_cast<int32_t>(c.len));
        // CPU "device" memory is host memory: the offsets serve as both.
        const bge::SeqLayout layout{cu, bge::Tensor{cu.data(), bge::DType::kI32, static_cast<int64_t>(cu.size()), 1},
                                    static_cast<int32_t>(c.len)};
        // fp32's attention, and bf16's where it differs (bf16 GEMMs where oneDNN has them; int8 runs the same).
        for (int p = 0; p < 2; ++p) {
            bge::Backend& be = *precisions[p];
            if (p == 1 && be.attention_kernel() == precisions[0]->attention_kernel()) continue;
            auto qkv = ok_value(be.upload(qkv_host.data(), n, 3 * kHidden, bge::DType::kF32));
            auto out = ok_value(be.alloc(bge::DType::kF32, n, kHidden));
            const double s = min_seconds(c.len > 2048 ? std::min(reps, 3) : reps,
                                         [&] { be.attention(qkv.view, layout, kHeads, out.view); });
            char shape[96];
            std::snprintf(shape, sizeof shape, "%lld x L=%lld, %d heads x %lld %s", static_cast<long long>(c.count),
                          static_cast<long long>(c.len), kHeads, static_cast<long long>(kHidden / kHeads),
                          be.attention_kernel().c_str());
            // QKᵀ and PV: 2 * L * L * head_dim flops each, per head.
            results.push_back({"attention", shape, s * 1e3, 4.0 * c.count * c.len * c.len * kHidden / s / 1e9});
        }
    }

    std::printf("%-10s %-48s %10s %10s\n", "op", "shape", "ms", "GFLOP/s");
    for (const Result& r : results) {
        std::printf("%-10s %-48s %10.3f %10.1f\n", r.op.c_str(), r.shape.c_str(), r.ms, r.gflops);
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
