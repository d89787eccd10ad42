#include "backend/cpu/cpu_quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/cpu_vector.h"
#include "core/check.h"

namespace bge::cpu {

BGE_VECTOR_CLONES void to_bf16(const float* x, int64_t n, uint16_t* out) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) out[i] = round_to_bf16(x[i]);
}

namespace {

// x[i], or x[i] * mul[i] + add[i] where kAffine; inlined into each clone of quantize_row_u8.
template <bool kAffine>
[[gnu::always_inline]] inline float input(const float* x, const float* mul, const float* add, int64_t i) {
    if constexpr (kAffine) {
        return x[i] * mul[i] + add[i];
    } else {
        return x[i];
    }
}

template <bool kAffine>
[[gnu::always_inline]] inline RowQuant quantize_u8(const float* x, int64_t n, int32_t max_code, uint8_t* q,
                                                   const float* mul, const float* add) {
    // probe stays 0 for finite values and turns NaN at a NaN or infinity (v · 0); unlike a per-element
    // std::isfinite test, the three reductions vectorize.
    float lo = 0.f, hi = 0.f, probe = 0.f;
#pragma omp simd reduction(min : lo) reduction(max : hi) reduction(+ : probe)
    for (int64_t i = 0; i < n; ++i) {
        const float v = input<kAffine>(x, mul, add, i);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        probe += v * 0.f;
    }
    if (probe != 0.f) {
        std::memset(q, 0, static_cast<size_t>(n));
        return {NAN, 0};
    }
    if (hi == lo) {  // all zeros: any scale represents them
        std::memset(q, 0, static_cast<size_t>(n));
        return {1.f, 0};
    }
    const float scale = (hi - lo) / static_cast<float>(max_code);
    const float inv = 1.f / scale;
    const int32_t zero_point = static_cast<int32_t>(std::nearbyint(-lo * inv));  // in [0, max_code]
    const float top = static_cast<float>(max_code);
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
        const float v = std::nearbyint(input<kAffine>(x, mul, add, i) * inv) + static_cast<float>(zero_point);
        // Through int32: converted straight to uint8 the loop vectorized into mask-register shuffles.
        q[i] = static_cast<uint8_t>(static_cast<int32_t>(std::min(std::max(v, 0.f), top)));
    }
    return {scale, zero_point};
}

}  // namespace

BGE_VECTOR_CLONES RowQuant quantize_row_u8(const float* x, int64_t n, int32_t max_code, uint8_t* q, const float* mul,
                                           const float* add) {
    return mul != nullptr ? quantize_u8<true>(x, n, max_code, q, mul, add)
                          : quantize_u8<false>(x, n, max_code, q, nullptr, nullptr);
}

BGE_VECTOR_CLONES void add_exact_channels(float* y, int64_t cols, const float* x, std::span<const int32_t> channels,
                                          const float* weights) {
    for (size_t j = 0; j < channels.size(); ++j) {
        const float xj = x[channels[j]];
        const float* wj = weights + j * cols;
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) y[c] += xj * wj[c];
    }
}

// Comparisons rather than std::fmax/fmin, which are library calls here (a NaN still reads as max_code).
BGE_VECTOR_CLONES float quantize_row_s8(const float* w, int64_t n, int32_t max_code, int8_t* q, int32_t* sum) {
    float absmax = 0.f;
    for (int64_t i = 0; i < n; ++i) {
        const float a = std::fabs(w[i]);
        absmax = a > absmax ? a : absmax;
    }
    const float top = static_cast<float>(max_code);
    const float scale = absmax / top;
    int32_t s = 0;
    for (int64_t i = 0; i < n; ++i) {
        float v = scale > 0.f ? std::nearbyint(w[i] / scale) : 0.f;
        v = !(v <= top) ? top : (v < -top ? -top : v);
        q[i] = static_cast<int8_t>(v);
        s += q[i];
    }
    *sum = s;
    return scale;
}

