// Activations applied in the CPU's own epilogues (the int8 GEMM's, where oneDNN cannot fuse them), so that a row
// is dequantized, activated and requantized while it is in cache.
#pragma once

#include <cstdint>

#include "backend/backend.h"

namespace bge::cpu {

// x [n] = act(x) in place. GELU is the exact (erf) form through Abramowitz & Stegun 7.1.26's erfc (within 1.5e-7,
// the formula of oneDNN's gelu_erf): within 1.5e-7 |x| absolute; tanh within 2e-7. NaN stays NaN; ±inf give the
// limits (GELU: inf and 0).
void apply_activation(float* x, int64_t n, Activation act);

}  // namespace bge::cpu
