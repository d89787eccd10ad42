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

// A layer's sub-layers as the encoder runs them on the CPU: linear_add_norm (attention output + residual + LayerNorm,
// hinting FFN up) and feed_forward (the two FFN maps + residual + LayerNorm, hinting the next Q/K/V map), then that
// map reading the hinted input. The fused steps (the residual and LayerNorm in the GEMM's epilogue, the inner
// activations handed to the second GEMM as u8 codes or bf16, the next map's input converted ahead) must give
// exactly what the separate linear() and add_layer_norm() calls give, in every precision, also where the FFN runs
// over row slices (as the encoder's chunks) and after the hinted tensor is overwritten (the stale conversion is
// dropped); a non-finite input row stays NaN alone throughout.
TEST(CpuLinearLowPrecision, SubLayersAreTheSeparateOps) {
    const int64_t n = 37, hidden = 96, inter = 384;
    const float eps = 1e-5f;
    const Norm norm_in = outlier_norm(hidden, 21), norm_attn = outlier_norm(hidden, 31), norm_ffn = outlier_norm(hidden, 41);
    const std::vector<float> w_out = test::random_floats(hidden * hidden, 27, -0.2f, 0.2f);
    const std::vector<float> b_out = test::random_floats(hidden, 28);
    const std::vector<float> w_up = test::random_floats(inter * hidden, 22, -0.2f, 0.2f);
    const std::vector<float> b_up = test::random_floats(inter, 23);
    const std::vector<float> w_down = test::random_floats(hidden * inter, 24, -0.1f, 0.1f);
    const std::vector<float> b_down = test::random_floats(hidden, 25);
    const std::vector<float> w_next = test::random_floats(3 * hidden * hidden, 29, -0.2f, 0.2f);
    const std::vector<float> b_next = test::random_floats(3 * hidden, 30);
    std::vector<float> context = test::random_floats(n * hidden, 26, -1.f, 1.f);
    context[5 * hidden + 17] = NAN;
    const std::vector<float> residual = norm_output(norm_in, n, 32);
    const std::vector<float> overwrite = norm_output(norm_ffn, n, 33);
    for (CpuPrecision precision : {CpuPrecision::kF32, CpuPrecision::kBF16, CpuPrecision::kInt8}) {
        SCOPED_TRACE(testing::Message() << "precision " << static_cast<int>(precision));
        auto backend = make_cpu_backend(2, precision);
        auto out = test::ok_value(
            backend->make_encoder_linear(EncoderLinear::kAttentionOut, w_out.data(), b_out.data(), hidden, hidden, {}));
        auto up = test::ok_value(backend->make_encoder_linear(EncoderLinear::kFfnIn, w_up.data(), b_up.data(), inter,
                                                              hidden, norm_attn.view()));
        auto down = test::ok_value(
            backend->make_encoder_linear(EncoderLinear::kFfnOut, w_down.data(), b_down.data(), hidden, inter, {}));
        auto next = test::ok_value(backend->make_encoder_linear(EncoderLinear::kQkv, w_next.data(), b_next.data(),
                                                                3 * hidden, hidden, norm_ffn.view()));
        const auto upload = [&](const std::vector<float>& v, int64_t rows) {
            return test::ok_value(backend->upload(v.data(), rows, static_cast<int64_t>(v.size()) / rows, DType::kF32));
        };
        const auto alloc = [&](int64_t rows, int64_t cols) {
            return test::ok_value(backend->alloc(DType::kF32, rows, cols));
        };
        DeviceTensor ctx = upload(context, n), res = upload(residual, n);
        DeviceTensor g_attn = upload(norm_attn.gamma, 1), b_attn = upload(norm_attn.beta, 1);
        DeviceTensor g_ffn = upload(norm_ffn.gamma, 1), b_ffn = upload(norm_ffn.beta, 1);
        DeviceTensor mid = alloc(n, inter);

        // Separate ops.
        DeviceTensor s1 = alloc(n, hidden), s2 = alloc(n, hidden), s3 = alloc(n, 3 * hidden);
        backend->linear(ctx.view, *out, Activation::kNone, s1.view);
        backend->add_layer_norm(s1.view, res.view, g_attn.view, b_attn.view, eps);
        backend->linear(s1.view, *up, Activation::kGelu, mid.view);
        backend->linear(mid.view, *down, Activation::kNone, s2.view);
        backend->add_layer_norm(s2.view, s1.view, g_ffn.view, b_ffn.view, eps);
        backend->linear(s2.view, *next, Activation::kNone, s3.view);

        // The FFN over two row slices (f32 GEMMs may round differently at another row count), separate and fused.
        const std::pair<int64_t, int64_t> slices[] = {{0, 20}, {20, n - 20}};
        DeviceTensor s2_sliced = alloc(n, hidden);
        for (auto [r, rows] : slices) {
            const Tensor sliced = s2_sliced.view.row_slice(r, rows);
            backend->linear(s1.view.row_slice(r, rows), *up, Activation::kGelu, mid.view.row_slice(0, rows));
            backend->linear(mid.view.row_slice(0, rows), *down, Activation::kNone, sliced);
            backend->add_layer_norm(sliced, s1.view.row_slice(r, rows), g_ffn.view, b_ffn.view, eps);
        }
        DeviceTensor f1 = alloc(n, hidden), f2 = alloc(n, hidden), f3 = alloc(n, 3 * hidden);
        backend->linear_add_norm(ctx.view, *out, {res.view, g_attn.view, b_attn.view, eps, up.get()}, f1.view);
        for (auto [r, rows] : slices) {
            backend->feed_forward(f1.view.row_slice(r, rows), *up, *down, mid.view.row_slice(0, rows),
                                  {f1.view.row_slice(r, rows), g_ffn.view, b_ffn.view, eps, nullptr},
                                  f2.view.row_slice(r, rows));
        }
        // The whole FFN into f2w, hinting the next map, which reads it.
        DeviceTensor f2w = alloc(n, hidden);
        backend->feed_forward(f1.view, *up, *down, mid.view, {f1.view, g_ffn.view, b_ffn.view, eps, next.get()},
                              f2w.view);
        backend->linear(f2w.view, *next, Activation::kNone, f3.view);

        // A hinted tensor overwritten before its map reads it: the map reads the new values.
        DeviceTensor h1 = alloc(n, hidden), h2 = alloc(n, 3 * hidden), o2 = alloc(n, 3 * hidden);
        DeviceTensor o1 = upload(overwrite, n);
        backend->feed_forward(f1.view, *up, *down, mid.view, {f1.view, g_ffn.view, b_ffn.view, eps, next.get()},
                              h1.view);
        backend->copy_to_device(overwrite.data(), h1.view);
        backend->linear(h1.view, *next, Activation::kNone, h2.view);
        backend->linear(o1.view, *next, Activation::kNone, o2.view);
        // The hint is taken: with h1 changed behind the backend's back (what the contract forbids), a bf16 or int8
        // map still reads the rows converted before (int8 adds its exact channels from h1 itself), not the new ones.
        DeviceTensor t2 = alloc(n, 3 * hidden);
        backend->feed_forward(f1.view, *up, *down, mid.view, {f1.view, g_ffn.view, b_ffn.view, eps, next.get()},
                              h1.view);
        std::copy(overwrite.begin(), overwrite.end(), static_cast<float*>(h1.view.data));
        backend->linear(h1.view, *next, Activation::kNone, t2.view);

        const auto expect_same = [&](const char* what, const DeviceTensor& got_d, const DeviceTensor& want_d,
                                     int64_t nan_row) {
            const std::vector<float> got = test::to_host(*backend, got_d.view);
            const std::vector<float> want = test::to_host(*backend, want_d.view);
            const int64_t cols = got_d.view.cols;
            int failures = 0;
            for (int64_t i = 0; i < n * cols; ++i) {
                const bool ok = i / cols == nan_row ? std::isnan(got[i]) : got[i] == want[i];
                if (!ok && ++failures <= 5) {
                    ADD_FAILURE() << what << ": row " << i / cols << " col " << i % cols << ": fused " << got[i]
                                  << ", separate " << want[i] << " (" << backend->gemm_kernels() << ")";
                }
            }
            EXPECT_EQ(failures, 0) << what;
        };
        expect_same("attention output + LayerNorm", f1, s1, 5);
        expect_same("FFN + LayerNorm over row slices", f2, s2_sliced, 5);
        expect_same("FFN + LayerNorm", f2w, s2, 5);
        expect_same("next map on the hinted input", f3, s3, 5);
        expect_same("next map after an overwrite", h2, o2, -1);
        const std::string kernels = backend->gemm_kernels();
        if (kernels.find("bf16") != std::string::npos || kernels.find("int8") != std::string::npos) {
            const std::vector<float> stale = test::to_host(*backend, t2.view);
            const std::vector<float> fresh = test::to_host(*backend, o2.view);
            EXPECT_NE(stale, fresh) << "the hinted input was converted again";
        }
    }
}

}  // namespace
}  // namespace bge
