// Helpers of the CPU backend's own vector loops (softmax, activations, quantization).
#pragma once

#include <bit>
#include <cstdint>

// A loop function cloned for AVX-512 and AVX2 machines and dispatched at load time (the baseline build has only
// SSE2); cpu_isa_in_use() reports which clone runs.
#define BGE_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

namespace bge::cpu {

// exp(x) for x <= 0, inline so that `#pragma omp simd` loops vectorize (libm's expf is a call that stops them);
// within 2e-7 relative; arguments below -87 give e^-87 (~1.6e-38, not 0), and so does NaN
// (no float-to-int conversion of a NaN).
// exp(x) = 2^k * e^r with k = round(x / ln2), r = x - k ln2 (Cody-Waite split of ln2), e^r by its degree-7
// Taylor polynomial (|r| <= ln2 / 2, truncation < 3e-9).
[[gnu::always_inline]] inline float exp_nonpositive(float x) {
    x = x >= -87.f ? x : -87.f;
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
    return p * std::bit_cast<float>((static_cast<int32_t>(k) + 127) << 23);
}

}  // namespace bge::cpu
