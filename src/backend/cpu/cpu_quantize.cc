#include "backend/cpu/cpu_quantize.h"

#include <bit>
#include <cmath>
#include <cstring>

namespace bge::cpu {

// Cloned for AVX-512 and AVX2 machines and dispatched at load time (the baseline build has only SSE2); these
// passes run once per GEMM over its input or output.
#define BGE_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

BGE_VECTOR_CLONES void to_bf16(const float* x, int64_t n, uint16_t* out) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
        const uint32_t u = std::bit_cast<uint32_t>(x[i]);
        // Round to nearest even on the dropped 16 bits; a NaN keeps its top bits with the quiet bit set.
        const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
        const bool nan = (u & 0x7fffffffu) > 0x7f800000u;
        out[i] = static_cast<uint16_t>(nan ? ((u >> 16) | 0x40u) : rounded);
    }
}

BGE_VECTOR_CLONES RowQuant quantize_row_u8(const float* x, int64_t n, int32_t max_code, uint8_t* q) {
    float lo = 0.f, hi = 0.f;
    bool finite = true;
#pragma omp simd reduction(min : lo) reduction(max : hi) reduction(&& : finite)
    for (int64_t i = 0; i < n; ++i) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
        finite = finite && std::isfinite(x[i]);
    }
    if (!finite) {
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
        float v = std::nearbyint(x[i] * inv) + static_cast<float>(zero_point);
        v = v < 0.f ? 0.f : (v > top ? top : v);
        q[i] = static_cast<uint8_t>(v);
    }
    return {scale, zero_point};
}

float quantize_row_s8(const float* w, int64_t n, int8_t* q, int32_t* sum) {
    float absmax = 0.f;
    for (int64_t i = 0; i < n; ++i) absmax = std::fmax(absmax, std::fabs(w[i]));
    const float scale = absmax / 127.f;
    int32_t s = 0;
    for (int64_t i = 0; i < n; ++i) {
        const float v = scale > 0.f ? std::nearbyint(w[i] / scale) : 0.f;
        q[i] = static_cast<int8_t>(std::fmax(-127.f, std::fmin(127.f, v)));
        s += q[i];
    }
    *sum = s;
    return scale;
}

BGE_VECTOR_CLONES void dequantize_row(void* row, int64_t cols, RowQuant x, const float* w_scale, const int32_t* w_sum,
                                      const float* bias) {
    auto* bytes = static_cast<unsigned char*>(row);
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) {
        int32_t acc;
        std::memcpy(&acc, bytes + 4 * c, 4);                     // the same bytes hold s32 in, F32 out
        const int32_t centered = acc - x.zero_point * w_sum[c];  // exact: |Σ (q_x - zp) q_w| < 2^31 for k < 66000
        float y = x.scale * w_scale[c] * static_cast<float>(centered);
        if (bias != nullptr) y += bias[c];
        std::memcpy(bytes + 4 * c, &y, 4);
    }
}

}  // namespace bge::cpu
