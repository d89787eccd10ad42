// Launchers of the backend's own kernels, one family per .cu file. Each queues work on `stream` and
// returns at once; the caller checks cudaGetLastError(). Tensors are row-major and packed.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.h"

namespace bge::cuda {

// norm.cu. out [n, hidden] (dtype) = LayerNorm(word[ids] + position[position_ids] + token_type), tables in
// dtype, gamma/beta F32 [hidden].
void launch_embed(DType dtype, const int32_t* ids, const int32_t* position_ids, const void* word, const void* position,
                  const void* token_type, const float* gamma, const float* beta, float eps, void* out, int64_t n,
                  int64_t hidden, cudaStream_t stream);
// x [n, hidden] = LayerNorm(x + residual), in place.
void launch_add_layer_norm(DType dtype, void* x, const void* residual, const float* gamma, const float* beta, float eps,
                           int64_t n, int64_t hidden, cudaStream_t stream);

// elementwise.cu. x [n] = gelu_erf(x) or tanh(x), in place (activation: 1 gelu, 2 tanh).
void launch_activation(DType dtype, int activation, void* x, int64_t n, cudaStream_t stream);
// out [m, cols] (out_dtype) = x [rows[i], cols] (x_dtype).
void launch_gather_rows(DType x_dtype, const void* x, const int32_t* rows, DType out_dtype, void* out, int64_t m,
                        int64_t cols, cudaStream_t stream);

// attention.cu: the tensor-core FlashAttention-2-style kernel, F16/BF16, head_dim 64.
// qkv [n_tokens, 3 * hidden], out [n_tokens, hidden]; grid over (query blocks of max_seqlen, heads, seqs).
void launch_flash_attention(DType dtype, const void* qkv, const int32_t* cu_seqlens, void* out, int n_seqs,
                            int max_seqlen, int n_heads, int hidden, cudaStream_t stream);
// attention_sm90.cu: the Hopper kernel (wgmma, TMA), F16/BF16, head_dim 64, for compute capability 9.0 in a
// build with sm_90a (BGE_CUDA_SM90A defined); qkv's rows are n_tokens. Returns the launch's error.
cudaError_t launch_flash_attention_sm90(DType dtype, const void* qkv, const int32_t* cu_seqlens, void* out, int n_seqs,
                                        int max_seqlen, int n_tokens, int n_heads, int hidden, cudaStream_t stream);
// attention_generic.cu: any dtype, head_dim 8, 16, 32 or 64, CUDA cores. Returns false for another head_dim.
bool launch_generic_attention(DType dtype, const void* qkv, const int32_t* cu_seqlens, void* out, int n_seqs,
                              int max_seqlen, int n_heads, int hidden, cudaStream_t stream);

// ragged_layout.cu: for sequences [first, first + n) of cu_seqlens, padded with empty ones to `bucket`:
// seq_len [bucket] (lengths), qkv_offsets and out_offsets [bucket + 1] (element offsets of each sequence's first
// row from the chunk's first row, rows of qkv_row and out_row elements).
void launch_ragged_layout(const int32_t* cu_seqlens, int first, int n, int bucket, int64_t qkv_row, int64_t out_row,
                          int32_t* seq_len, int32_t* qkv_offsets, int32_t* out_offsets, cudaStream_t stream);

}  // namespace bge::cuda
