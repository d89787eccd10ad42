// Packed varlen self-attention on tensor cores, FlashAttention-2 style (Dao 2023, arXiv:2307.08691): a block
// of 4 or 8 warps owns 64 or 128 queries of one (sequence, head), 16 per warp; it walks the sequence's keys in
// tiles of 64, S = Q Kᵀ
// and O += P V with mma.sync m16n8k16 (F16/BF16 in, F32 accumulate), online softmax in registers with
// exp2, one division by the row sum at the end. Shared memory holds the Q tile and two K/V tile pairs (40 or 48 KB):
// the next pair is fetched with cp.async while the current one is used. Rows of 128 bytes with 16-byte chunks
// XOR-swizzled by row so ldmatrix reads are bank-conflict free. Nothing of
// size [L, L] exists; memory is independent of the length. A query row's arithmetic does not depend on the block
// size or the batch, so results are bitwise batch-invariant.
#include <cmath>
#include <cstdint>

#include "backend/cuda/kernels/kernels.h"
#include "backend/cuda/kernels/mma_util.cuh"
#include "backend/cuda/kernels/type_traits.cuh"

namespace bge::cuda {
namespace {

constexpr int kHeadDim = 64;
constexpr int kBlockN = 64;  // keys per tile; a block has 16 queries per warp

// Element offset of 16-byte chunk `chunk` (0..7) of tile row `row`.
__device__ __forceinline__ int swizzled(int row, int chunk) {
    return row * kHeadDim + ((chunk ^ (row & 7)) * 8);
}

// 16 bytes global -> shared, asynchronously; zero-filled when !valid (src is then not read).
__device__ __forceinline__ void cp_async_16(void* dst, const void* src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(dst)), "l"(src),
                 "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::);
}
// Waits until at most `pending` committed groups are still in flight.
template <int pending>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(pending));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(p)));
}

// c (16x8 F32) += a (16x16) · b (16x8).
template <typename T>
__device__ __forceinline__ void mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);
template <>
__device__ __forceinline__ void mma<__half>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma<__nv_bfloat16>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Rows [row0, row0 + rows) of a [len, 64] slice (row stride ld elements) into a swizzled tile; rows past
// `len` are zeros. `threads` threads share the work.
template <int rows, int threads, typename T>
__device__ __forceinline__ void load_tile(T* tile, const T* src, int row0, int len, int64_t ld) {
    for (int idx = threadIdx.x; idx < rows * 8; idx += threads) {
        const int r = idx / 8, chunk = idx % 8;
        const bool valid = row0 + r < len;
        const T* g = src + (valid ? static_cast<int64_t>(row0 + r) * ld + chunk * 8 : 0);
        cp_async_16(tile + swizzled(r, chunk), g, valid);
    }
}

