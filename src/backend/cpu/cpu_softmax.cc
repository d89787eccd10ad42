#include "backend/cpu/cpu_softmax.h"

#include <bit>
#include <cmath>

#include "backend/cpu/cpu_vector.h"

namespace bge::cpu {

BGE_VECTOR_CLONES float row_max(const float* s, int64_t n) {
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t i = 0; i < n; ++i) m = s[i] > m ? s[i] : m;
    return m;
}

BGE_VECTOR_CLONES float exp_shifted(float* s, int64_t n, float shift) {
    float sum = 0.f;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < n; ++i) {
        const float e = exp_nonpositive(s[i] - shift);
        s[i] = e;
        sum += e;
    }
    return sum;
}

BGE_VECTOR_CLONES float exp_shifted_to_bf16(const float* s, int64_t n, float shift, uint16_t* p) {
    float sum = 0.f;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < n; ++i) {
        // exp_nonpositive_coarse is finite and positive (NaN in gives e^-87): no NaN case to round.
        const uint32_t hi = round_finite_to_bf16_bits(std::bit_cast<uint32_t>(exp_nonpositive_coarse(s[i] - shift)));
        p[i] = static_cast<uint16_t>(hi >> 16);
        sum += std::bit_cast<float>(hi);
    }
    return sum;
}

BGE_VECTOR_CLONES void scale_row(float* x, int64_t n, float factor) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) x[i] *= factor;
}

}  // namespace bge::cpu
