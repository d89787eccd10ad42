// Element conversions around the low-precision GEMMs: fp32 -> bf16 rows, per-token dynamic u8 quantization of
// activations, per-output-channel s8 quantization of weights, and the int8 GEMM's dequantizing epilogue.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

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
// With `mul` and `add` ([n] each, or both null) the row quantized is x[k] * mul[k] + add[k] (a Smoothing's input
// side), in the same two passes over x.
RowQuant quantize_row_u8(const float* x, int64_t n, int32_t max_code, uint8_t* q, const float* mul = nullptr,
                         const float* add = nullptr);

// Calibration-free quantization of a map y = x · Wᵀ + b (W [out, in]) whose input is a LayerNorm output
// x = n * gamma + beta, n of about unit scale per channel. beta is the same for every token: it is subtracted
// before quantizing and its share added to the bias, b' = b + Σ_k W[:, k] beta[k]; what is quantized, n * gamma,
// has a per-channel range of about |gamma[k]|, known from the weights:
// - outlier channels, |gamma[k]| > kExactRatio * median |gamma| (the largest max(1, in / 64) of them), leave the
//   int8 GEMM: their terms x[k] · W[:, k] are added in F32 by the epilogue (LLM.int8()'s decomposition, with the
//   channels chosen from the weights instead of from each batch);
// - the other channels are balanced as in SmoothQuant: s[k] = |gamma[k]|^alpha / max_o |W[o, k]|^(1 - alpha)
//   (1 where either is 0), the activations quantized as x'[k] = (x[k] - beta[k]) / s[k] and the weights as
//   W'[o, k] = W[o, k] * s[k].
// So x' · W'ᵀ + b' + Σ_exact x[k] W[:, k] = x · Wᵀ + b in exact arithmetic. Constants of the weights only: a
// token's result does not depend on its batch.
struct Smoothing {
    std::vector<float> mul;            // [in] 1 / s[k]; 0 on the exact channels
    std::vector<float> add;            // [in] -beta[k] / s[k]; 0 on the exact channels
    std::vector<float> weights;        // [out, in] W'; 0 in the exact channels' columns
    std::vector<float> bias;           // [out] b' (b null: treated as 0)
    std::vector<int32_t> exact;        // the exact channels, ascending
    std::vector<float> exact_weights;  // [exact.size(), out]: row j is W[:, exact[j]]
};
inline constexpr float kSmoothingAlpha = 0.5f;
inline constexpr float kExactRatio = 6.f;
Smoothing smooth_linear(const float* w, const float* b, int64_t out, int64_t in, std::span<const float> gamma,
                        std::span<const float> beta, float alpha = kSmoothingAlpha);

// Symmetric s8 quantization of a weight row w [n] (one output channel): w ~ scale * q, q in [-max_code, max_code]
// (max_code <= 127). Returns the scale (0 for an all-zero row) and writes Σ q to *sum (for the activations' zero
// points).
float quantize_row_s8(const float* w, int64_t n, int32_t max_code, int8_t* q, int32_t* sum);

// The int8 GEMM's epilogue for one row of `cols` outputs: `sums` holds the s32 sums acc[c] = Σ_k q_x[k] q_w[c, k],
// and `out` gets F32 y[c] = x.scale * w_scale[c] * (acc[c] - x.zero_point * w_sum[c]) + bias[c] (bias may be null).
// `out` is `sums` (in place: the same memory viewed as either type) or does not overlap it.
void dequantize_row(const void* sums, void* out, int64_t cols, RowQuant x, const float* w_scale, const int32_t* w_sum,
                    const float* bias);

// y [cols] += Σ_j x[channels[j]] * weights[j, :] in order of j: a Smoothing's exact channels for one row.
void add_exact_channels(float* y, int64_t cols, const float* x, std::span<const int32_t> channels,
                        const float* weights);

}  // namespace bge::cpu
