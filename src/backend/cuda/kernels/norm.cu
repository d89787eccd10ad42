// Embeddings + LayerNorm and fused residual add + LayerNorm, mean and variance in two passes over an F32 copy of
// the row (as torch.nn.LayerNorm, biased variance). Residual + LayerNorm, run twice per layer, takes a warp per row
// with the row in registers and 16-byte loads where the hidden size allows (multiples of 32 lanes × 16 bytes, up to
// 8 such chunks per lane; gamma and beta in float4s); otherwise, and for the embeddings, a block per row with the row
// in shared memory.
#include <cstdint>

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

constexpr int kRowsPerBlock = 4;  // warps per block of the warp-per-row kernel

__device__ float warp_sum(float v) {
    for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}

// x [n, hidden] = LayerNorm(x + residual), hidden = 32 · kChunks · (16 / sizeof(T)); lane l owns the 16-byte
// chunks l, l + 32, ... of its row. All of a lane's loads are issued before the first use.
template <typename T, int kChunks>
__global__ void __launch_bounds__(32 * kRowsPerBlock)
    add_layer_norm_warp_kernel(T* x, const T* residual, const float* gamma, const float* beta, float eps, int64_t n) {
    constexpr int kVec = 16 / sizeof(T);
    constexpr int kHidden = 32 * kChunks * kVec;
    const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
    if (row >= n) return;
    const int lane = threadIdx.x % 32;
    auto* xv = reinterpret_cast<uint4*>(x + row * kHidden);
    float v[kChunks][kVec];
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
        const uint4 xb = xv[lane + 32 * c];
        const T* xe = reinterpret_cast<const T*>(&xb);
#pragma unroll
        for (int k = 0; k < kVec; ++k) v[c][k] = to_float(xe[k]);
    }
    const auto* rv = reinterpret_cast<const uint4*>(residual + row * kHidden);
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
        const uint4 rb = rv[lane + 32 * c];
        const T* re = reinterpret_cast<const T*>(&rb);
#pragma unroll
        for (int k = 0; k < kVec; ++k) v[c][k] += to_float(re[k]);
    }
    float sum = 0;
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
#pragma unroll
        for (int k = 0; k < kVec; ++k) sum += v[c][k];
    }
    const float mean = warp_sum(sum) / static_cast<float>(kHidden);
    float sq = 0;
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
#pragma unroll
        for (int k = 0; k < kVec; ++k) sq += (v[c][k] - mean) * (v[c][k] - mean);
    }
    const float rstd = rsqrtf(warp_sum(sq) / static_cast<float>(kHidden) + eps);
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
        const int col = (lane + 32 * c) * kVec;  // a multiple of 4: gamma and beta in float4s
        float g[kVec], b[kVec];
#pragma unroll
        for (int k = 0; k < kVec; k += 4) {
            *reinterpret_cast<float4*>(&g[k]) = *reinterpret_cast<const float4*>(&gamma[col + k]);
            *reinterpret_cast<float4*>(&b[k]) = *reinterpret_cast<const float4*>(&beta[col + k]);
        }
        uint4 out;
        T* oe = reinterpret_cast<T*>(&out);
#pragma unroll
        for (int k = 0; k < kVec; ++k) oe[k] = from_float<T>((v[c][k] - mean) * rstd * g[k] + b[k]);
        xv[lane + 32 * c] = out;
    }
}

// Launches the warp-per-row kernel when `hidden` is 32 · kVec · c for c in 1..8 and the rows, gamma and beta are
// 16-byte aligned.
template <typename T>
bool launch_add_layer_norm_warp(T* x, const T* residual, const float* gamma, const float* beta, float eps, int64_t n,
                                int64_t hidden, cudaStream_t stream) {
    constexpr int kVec = 16 / sizeof(T);
    if (hidden % (32 * kVec) != 0 || hidden / (32 * kVec) > 8 ||
        (reinterpret_cast<uintptr_t>(x) | reinterpret_cast<uintptr_t>(residual) | reinterpret_cast<uintptr_t>(gamma) |
         reinterpret_cast<uintptr_t>(beta)) %
                16 !=
            0) {
        return false;
    }
    const auto blocks = static_cast<unsigned>((n + kRowsPerBlock - 1) / kRowsPerBlock);
    const auto launch = [&]<int kChunks>() {
        add_layer_norm_warp_kernel<T, kChunks>
            <<<blocks, 32 * kRowsPerBlock, 0, stream>>>(x, residual, gamma, beta, eps, n);
    };
    switch (hidden / (32 * kVec)) {
        case 1:
            launch.template operator()<1>();
            break;
        case 2:
            launch.template operator()<2>();
            break;
        case 3:
            launch.template operator()<3>();
            break;
        case 4:
            launch.template operator()<4>();
            break;
        case 5:
            launch.template operator()<5>();
            break;
        case 6:
            launch.template operator()<6>();
            break;
        case 7:
            launch.template operator()<7>();
            break;
        default:
            launch.template operator()<8>();
            break;
    }
    return true;
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
        if (launch_add_layer_norm_warp(static_cast<T*>(x), static_cast<const T*>(residual), gamma, beta, eps, n, hidden,
                                       stream)) {
            return;
        }
        add_layer_norm_kernel<T><<<static_cast<unsigned>(n), kThreads, smem, stream>>>(
            static_cast<T*>(x), static_cast<const T*>(residual), gamma, beta, eps, hidden);
    });
}

}  // namespace bge::cuda
