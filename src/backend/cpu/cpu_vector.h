// Helpers of the CPU backend's own vector loops (softmax, activations, quantization, bf16 rounding).
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

// exp(x) for x <= 0 within 1e-5 relative, for results rounded to bf16 next (whose rounding is up to 2e-3): about half
// the arithmetic of exp_nonpositive. Arguments below -87 give about e^-87, and so does NaN.
// exp(x) = 2^t with t = x log2(e) = k + f, k = round(t), 2^f (|f| <= 1/2) by a degree-4 polynomial (Chebyshev
// interpolation, 3.6e-6; t's own rounding adds up to 5e-6 at t = -125).
[[gnu::always_inline]] inline float exp_nonpositive_coarse(float x) {
    x = x >= -87.f ? x : -87.f;
    const float t = x * 1.44269504088896341f;
    const float k = (t + 12582912.f) - 12582912.f;  // round to nearest
    const float f = t - k;
    float p = 0.00966636836528778f;
    p = p * f + 0.055921975523233414f;
    p = p * f + 0.2402234971523285f;
    p = p * f + 0.6931210160255432f;
    p = p * f + 1.f;
    return p * std::bit_cast<float>((static_cast<int32_t>(k) + 127) << 23);
}

// A finite float's bits rounded to bf16 (nearest even on the dropped 16 bits), still as float bits: the low 16 are 0.
[[gnu::always_inline]] inline uint32_t round_finite_to_bf16_bits(uint32_t u) {
    return (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
}

// x rounded to bf16 (nearest even), as its bit pattern; a NaN keeps its top bits with the quiet bit set.
[[gnu::always_inline]] inline uint16_t round_to_bf16(float x) {
    const uint32_t u = std::bit_cast<uint32_t>(x);
    const bool nan = (u & 0x7fffffffu) > 0x7f800000u;
    return static_cast<uint16_t>(nan ? ((u >> 16) | 0x40u) : round_finite_to_bf16_bits(u) >> 16);
}

}  // namespace bge::cpu
