#include "backend/cpu/cpu_softmax.h"

#include <cmath>

#include "backend/cpu/cpu_exp.h"

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
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < n; ++i) {
        const float e = exp_nonpositive(s[i] - shift);
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
