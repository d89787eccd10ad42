// Embedding sum and LayerNorm on the CPU (fp32 data, double statistics).
#pragma once

#include <cstdint>

#include "backend/backend.h"

namespace bge::cpu {

// out [n, hidden] = LayerNorm(word[ids] + token_type[0] + position[position_ids]); see Backend::embed.
void embed(const Tensor& ids, const Tensor& position_ids, const Tensor& word, const Tensor& position,
           const Tensor& token_type, const Tensor& gamma, const Tensor& beta, float eps, const Tensor& out,
           int n_threads);

// x [n] = LayerNorm(x + residual) for one row, in place (gamma, beta [n]): what add_layer_norm does per row.
void add_layer_norm_row(float* x, const float* residual, const float* gamma, const float* beta, int64_t n, float eps);

// x [n, hidden] = LayerNorm(x + residual), in place.
void add_layer_norm(const Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta, float eps,
                    int n_threads);

}  // namespace bge::cpu
