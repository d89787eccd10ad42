// Portable packed varlen attention on CUDA cores: one thread per query row of one head, keys and values
// staged in shared memory (F32) 64 at a time, online softmax (running max and sum) in F32. Used for F32
// activations, head dims other than 64, and when BGE_CUDA_GENERIC=1 forces it.
#include <cmath>

#include "backend/cuda/kernels/kernels.h"
#include "backend/cuda/kernels/type_traits.cuh"

namespace bge::cuda {
namespace {

constexpr int kBlock = 64;  // queries per block and keys per tile

template <typename T, int D>
__global__ void __launch_bounds__(kBlock)
    generic_attention_kernel(const T* qkv, const int32_t* cu_seqlens, T* out, int hidden, float scale) {
    __shared__ float k_tile[kBlock][D];
    __shared__ float v_tile[kBlock][D];
    const int seq = blockIdx.z, head = blockIdx.y;
    const int start = cu_seqlens[seq];
    const int len = cu_seqlens[seq + 1] - start;
    if (static_cast<int>(blockIdx.x) * kBlock >= len) return;
    const int64_t ld = 3 * static_cast<int64_t>(hidden);
    const T* base = qkv + static_cast<int64_t>(start) * ld + static_cast<int64_t>(head) * D;
    const int q = blockIdx.x * kBlock + threadIdx.x;
    const bool active = q < len;

    float qv[D], o[D];
#pragma unroll
    for (int i = 0; i < D; ++i) {
        qv[i] = active ? to_float(base[q * ld + i]) * scale : 0.f;
        o[i] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    for (int k0 = 0; k0 < len; k0 += kBlock) {
        __syncthreads();  // the previous tile is consumed
        for (int idx = threadIdx.x; idx < kBlock * D; idx += kBlock) {
            const int r = idx / D, c = idx % D;
            const bool valid = k0 + r < len;
            const T* row = base + static_cast<int64_t>(k0 + r) * ld;
            k_tile[r][c] = valid ? to_float(row[hidden + c]) : 0.f;
            v_tile[r][c] = valid ? to_float(row[2 * hidden + c]) : 0.f;
        }
        __syncthreads();
        const int n_keys = min(kBlock, len - k0);
        if (!active) continue;
        for (int j = 0; j < n_keys; ++j) {
            float s = 0.f;
#pragma unroll
            for (int i = 0; i < D; ++i) s += qv[i] * k_tile[j][i];
            if (s > m) {
                const float correction = expf(m - s);  // 0 on the first key
                l *= correction;
#pragma unroll
                for (int i = 0; i < D; ++i) o[i] *= correction;
                m = s;
            }
            const float p = expf(s - m);
            l += p;
#pragma unroll
            for (int i = 0; i < D; ++i) o[i] += p * v_tile[j][i];
        }
    }
    if (!active) return;
    T* dst = out + static_cast<int64_t>(start + q) * hidden + static_cast<int64_t>(head) * D;
    const float inv = 1.f / l;
#pragma unroll
    for (int i = 0; i < D; ++i) dst[i] = from_float<T>(o[i] * inv);
}

template <int D>
void launch(DType dtype, const void* qkv, const int32_t* cu_seqlens, void* out, int n_seqs, int max_seqlen, int n_heads,
            int hidden, cudaStream_t stream) {
    const dim3 grid((max_seqlen + kBlock - 1) / kBlock, n_heads, n_seqs);
    const float scale = 1.f / sqrtf(static_cast<float>(D));
    dispatch_float(dtype, [&]<typename T>() {
        generic_attention_kernel<T, D>
            <<<grid, kBlock, 0, stream>>>(static_cast<const T*>(qkv), cu_seqlens, static_cast<T*>(out), hidden, scale);
    });
}

}  // namespace

bool launch_generic_attention(DType dtype, const void* qkv, const int32_t* cu_seqlens, void* out, int n_seqs,
                              int max_seqlen, int n_heads, int hidden, cudaStream_t stream) {
    if (n_seqs == 0 || max_seqlen == 0) return true;
    switch (hidden / n_heads) {
        case 8:
            launch<8>(dtype, qkv, cu_seqlens, out, n_seqs, max_seqlen, n_heads, hidden, stream);
            return true;
        case 16:
            launch<16>(dtype, qkv, cu_seqlens, out, n_seqs, max_seqlen, n_heads, hidden, stream);
            return true;
        case 32:
            launch<32>(dtype, qkv, cu_seqlens, out, n_seqs, max_seqlen, n_heads, hidden, stream);
            return true;
        case 64:
            launch<64>(dtype, qkv, cu_seqlens, out, n_seqs, max_seqlen, n_heads, hidden, stream);
            return true;
        default:
            return false;
    }
}

}  // namespace bge::cuda