BGE_VECTOR_CLONES void dequantize_row(const void* sums, void* out, int64_t cols, RowQuant x, const float* w_scale,
                                      const int32_t* w_sum, const float* bias) {
    const auto* in = static_cast<const unsigned char*>(sums);
    auto* bytes = static_cast<unsigned char*>(out);
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) {
        int32_t acc;
        std::memcpy(&acc, in + 4 * c, 4);                        // in place: the same bytes hold s32 in, F32 out
        const int32_t centered = acc - x.zero_point * w_sum[c];  // exact: |Σ (q_x - zp) q_w| < 2^31 for k < 66000
        float y = x.scale * w_scale[c] * static_cast<float>(centered);
        if (bias != nullptr) y += bias[c];
        std::memcpy(bytes + 4 * c, &y, 4);
    }
}

Smoothing smooth_linear(const float* w, const float* b, int64_t out, int64_t in, std::span<const float> gamma,
                        std::span<const float> beta, float alpha) {
    BGE_CHECK(static_cast<int64_t>(gamma.size()) == in && static_cast<int64_t>(beta.size()) == in);
    std::vector<double> range(static_cast<size_t>(in));  // of n * gamma
    for (int64_t k = 0; k < in; ++k) range[k] = std::fabs(static_cast<double>(gamma[k]));
    std::vector<double> sorted = range;
    std::nth_element(sorted.begin(), sorted.begin() + in / 2, sorted.end());
    const double threshold = kExactRatio * sorted[in / 2];
    std::vector<int32_t> order;
    for (int64_t k = 0; k < in; ++k) {
        if (range[k] > threshold) order.push_back(static_cast<int32_t>(k));
    }
    const size_t max_exact = static_cast<size_t>(std::max<int64_t>(1, in / 64));
    if (order.size() > max_exact) {  // the largest ones
        std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t c) { return range[a] > range[c]; });
        order.resize(max_exact);
    }
    std::sort(order.begin(), order.end());
    std::vector<bool> is_exact(static_cast<size_t>(in), false);
    for (int32_t k : order) is_exact[k] = true;

    std::vector<double> w_max(static_cast<size_t>(in), 0.0);
    for (int64_t o = 0; o < out; ++o) {
        for (int64_t k = 0; k < in; ++k) w_max[k] = std::max(w_max[k], std::fabs(static_cast<double>(w[o * in + k])));
    }
    Smoothing sm;
    sm.exact = order;
    sm.mul.assign(in, 0.f);
    sm.add.assign(in, 0.f);
    std::vector<float> s(static_cast<size_t>(in), 0.f);  // 0: an exact channel
    for (int64_t k = 0; k < in; ++k) {
        if (is_exact[k]) continue;
        const double g = range[k];
        s[k] = g > 0 && w_max[k] > 0 ? static_cast<float>(std::pow(g, alpha) / std::pow(w_max[k], 1.0 - alpha)) : 1.f;
        if (!std::isfinite(s[k]) || s[k] == 0.f) s[k] = 1.f;  // beyond float range: leave the channel as it is
        sm.mul[k] = 1.f / s[k];
        sm.add[k] = -beta[k] * sm.mul[k];
    }
    sm.weights.resize(static_cast<size_t>(out * in));
    sm.bias.resize(out);
    for (int64_t o = 0; o < out; ++o) {
        double shift = b != nullptr ? b[o] : 0.0;
        for (int64_t k = 0; k < in; ++k) {
            sm.weights[o * in + k] = w[o * in + k] * s[k];
            if (!is_exact[k]) shift += static_cast<double>(w[o * in + k]) * beta[k];
        }
        sm.bias[o] = static_cast<float>(shift);
    }
    sm.exact_weights.resize(order.size() * static_cast<size_t>(out));
    for (size_t j = 0; j < order.size(); ++j) {
        for (int64_t o = 0; o < out; ++o) sm.exact_weights[j * out + o] = w[o * in + order[j]];
    }
    return sm;
}

}  // namespace bge::cpu
