// Attention through cuDNN's fused SDPA forward operation (graph API, CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR,
// cuDNN >= 9.15), reading Q, K and V in place from the packed qkv tensor with ragged offsets and per-sequence
// lengths: no padding is copied or computed. libcudnn is opened at run time (dlopen), so a machine without it runs
// the backend's own kernel instead.
//
// Plans are built once per (dtype, heads, sequence-count bucket, length bucket) — powers of two, at most
// kMaxSeqsPerCall sequences per call — and cached; a shape cuDNN declines is remembered and left to the caller. A
// call whose sequences all have the same power-of-two length (>= 64) runs a plan without offsets or mask, for
// exactly its sequence count.
#pragma once

#include <cuda_runtime.h>

#include <memory>
#include <span>
#include <string>

#include "backend/backend.h"

namespace bge::cuda {

class CudnnAttention {
 public:
    static constexpr int kMaxSeqsPerCall = 256;

    // Null with `why` set where cuDNN cannot be used here (no library, too old, no handle).
    static std::unique_ptr<CudnnAttention> open(cudaStream_t stream, std::string* why);
    ~CudnnAttention();
    CudnnAttention(const CudnnAttention&) = delete;
    CudnnAttention& operator=(const CudnnAttention&) = delete;

    std::string version() const;  // "9.15.1"

    // Whether every sequence has the same power-of-two length of at least 64 tokens: cuDNN's plan then needs no
    // offsets or mask (per call of up to kMaxSeqsPerCall sequences).
    static bool uniform(std::span<const int32_t> cu_seqlens);

    // out [n_tokens, hidden] = softmax(Q Kᵀ / sqrt(head_dim)) V per head and sequence, from qkv [n_tokens, 3 * hidden]
    // (F16 or BF16). Returns false, having queued nothing, where cuDNN has no plan for the shape (the caller runs
    // its own kernel); an error Status where a queued execution failed.
    StatusOr<bool> run(const Tensor& qkv, const SeqLayout& layout, int n_heads, const Tensor& out);

 private:
    struct Impl;
    explicit CudnnAttention(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace bge::cuda
