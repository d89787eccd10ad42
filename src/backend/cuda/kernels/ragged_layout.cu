// Per-sequence lengths and ragged element offsets of a chunk of a packed batch, for cuDNN's SDPA.
#include "backend/cuda/kernels/kernels.h"

namespace bge::cuda {
namespace {

__global__ void ragged_layout_kernel(const int32_t* cu_seqlens, int first, int n, int bucket, int64_t qkv_row,
                                     int64_t out_row, int32_t* seq_len, int32_t* qkv_offsets, int32_t* out_offsets) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i > bucket) return;
    const int32_t base = cu_seqlens[first];
    const int32_t start = cu_seqlens[first + min(i, n)] - base;
    if (i < bucket) seq_len[i] = i < n ? cu_seqlens[first + i + 1] - cu_seqlens[first + i] : 0;
    qkv_offsets[i] = static_cast<int32_t>(start * qkv_row);
    out_offsets[i] = static_cast<int32_t>(start * out_row);
}

}  // namespace

void launch_ragged_layout(const int32_t* cu_seqlens, int first, int n, int bucket, int64_t qkv_row, int64_t out_row,
                          int32_t* seq_len, int32_t* qkv_offsets, int32_t* out_offsets, cudaStream_t stream) {
    constexpr int kThreads = 256;
    ragged_layout_kernel<<<(bucket + kThreads) / kThreads, kThreads, 0, stream>>>(
        cu_seqlens, first, n, bucket, qkv_row, out_row, seq_len, qkv_offsets, out_offsets);
}

}  // namespace bge::cuda
