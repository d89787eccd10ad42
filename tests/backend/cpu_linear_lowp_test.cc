// CPU linear layers in bf16 and int8 (CpuPrecision) against a double-precision reference, with bounds derived from
// the quantization itself, so that a wrong scale, zero point or compensation fails:
//   bf16: x and W each rounded to 8 significant bits (relative error <= 2^-9 each), f32 sums:
//         |y - ref| <= 4.2e-3 * Σ|x_k w_k| + 1e-5 * (Σ|x_k w_k| + 1e-3).
//   int8: W ~ s_w q_w per output channel, x ~ s_x (q_x - zp) per row, each code within half a step:
//         |y - ref| <= 0.5 s_w Σ|x_k| + 0.5 s_x Σ|w_k| + 0.25 s_x s_w K (+ f32 rounding),
//         with s_w = max|w_c| / s8_max_code() (127 with VNNI, else 63) and s_x = (max(x, 0) - min(x, 0)) / 255;
//         a smoothed layer (made with an InputNorm) the same in its x' and W' (cpu_quantize.h, Smoothing).
// Activations (GELU, tanh) are at most 1.13-Lipschitz; the bound is scaled by 1.2.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_linear.h"
#include "backend/cpu/cpu_quantize.h"
#include "backend_test_util.h"

