#include "backend/cpu/cpu_softmax.h"

#include <bit>
#include <cmath>

namespace bge::cpu {

// Cloned for AVX-512 and AVX2 machines and dispatched at load time: exp is a sizeable part
// of long-sequence attention (one per score), and the baseline build only has SSE2.
#define BGE_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

BGE_VECTOR_CLONES float row_max(const float* s, int64_t n) {
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t i = 0; i < n; ++i) m = s[i] > m ? s[i] : m;
    return m;
}

BGE_VECTOR_CLONES float exp_shifted(float* s, int64_t n, float shift) {
    float sum = 0.f;
    // exp(x) = 2^k * e^r with k = round(x / ln2), r = x - k ln2 (Cody-Waite split of ln2),
    // e^r by its degree-7 Taylor polynomial (|r| <= ln2 / 2, truncation < 3e-9).
    // Arguments below -87 are clamped there: e^-87 ~ 1.6e-38 is negligible next to the row's
    // largest term, which is >= e^0 for the final shift.
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < n; ++i) {
        float x = s[i] - shift;
        x = x < -87.f ? -87.f : x;
        const float k = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;  // round to nearest
        const float r = (x - k * 0.693359375f) - k * -2.12194440e-4f;
        float p = 1.f / 5040.f;
        p = p * r + 1.f / 720.f;
        p = p * r + 1.f / 120.f;
        p = p * r + 1.f / 24.f;
        p = p * r + 1.f / 6.f;
        p = p * r + 0.5f;
        p = p * r + 1.f;
        p = p * r + 1.f;
        const float e = p * std::bit_cast<float>((static_cast<int32_t>(k) + 127) << 23);
        s[i] = e;
        sum += e;
    }
    return sum;
}

BGE_VECTOR_CLONES void scale_row(float* x, int64_t n, float factor) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) x[i] *= factor;
}

}  // namespace bge::cpu
