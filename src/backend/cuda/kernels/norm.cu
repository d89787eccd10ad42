// Embeddings + LayerNorm and fused residual add + LayerNorm: one block per token row, the row kept in
// shared memory as F32, mean and variance in two passes (as torch.nn.LayerNorm, biased variance).
#include "backend/cuda/kernels/kernels.h"
#include "backend/cuda/kernels/type_traits.cuh"

namespace bge::cuda {
namespace {

constexpr int kThreads = 256;

// Sum of `v` over the block; every thread gets it. `scratch` holds kThreads / 32 floats.
__device__ float block_sum(float v, float* scratch) {
    for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads();  // scratch may still be read by a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float total = 0;
    for (int w = 0; w < kThreads / 32; ++w) total += scratch[w];
    return total;
}

// Normalizes row[0, hidden) (shared) and writes it to out.
template <typename T>
__device__ void normalize_row(const float* row, const float* gamma, const float* beta, float eps, T* out,
                              int64_t hidden, float* scratch) {
    float sum = 0;
    for (int64_t c = threadIdx.x; c < hidden; c += kThreads) sum += row[c];
    const float mean = block_sum(sum, scratch) / static_cast<float>(hidden);
    float sq = 0;
    for (int64_t c = threadIdx.x; c < hidden; c += kThreads) {
        const float d = row[c] - mean;
        sq += d * d;
    }
    const float rstd = rsqrtf(block_sum(sq, scratch) / static_cast<float>(hidden) + eps);
    for (int64_t c = threadIdx.x; c < hidden; c += kThreads) {
        out[c] = from_float<T>((row[c] - mean) * rstd * gamma[c] + beta[c]);
    }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    embed_kernel(const int32_t* ids, const int32_t* position_ids, const T* word, const T* position, const T* token_type,
                 const float* gamma, const float* beta, float eps, T* out, int64_t hidden) {
    extern __shared__ float row[];  // F32 [hidden]
    __shared__ float scratch[kThreads / 32];
    const int64_t t = blockIdx.x;
    const T* w = word + static_cast<int64_t>(ids[t]) * hidden;
    const T* p = position + static_cast<int64_t>(position_ids[t]) * hidden;
    for (int64_t c = threadIdx.x; c < hidden; c += kThreads) {
        row[c] = to_float(w[c]) + to_float(p[c]) + to_float(token_type[c]);
    }
    __syncthreads();
    normalize_row(row, gamma, beta, eps, out + t * hidden, hidden, scratch);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    add_layer_norm_kernel(T* x, const T* residual, const float* gamma, const float* beta, float eps, int64_t hidden) {
    extern __shared__ float row[];  // F32 [hidden]
    __shared__ float scratch[kThreads / 32];
    const int64_t offset = static_cast<int64_t>(blockIdx.x) * hidden;
    for (int64_t c = threadIdx.x; c < hidden; c += kThreads) {
        row[c] = to_float(x[offset + c]) + to_float(residual[offset + c]);
    }
    __syncthreads();
    normalize_row(row, gamma, beta, eps, x + offset, hidden, scratch);
}

}  // namespace

void launch_embed(DType dtype, const int32_t* ids, const int32_t* position_ids, const void* word, const void* position,
                  const void* token_type, const float* gamma, const float* beta, float eps, void* out, int64_t n,
                  int64_t hidden, cudaStream_t stream) {
    if (n == 0) return;
    const size_t smem = static_cast<size_t>(hidden) * sizeof(float);
    dispatch_float(dtype, [&]<typename T>() {
        embed_kernel<T><<<static_cast<unsigned>(n), kThreads, smem, stream>>>(
            ids, position_ids, static_cast<const T*>(word), static_cast<const T*>(position),
            static_cast<const T*>(token_type), gamma, beta, eps, static_cast<T*>(out), hidden);
    });
}

void launch_add_layer_norm(DType dtype, void* x, const void* residual, const float* gamma, const float* beta, float eps,
                           int64_t n, int64_t hidden, cudaStream_t stream) {
    if (n == 0) return;
    const size_t smem = static_cast<size_t>(hidden) * sizeof(float);
    dispatch_float(dtype, [&]<typename T>() {
        add_layer_norm_kernel<T><<<static_cast<unsigned>(n), kThreads, smem, stream>>>(
            static_cast<T*>(x), static_cast<const T*>(residual), gamma, beta, eps, hidden);
    });
}

}  // namespace bge::cuda