template <typename T, int kWarps, int kMinBlocks>
__global__ void __launch_bounds__(kWarps * 32, kMinBlocks)
    flash_attention_kernel(const T* qkv, const int32_t* cu_seqlens, T* out, int hidden, float scale_log2) {
    constexpr int kBlockM = 16 * kWarps, kThreads = 32 * kWarps;
    __shared__ alignas(128) T q_tile[kBlockM * kHeadDim];
    __shared__ alignas(128) T k_tiles[2][kBlockN * kHeadDim];
    __shared__ alignas(128) T v_tiles[2][kBlockN * kHeadDim];

    const int seq = blockIdx.z, head = blockIdx.y;
    const int start = cu_seqlens[seq];
    const int len = cu_seqlens[seq + 1] - start;
    const int q0 = blockIdx.x * kBlockM;
    if (q0 >= len) return;
    const int64_t ld = 3 * static_cast<int64_t>(hidden);
    const T* q_src = qkv + static_cast<int64_t>(start) * ld + static_cast<int64_t>(head) * kHeadDim;
    const T* k_src = q_src + hidden;
    const T* v_src = q_src + 2 * static_cast<int64_t>(hidden);
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int group = lane / 4, quad_lane = lane % 4;  // mma fragment coordinates

    load_tile<kBlockM, kThreads>(q_tile, q_src, q0, len, ld);
    load_tile<kBlockN, kThreads>(k_tiles[0], k_src, 0, len, ld);
    load_tile<kBlockN, kThreads>(v_tiles[0], v_src, 0, len, ld);
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();
    uint32_t q_frag[4][4];  // A fragments of this warp's 16 queries, 4 k-steps of 16 dims
#pragma unroll
    for (int ks = 0; ks < 4; ++ks) {
        const int row = warp * 16 + (lane % 8) + ((lane / 8) % 2) * 8;
        ldmatrix_x4(q_frag[ks], q_tile + swizzled(row, ks * 2 + lane / 16));
    }

    float o[8][4] = {};                         // 16 queries x 64 dims: 8 tiles of 8 dims
    float row_max[2] = {-INFINITY, -INFINITY};  // rows group and group + 8
    float row_sum[2] = {0.f, 0.f};              // this thread's partial sums
    for (int k0 = 0, buffer = 0; k0 < len; k0 += kBlockN, buffer ^= 1) {
        // Prefetch the next pair into the other buffer (its readers finished at the last barrier).
        if (k0 + kBlockN < len) {
            load_tile<kBlockN, kThreads>(k_tiles[buffer ^ 1], k_src, k0 + kBlockN, len, ld);
            load_tile<kBlockN, kThreads>(v_tiles[buffer ^ 1], v_src, k0 + kBlockN, len, ld);
        }
        cp_async_commit();
        cp_async_wait<1>();  // the current pair has landed
        __syncthreads();
        const T* k_tile = k_tiles[buffer];
        const T* v_tile = v_tiles[buffer];

        float s[8][4] = {};  // scores: 16 queries x 64 keys, 8 tiles of 8 keys
#pragma unroll
        for (int nt = 0; nt < 8; ++nt) {
#pragma unroll
            for (int kk = 0; kk < 2; ++kk) {
                uint32_t b[4];
                ldmatrix_x4(b, k_tile + swizzled(nt * 8 + lane % 8, kk * 4 + lane / 8));
                mma<T>(s[nt], q_frag[2 * kk], b[0], b[1]);
                mma<T>(s[nt], q_frag[2 * kk + 1], b[2], b[3]);
            }
        }
        float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int nt = 0; nt < 8; ++nt) {
#pragma unroll
            for (int c = 0; c < 4; ++c) {
                const int key = k0 + nt * 8 + quad_lane * 2 + (c & 1);
                s[nt][c] = key < len ? s[nt][c] * scale_log2 : -INFINITY;
                tile_max[c / 2] = fmaxf(tile_max[c / 2], s[nt][c]);
            }
        }
        float correction[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
            tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
            const float new_max = fmaxf(row_max[r], tile_max[r]);  // finite: the tile has a valid key
            correction[r] = exp2f(row_max[r] - new_max);
            row_max[r] = new_max;
            row_sum[r] *= correction[r];
        }
#pragma unroll
        for (int nt = 0; nt < 8; ++nt) {
#pragma unroll
            for (int c = 0; c < 4; ++c) {
                s[nt][c] = exp2f(s[nt][c] - row_max[c / 2]);
                row_sum[c / 2] += s[nt][c];
            }
        }
#pragma unroll
        for (int dt = 0; dt < 8; ++dt) {
#pragma unroll
            for (int c = 0; c < 4; ++c) o[dt][c] *= correction[c / 2];
        }
        // O += P V: P's accumulator layout is the A layout of the next mma (two 8-key tiles per k-step).
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const uint32_t p[4] = {pack<T>(s[2 * j][0], s[2 * j][1]), pack<T>(s[2 * j][2], s[2 * j][3]),
                                   pack<T>(s[2 * j + 1][0], s[2 * j + 1][1]),
                                   pack<T>(s[2 * j + 1][2], s[2 * j + 1][3])};
#pragma unroll
            for (int dp = 0; dp < 4; ++dp) {
                uint32_t b[4];
                const int row = j * 16 + lane % 8 + ((lane / 8) % 2) * 8;
                ldmatrix_x4_trans(b, v_tile + swizzled(row, dp * 2 + lane / 16));
                mma<T>(o[2 * dp], p, b[0], b[1]);
                mma<T>(o[2 * dp + 1], p, b[2], b[3]);
            }
        }
        __syncthreads();  // every warp is done with this pair before it is refilled
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 1);
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 2);
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int q = q0 + warp * 16 + group + r * 8;
        if (q >= len) continue;
        const float inv = 1.f / row_sum[r];
        T* dst = out + static_cast<int64_t>(start + q) * hidden + static_cast<int64_t>(head) * kHeadDim;
#pragma unroll
        for (int dt = 0; dt < 8; ++dt) {
            *reinterpret_cast<uint32_t*>(dst + dt * 8 + quad_lane * 2) =
                pack<T>(o[dt][2 * r] * inv, o[dt][2 * r + 1] * inv);
        }
    }
}

template <typename T, int kWarps, int kMinBlocks>
void launch(const void* qkv, const int32_t* cu_seqlens, void* out, int n_seqs, int max_seqlen, int n_heads, int hidden,
            cudaStream_t stream) {
    const dim3 grid((max_seqlen + 16 * kWarps - 1) / (16 * kWarps), n_heads, n_seqs);
    const float scale_log2 = 1.4426950408889634f / sqrtf(static_cast<float>(kHeadDim));  // log2(e) / √d
    flash_attention_kernel<T, kWarps, kMinBlocks><<<grid, kWarps * 32, 0, stream>>>(
        static_cast<const T*>(qkv), cu_seqlens, static_cast<T*>(out), hidden, scale_log2);
}

}  // namespace

// Long sequences take 128-query blocks (8 warps share each K/V tile), short ones 64-query blocks, which waste
// fewer rows past a sequence's end. Register caps of 2 and 4 blocks per SM (128 registers, a few bytes spilled)
// measured best of (4 warps, 1 or 4 blocks) and (8 warps, 1 or 2 blocks) on an H200 (docs/performance.md).
void launch_flash_attention(DType dtype, const void* qkv, const int32_t* cu_seqlens, void* out, int n_seqs,
                            int max_seqlen, int n_heads, int hidden, cudaStream_t stream) {
    if (n_seqs == 0 || max_seqlen == 0) return;
    const bool f16 = dtype == DType::kF16;
    if (max_seqlen >= 1024) {
        (f16 ? launch<__half, 8, 2> : launch<__nv_bfloat16, 8, 2>)(qkv, cu_seqlens, out, n_seqs, max_seqlen, n_heads,
                                                                   hidden, stream);
    } else {
        (f16 ? launch<__half, 4, 4> : launch<__nv_bfloat16, 4, 4>)(qkv, cu_seqlens, out, n_seqs, max_seqlen, n_heads,
                                                                   hidden, stream);
    }
}

}  // namespace bge::cuda
