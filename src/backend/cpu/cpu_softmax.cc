#include "backend/cpu/cpu_softmax.h"

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

BGE_VECTOR_CLONES void scale_row(float* x, int64_t n, float factor) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) x[i] *= factor;
}

}  // namespace bge::cpu
