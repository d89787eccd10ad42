#include "backend/cpu/cpu_activation.h"

#include <cmath>

#include "backend/cpu/cpu_vector.h"

namespace bge::cpu {
namespace {

// gelu(x) = x * Φ(x) = x * (1 - erfc(x / √2) / 2) for x >= 0 and x * erfc(-x / √2) / 2 below, so that the
// negative side, where Φ is small, keeps its relative precision.
BGE_VECTOR_CLONES void gelu_row(float* x, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        const float z = std::fabs(v) * 0.70710678118654752f;
        const float t = 1.f / (1.f + 0.3275911f * z);
        float p = 1.061405429f;
        p = p * t - 1.453152027f;
        p = p * t + 1.421413741f;
        p = p * t - 0.284496736f;
        p = p * t + 0.254829592f;
        const float half_erfc = 0.5f * p * t * exp_nonpositive(-z * z);
        // Selects of computed values only: GCC does not if-convert (vectorize) arithmetic under a condition, as
        // it may trap. Below -1e4 the product is 0 (clamped so that -inf gives -0, not -inf * 0); NaN fails both
        // tests and stays NaN.
        const float phi = v >= 0.f ? 1.f - half_erfc : half_erfc;
        x[i] = (v < -1e4f ? -1e4f : v) * phi;
    }
}

// tanh(|x|) = (1 - e) / (1 + e) with e = exp(-2|x|) <= 1; below |x| = 1/16 its Taylor series (the quotient loses
// relative precision there).
BGE_VECTOR_CLONES void tanh_row(float* x, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        const float a = std::fabs(v);
        const float e = exp_nonpositive(-2.f * a);
        const float big = (1.f - e) / (1.f + e);
        const float a2 = a * a;
        const float small = a + a * a2 * (-1.f / 3.f + a2 * (2.f / 15.f - a2 * (17.f / 315.f)));
        const float r = a < 0.0625f ? small : big;
        x[i] = v != v ? v : std::copysign(r, v);
    }
}

}  // namespace

void apply_activation(float* x, int64_t n, Activation act) {
    if (act == Activation::kGelu) gelu_row(x, n);
    if (act == Activation::kTanh) tanh_row(x, n);
}

}  // namespace bge::cpu