namespace bge {
namespace {

double apply(Activation act, double v) {
    if (act == Activation::kGelu) return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    if (act == Activation::kTanh) return std::tanh(v);
    return v;
}

// A LayerNorm's gamma and beta for `in` channels with outliers: gamma in [0.5, 1.5] but 30 on channels 0 and 1,
// beta in [-0.3, 0.3] but 8 on channel 2 (the shapes of trained models' outlier channels).
struct Norm {
    std::vector<float> gamma, beta;
    InputNorm view() const { return {gamma, beta}; }
};
Norm outlier_norm(int64_t in, uint32_t seed) {
    Norm norm{test::random_floats(in, seed, 0.5f, 1.5f), test::random_floats(in, seed + 1, -0.3f, 0.3f)};
    norm.gamma[0] = norm.gamma[1] = 30.f;
    norm.beta[2] = 8.f;
    return norm;
}
// x [n, in] = u * gamma + beta per row, u uniform in [-2, 2]: the LayerNorm's output.
std::vector<float> norm_output(const Norm& norm, int64_t n, uint32_t seed) {
    const int64_t in = static_cast<int64_t>(norm.gamma.size());
    std::vector<float> x = test::random_floats(n * in, seed, -2.f, 2.f);
    for (int64_t i = 0; i < n * in; ++i) x[i] = x[i] * norm.gamma[i % in] + norm.beta[i % in];
    return x;
}

// `norm` empty: x uniform in [-1, 3] (asymmetric, as after a GELU), the layer made without a norm; else x is that
// LayerNorm's output and the layer is made with it.
void check(CpuPrecision precision, EncoderLinear which, int64_t n, int64_t in, int64_t out, Activation act,
           uint32_t seed, const Norm& norm = {}) {
    SCOPED_TRACE(testing::Message() << "precision " << static_cast<int>(precision) << " map " << static_cast<int>(which)
                                    << " n=" << n << " in=" << in << " out=" << out << " norm " << !norm.gamma.empty());
    auto backend = make_cpu_backend(2, precision);
    const std::vector<float> w = test::random_floats(out * in, seed, -0.5f, 0.5f);
    const std::vector<float> b = test::random_floats(out, seed + 1);
    const std::vector<float> x =
        norm.gamma.empty() ? test::random_floats(n * in, seed + 2, -1.f, 3.f) : norm_output(norm, n, seed + 2);
    auto weight = test::ok_value(backend->make_encoder_linear(which, w.data(), b.data(), out, in, norm.view()));
    const std::string kernels = backend->gemm_kernels();
    const bool int8 = kernels.find("int8") != std::string::npos;
    const bool bf16 = kernels.find("bf16") != std::string::npos;
    EXPECT_EQ(kernels.find("smoothed") != std::string::npos, int8 && !norm.gamma.empty()) << kernels;
    // What int8 quantizes: x' and W' of a smoothed layer, else x and W.
    std::vector<float> xq = x, wq = w;
    if (int8 && !norm.gamma.empty()) {
        const cpu::Smoothing sm = cpu::smooth_linear(w.data(), b.data(), out, in, norm.gamma, norm.beta);
        for (int64_t i = 0; i < n * in; ++i) xq[i] = x[i] * sm.mul[i % in] + sm.add[i % in];
        wq = sm.weights;
    }
    DeviceTensor xd = test::ok_value(backend->upload(x.data(), n, in, DType::kF32));
    DeviceTensor yd = test::ok_value(backend->alloc(DType::kF32, n, out));
    backend->linear(xd.view, *weight, act, yd.view);
    const std::vector<float> y = test::to_host(*backend, yd.view);
    const double max_code = cpu::kU8MaxCode;
    int failures = 0;
    for (int64_t r = 0; r < n; ++r) {
        const float* xr = &x[r * in];
        const float* xqr = &xq[r * in];
        double x_lo = 0, x_hi = 0, x_abs = 0;
        for (int64_t k = 0; k < in; ++k) {
            x_lo = std::min<double>(x_lo, xqr[k]);
            x_hi = std::max<double>(x_hi, xqr[k]);
            x_abs += std::fabs(xqr[k]);
        }
        const double s_x = (x_hi - x_lo) / max_code;
        for (int64_t c = 0; c < out; ++c) {
            const float* wc = &w[c * in];
            const float* wqc = &wq[c * in];
            double sum = b[c], magnitude = std::fabs(b[c]), w_abs = 0, w_max = 0, q_magnitude = 0;
            for (int64_t k = 0; k < in; ++k) {
                sum += static_cast<double>(xr[k]) * wc[k];
                magnitude += std::fabs(static_cast<double>(xr[k]) * wc[k]);
                q_magnitude += std::fabs(static_cast<double>(xqr[k]) * wqc[k]);
                w_abs += std::fabs(wqc[k]);
                w_max = std::max<double>(w_max, std::fabs(wqc[k]));
            }
            const double s_w = w_max / cpu::s8_max_code();
            double bound = 1e-5 * (magnitude + 1e-3);
            if (int8) {
                bound +=
                    0.5 * s_w * x_abs + 0.5 * s_x * w_abs + 0.25 * s_x * s_w * in + 1e-6 * (magnitude + q_magnitude);
            } else if (bf16) {
                bound += 4.2e-3 * magnitude;
            }
            const double got = y[r * out + c];
            const double want = apply(act, sum);
            if (!(std::fabs(got - want) <= 1.2 * bound) && ++failures <= 5) {
                ADD_FAILURE() << "row " << r << " col " << c << ": got " << got << " want " << want << " bound "
                              << 1.2 * bound << " (" << kernels << ")";
            }
        }
    }
    EXPECT_EQ(failures, 0);
}

TEST(CpuLinearLowPrecision, Bf16MatchesReference) {
    uint32_t seed = 1;
    for (auto [n, in, out] : {std::tuple{1, 64, 32}, {7, 33, 17}, {130, 257, 129}, {67, 1024, 96}}) {
        for (Activation act : {Activation::kNone, Activation::kGelu, Activation::kTanh}) {
            check(CpuPrecision::kBF16, EncoderLinear::kFfnIn, n, in, out, act, seed, outlier_norm(in, seed));
            ++seed;
        }
    }
}

// CpuPrecision::kInt8's maps, plain (attention output, FFN down) and smoothed by the LayerNorm they read (Q/K/V,
// FFN up).
TEST(CpuLinearLowPrecision, Int8MatchesReference) {
    uint32_t seed = 100;
    for (auto [n, in, out] : {std::tuple{1, 64, 32}, {7, 33, 17}, {130, 257, 129}, {67, 1024, 96}, {3, 4096, 64}}) {
        for (Activation act : {Activation::kNone, Activation::kGelu, Activation::kTanh}) {
            check(CpuPrecision::kInt8, EncoderLinear::kFfnOut, n, in, out, act, seed++);
            check(CpuPrecision::kInt8, EncoderLinear::kFfnIn, n, in, out, act, seed, outlier_norm(in, seed));
            ++seed;
        }
    }
    check(CpuPrecision::kInt8, EncoderLinear::kQkv, 9, 96, 3 * 96, Activation::kNone, seed, outlier_norm(96, seed));
    // Without the hint a map is plain int8.
    check(CpuPrecision::kInt8, EncoderLinear::kQkv, 9, 96, 3 * 96, Activation::kNone, seed + 1);
}

// x' · W'ᵀ + b' + Σ_exact x[k] W[:, k] == x · Wᵀ + b up to the rounding of storing x', W' and b' in F32 (checked
// in double), with the outliers split: the gamma ones exact (at most in / 64 = 2 here, so a third, smaller one is
// smoothed), the beta one folded into the bias.
TEST(CpuLinearLowPrecision, SmoothingIsExact) {
    const int64_t in = 160, out = 24, n = 5;
    Norm norm = outlier_norm(in, 7);
    norm.gamma[3] = 20.f;
    const std::vector<float> w = test::random_floats(out * in, 8, -0.5f, 0.5f);
    const std::vector<float> b = test::random_floats(out, 9);
    const std::vector<float> x = norm_output(norm, n, 10);
    const cpu::Smoothing sm = cpu::smooth_linear(w.data(), b.data(), out, in, norm.gamma, norm.beta);
    ASSERT_EQ(sm.weights.size(), w.size());
    EXPECT_EQ(sm.exact, (std::vector<int32_t>{0, 1}));
    ASSERT_EQ(sm.exact_weights.size(), 2u * out);
    EXPECT_LT(sm.mul[3], 0.5 * sm.mul[5]);  // the smoothed outlier shrinks
    for (int64_t r = 0; r < n; ++r) {
        for (int64_t c = 0; c < out; ++c) {
            double want = b[c], got = sm.bias[c], magnitude = std::fabs(b[c]);
            for (int64_t k = 0; k < in; ++k) {
                const double xk = x[r * in + k];
                want += xk * w[c * in + k];
                got += (xk * sm.mul[k] + sm.add[k]) * sm.weights[c * in + k];
                magnitude += (std::fabs(xk) + std::fabs(norm.beta[k])) * std::fabs(w[c * in + k]);
            }
            for (size_t j = 0; j < sm.exact.size(); ++j) got += x[r * in + sm.exact[j]] * sm.exact_weights[j * out + c];
            EXPECT_NEAR(got, want, 1e-6 * magnitude) << "row " << r << " col " << c;
        }
    }
}

// On a LayerNorm output with outlier channels, smoothing cuts int8's error to a fraction of the plain map's.
// Measured at AVX2 (7-bit weights): 0.23.
TEST(CpuLinearLowPrecision, SmoothingBeatsPlainInt8) {
    const int64_t in = 256, out = 64, n = 16;
    const Norm norm = outlier_norm(in, 11);
    const std::vector<float> w = test::random_floats(out * in, 12, -0.5f, 0.5f);
    const std::vector<float> x = norm_output(norm, n, 13);
    auto backend = make_cpu_backend(1, CpuPrecision::kInt8);
    DeviceTensor xd = test::ok_value(backend->upload(x.data(), n, in, DType::kF32));
    DeviceTensor yd = test::ok_value(backend->alloc(DType::kF32, n, out));
    double squared_error[2] = {0, 0};  // plain, smoothed
    for (int smoothed = 0; smoothed < 2; ++smoothed) {
        auto weight = test::ok_value(backend->make_encoder_linear(EncoderLinear::kFfnIn, w.data(), nullptr, out, in,
                                                                  smoothed ? norm.view() : InputNorm{}));
        backend->linear(xd.view, *weight, Activation::kNone, yd.view);
        const std::vector<float> y = test::to_host(*backend, yd.view);
        for (int64_t r = 0; r < n; ++r) {
            for (int64_t c = 0; c < out; ++c) {
                double want = 0;
                for (int64_t k = 0; k < in; ++k) want += static_cast<double>(x[r * in + k]) * w[c * in + k];
                squared_error[smoothed] += (y[r * out + c] - want) * (y[r * out + c] - want);
            }
        }
    }
    const double ratio = std::sqrt(squared_error[1] / squared_error[0]);
    std::printf("int8 rms error, smoothed / plain: %.3f\n", ratio);
    EXPECT_LT(ratio, 0.35);
}

// A row of zeros (any scale) and a constant row quantize exactly; rows do not share scales.
TEST(CpuLinearLowPrecision, Int8RowsAreIndependent) {
    auto backend = make_cpu_backend(1, CpuPrecision::kInt8);
    const int64_t in = 64, out = 8;
    const std::vector<float> w = test::random_floats(out * in, 5, -0.5f, 0.5f);
    auto weight =
        test::ok_value(backend->make_encoder_linear(EncoderLinear::kAttentionOut, w.data(), nullptr, out, in, {}));
    std::vector<float> x(3 * in, 0.f);
    for (int64_t k = 0; k < in; ++k) x[in + k] = 1000.f * (k % 7 - 3);  // a huge row next to small ones
    for (int64_t k = 0; k < in; ++k) x[2 * in + k] = 0.01f * (k % 5 - 2);
    DeviceTensor xd = test::ok_value(backend->upload(x.data(), 3, in, DType::kF32));
    DeviceTensor yd = test::ok_value(backend->alloc(DType::kF32, 3, out));
    backend->linear(xd.view, *weight, Activation::kNone, yd.view);
    const std::vector<float> y = test::to_host(*backend, yd.view);
    for (int64_t c = 0; c < out; ++c) EXPECT_EQ(y[c], 0.f);  // zero row, no bias
    for (int64_t c = 0; c < out; ++c) {
        double want = 0, w_max = 0;
        for (int64_t k = 0; k < in; ++k) {
            want += 0.01 * (k % 5 - 2) * w[c * in + k];
            w_max = std::max<double>(w_max, std::fabs(w[c * in + k]));
        }
        // The small row keeps its own scale: error well under its magnitude, not the huge row's step.
        EXPECT_NEAR(y[2 * out + c], want,
                    0.5 * w_max / cpu::s8_max_code() * 0.02 * in + 0.5 * 0.04 / cpu::kU8MaxCode * 0.5 * in);
    }
}

// A row holding a NaN or an infinity anywhere (first, in a vector body, in the tail) gives NaN outputs in that row
// only, plain and smoothed (the engine turns them into an error for that input); the other rows are unchanged.
TEST(CpuLinearLowPrecision, Int8NonFiniteRowIsNanAlone) {
    auto backend = make_cpu_backend(2, CpuPrecision::kInt8);
    const int64_t in = 77, out = 16, n = 4;
    const std::vector<float> w = test::random_floats(out * in, 9, -0.5f, 0.5f);
    const std::vector<float> b = test::random_floats(out, 10);
    const Norm norm = outlier_norm(in, 11);
    const std::vector<float> clean = norm_output(norm, n, 12);
    for (const bool smoothed : {false, true}) {
        auto weight = test::ok_value(
            backend->make_encoder_linear(smoothed ? EncoderLinear::kFfnIn : EncoderLinear::kFfnOut, w.data(), b.data(),
                                         out, in, smoothed ? norm.view() : InputNorm{}));
        const auto run = [&](const std::vector<float>& x) {
            DeviceTensor xd = test::ok_value(backend->upload(x.data(), n, in, DType::kF32));
            DeviceTensor yd = test::ok_value(backend->alloc(DType::kF32, n, out));
            backend->linear(xd.view, *weight, Activation::kGelu, yd.view);
            return test::to_host(*backend, yd.view);
        };
        const std::vector<float> want = run(clean);
        for (const float bad : {NAN, INFINITY, -INFINITY}) {
            for (const int64_t k : {int64_t{0}, int64_t{37}, in - 1}) {
                SCOPED_TRACE(testing::Message() << "smoothed " << smoothed << " value " << bad << " at " << k);
                std::vector<float> x = clean;
                x[2 * in + k] = bad;
                const std::vector<float> y = run(x);
                for (int64_t r = 0; r < n; ++r) {
                    for (int64_t c = 0; c < out; ++c) {
                        if (r == 2) {
                            EXPECT_TRUE(std::isnan(y[r * out + c])) << "col " << c << ": " << y[r * out + c];
                        } else {
                            EXPECT_EQ(y[r * out + c], want[r * out + c]) << "row " << r << " col " << c;
                        }
                    }
                }
            }
        }
    }
}

// Backend::feed_forward fuses the FFN's two maps (the inner activations go to the second GEMM as u8 codes or bf16
// straight from the first's epilogue) and must give exactly what the two linear() calls give, in every precision,
// with the up map smoothed by its LayerNorm hint; a non-finite input row stays NaN alone through both maps.
TEST(CpuLinearLowPrecision, FeedForwardIsTheTwoLinears) {
    const int64_t n = 37, hidden = 96, inter = 384;
    const Norm norm = outlier_norm(hidden, 21);
    const std::vector<float> w_up = test::random_floats(inter * hidden, 22, -0.2f, 0.2f);
    const std::vector<float> b_up = test::random_floats(inter, 23);
    const std::vector<float> w_down = test::random_floats(hidden * inter, 24, -0.1f, 0.1f);
    const std::vector<float> b_down = test::random_floats(hidden, 25);
    std::vector<float> x = norm_output(norm, n, 26);
    x[5 * hidden + 17] = NAN;
    for (CpuPrecision precision : {CpuPrecision::kF32, CpuPrecision::kBF16, CpuPrecision::kInt8}) {
        SCOPED_TRACE(testing::Message() << "precision " << static_cast<int>(precision));
        auto backend = make_cpu_backend(2, precision);
        auto up = test::ok_value(
            backend->make_encoder_linear(EncoderLinear::kFfnIn, w_up.data(), b_up.data(), inter, hidden, norm.view()));
        auto down = test::ok_value(
            backend->make_encoder_linear(EncoderLinear::kFfnOut, w_down.data(), b_down.data(), hidden, inter, {}));
        DeviceTensor xd = test::ok_value(backend->upload(x.data(), n, hidden, DType::kF32));
        DeviceTensor mid = test::ok_value(backend->alloc(DType::kF32, n, inter));
        DeviceTensor fused = test::ok_value(backend->alloc(DType::kF32, n, hidden));
        DeviceTensor separate = test::ok_value(backend->alloc(DType::kF32, n, hidden));
        backend->feed_forward(xd.view, *up, *down, mid.view, fused.view);
        backend->linear(xd.view, *up, Activation::kGelu, mid.view);
        backend->linear(mid.view, *down, Activation::kNone, separate.view);
        const std::vector<float> got = test::to_host(*backend, fused.view);
        const std::vector<float> want = test::to_host(*backend, separate.view);
        int failures = 0;
        for (int64_t i = 0; i < n * hidden; ++i) {
            const bool ok = i / hidden == 5 ? std::isnan(got[i]) : got[i] == want[i];
            if (!ok && ++failures <= 5) {
                ADD_FAILURE() << "row " << i / hidden << " col " << i % hidden << ": fused " << got[i]
                              << ", two linears " << want[i] << " (" << backend->gemm_kernels() << ")";
            }
        }
        EXPECT_EQ(failures, 0);
    }
}

}  // namespace
}  // namespace bge
