// Element conversions around the low-precision GEMMs: fp32 -> bf16 rows, per-token dynamic u8 quantization of
// activations, per-output-channel s8 quantization of weights, and the int8 GEMM's dequantizing epilogue.
#pragma once

#include <cstdint>

namespace bge::cpu {

// out [n] = x [n] rounded to bfloat16 (nearest even; NaN stays NaN).
void to_bf16(const float* x, int64_t n, uint16_t* out);

// Asymmetric u8 quantization of one activation row: x ~ scale * (q - zero_point), q in [0, max_code].
// The range always holds 0 (so zero_point is a code). A row with a non-finite value gets a NaN scale, which
// makes its outputs NaN (and so an error for its input, never a value).
struct RowQuant {
    float scale;
    int32_t zero_point;
};
RowQuant quantize_row_u8(const float* x, int64_t n, int32_t max_code, uint8_t* q);

// Symmetric s8 quantization of a weight row w [n] (one output channel): w ~ scale * q, q in [-127, 127].
// Returns the scale (0 for an all-zero row) and writes Σ q to *sum (for the activations' zero points).
float quantize_row_s8(const float* w, int64_t n, int8_t* q, int32_t* sum);

// The int8 GEMM's epilogue for one row of `cols` outputs, in place: the row holds the s32 sums
// acc[c] = Σ_k q_x[k] q_w[c, k] and becomes F32 y[c] = x.scale * w_scale[c] * (acc[c] - x.zero_point * w_sum[c])
// + bias[c] (bias may be null). `row` is the same memory viewed as either type.
void dequantize_row(void* row, int64_t cols, RowQuant x, const float* w_scale, const int32_t* w_sum, const float* bias);

}  // namespace bge::cpu
