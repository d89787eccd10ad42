// Vectorized softmax pieces for attention rows.
#pragma once

#include <cstdint>

namespace bge::cpu {

// max(s [n]); -inf when n == 0.
float row_max(const float* s, int64_t n);

// Replaces s [n] by exp(s - shift) and returns their sum. Requires shift >= max(s) (arguments <= 0);
// each exp is within 2e-7 relative of the exact value.
float exp_shifted(float* s, int64_t n, float shift);

// exp(s - shift) rounded to bf16 into p [n] (s is left as it was; shift >= max(s)); returns the sum of the rounded
// values, so that p divided by it sums to 1 as the GEMM that reads p sees it. Each value is the bf16 nearest to
// within 1e-5 relative of the exact exp, so at most one bf16 step from the correctly rounded one.
float exp_shifted_to_bf16(const float* s, int64_t n, float shift, uint16_t* p);

// x [n] *= factor.
void scale_row(float* x, int64_t n, float factor);

}  // namespace bge::cpu
