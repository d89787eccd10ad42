// Vectorized softmax pieces for attention rows.
#pragma once

#include <cstdint>

namespace bge::cpu {

// max(s [n]); -inf when n == 0.
float row_max(const float* s, int64_t n);

// Replaces s [n] by exp(s - shift) and returns their sum. Requires shift >= max(s) (arguments <= 0);
// each exp is within 2e-7 relative of the exact value.
float exp_shifted(float* s, int64_t n, float shift);

// x [n] *= factor.
void scale_row(float* x, int64_t n, float factor);

}  // namespace bge::cpu
