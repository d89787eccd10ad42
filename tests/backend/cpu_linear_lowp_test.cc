// CPU linear layers in bf16 and int8 (CpuPrecision) against a double-precision reference, with bounds derived from
// the quantization itself, so that a wrong scale, zero point or compensation fails:
//   bf16: x and W each rounded to 8 significant bits (relative error <= 2^-9 each), f32 sums:
//         |y - ref| <= 4.2e-3 * Σ|x_k w_k| + 1e-5 * (Σ|x_k w_k| + 1e-3).
//   int8: W ~ s_w q_w per output channel, x ~ s_x (q_x - zp) per row, each code within half a step:
//         |y - ref| <= 0.5 s_w Σ|x_k| + 0.5 s_x Σ|w_k| + 0.25 s_x s_w K (+ f32 rounding),
//         with s_w = max|w_c| / 127 and s_x = (max(x, 0) - min(x, 0)) / max_code (255 with VNNI, else 127).
// Activations (GELU, tanh) are at most 1.13-Lipschitz; the bound is scaled by 1.2.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_linear.h"
#include "backend_test_util.h"

namespace bge {
namespace {

double apply(Activation act, double v) {
    if (act == Activation::kGelu) return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    if (act == Activation::kTanh) return std::tanh(v);
    return v;
}

void check(CpuPrecision precision, EncoderLinear which, int64_t n, int64_t in, int64_t out, Activation act,
           uint32_t seed) {
    SCOPED_TRACE(testing::Message() << "precision " << static_cast<int>(precision) << " map " << static_cast<int>(which)
                                    << " n=" << n << " in=" << in << " out=" << out);
    auto backend = make_cpu_backend(2, precision);
    const std::vector<float> w = test::random_floats(out * in, seed, -0.5f, 0.5f);
    const std::vector<float> b = test::random_floats(out, seed + 1);
    std::vector<float> x = test::random_floats(n * in, seed + 2, -1.f, 3.f);  // asymmetric, as after a GELU
    auto weight = test::ok_value(backend->make_encoder_linear(which, w.data(), b.data(), out, in));
    const std::string kernels = backend->gemm_kernels();
    const bool int8 = kernels.find("int8") != std::string::npos;
    const bool bf16 = kernels.find("bf16") != std::string::npos;
    DeviceTensor xd = test::ok_value(backend->upload(x.data(), n, in, DType::kF32));
    DeviceTensor yd = test::ok_value(backend->alloc(DType::kF32, n, out));
    backend->linear(xd.view, *weight, act, yd.view);
    const std::vector<float> y = test::to_host(*backend, yd.view);
    const double max_code = cpu::u8_max_code();
    int failures = 0;
    for (int64_t r = 0; r < n; ++r) {
        const float* xr = &x[r * in];
        double x_lo = 0, x_hi = 0, x_abs = 0;
        for (int64_t k = 0; k < in; ++k) {
            x_lo = std::min<double>(x_lo, xr[k]);
            x_hi = std::max<double>(x_hi, xr[k]);
            x_abs += std::fabs(xr[k]);
        }
        const double s_x = (x_hi - x_lo) / max_code;
        for (int64_t c = 0; c < out; ++c) {
            const float* wc = &w[c * in];
            double sum = b[c], magnitude = std::fabs(b[c]), w_abs = 0, w_max = 0;
            for (int64_t k = 0; k < in; ++k) {
                sum += static_cast<double>(xr[k]) * wc[k];
                magnitude += std::fabs(static_cast<double>(xr[k]) * wc[k]);
                w_abs += std::fabs(wc[k]);
                w_max = std::max<double>(w_max, std::fabs(wc[k]));
            }
            const double s_w = w_max / 127;
            double bound = 1e-5 * (magnitude + 1e-3);
            if (int8) {
                bound += 0.5 * s_w * x_abs + 0.5 * s_x * w_abs + 0.25 * s_x * s_w * in + 1e-6 * magnitude;
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
            check(CpuPrecision::kBF16, EncoderLinear::kFfnIn, n, in, out, act, seed++);
        }
    }
}

// The int8 maps (attention output, FFN down) of CpuPrecision::kInt8, and what it keeps in bf16 (Q/K/V, FFN up).
TEST(CpuLinearLowPrecision, Int8MatchesReference) {
    uint32_t seed = 100;
    for (auto [n, in, out] : {std::tuple{1, 64, 32}, {7, 33, 17}, {130, 257, 129}, {67, 1024, 96}, {3, 4096, 64}}) {
        for (Activation act : {Activation::kNone, Activation::kGelu, Activation::kTanh}) {
            check(CpuPrecision::kInt8, EncoderLinear::kFfnOut, n, in, out, act, seed++);
        }
    }
    check(CpuPrecision::kInt8, EncoderLinear::kQkv, 9, 96, 3 * 96, Activation::kNone, seed++);
}

// A row of zeros (any scale) and a constant row quantize exactly; rows do not share scales.
TEST(CpuLinearLowPrecision, Int8RowsAreIndependent) {
    auto backend = make_cpu_backend(1, CpuPrecision::kInt8);
    const int64_t in = 64, out = 8;
    const std::vector<float> w = test::random_floats(out * in, 5, -0.5f, 0.5f);
    auto weight =
        test::ok_value(backend->make_encoder_linear(EncoderLinear::kAttentionOut, w.data(), nullptr, out, in));
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
        EXPECT_NEAR(y[2 * out + c], want, 0.5 * w_max / 127 * 0.02 * in + 0.5 * 0.04 / 127 * 0.5 * in);
    }
}

}  // namespace
}  // namespace bge
