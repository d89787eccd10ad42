// Packed varlen self-attention for Hopper (sm_90a), in the manner of FlashAttention-3 (Shah et al. 2024,
// arXiv:2407.08608), written here: a block owns 64·kConsumers queries of one (sequence, head) and walks the
// sequence's keys in tiles of kBlockN. One producer warp loads Q once and each K/V tile pair with TMA into a ring
// of kStages shared-memory stages (128-byte swizzle, the layout wgmma reads), signalling an mbarrier per stage;
// each consumer warpgroup of 64 queries computes S = Q Kᵀ with wgmma from shared memory, the online softmax in
// registers (exp2, one division by the row sum at the end), and O += P V with P from registers and V from shared
// memory (V transposed by the instruction), then releases the stage to the producer. Rows of the tiles past a
// sequence's end are the next sequence's tokens (or TMA's zeros past the batch): their keys are masked and their
// queries not stored. Nothing of size [L, L] exists. Head dim 64, F16/BF16 in, F32 accumulation.
#include <cuda.h>
#include <cudaTypedefs.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "backend/cuda/kernels/kernels.h"
#include "backend/cuda/kernels/mma_util.cuh"

namespace bge::cuda {
namespace {

constexpr int kHeadDim = 64;  // 128 bytes a row: one swizzle atom wide

// The tile shape, measured on an H200 against 128-key tiles, one or three consumers, two or four stages and
// FlashAttention-3's overlap of the next tile's Q Kᵀ with this one's softmax (docs/performance.md): 64-key tiles,
// two consumers, three stages and two blocks per SM were the fastest or within 2% at every shape. The cap costs 24
// bytes of spills (96 registers a thread); uncapped, at 109 registers, the kernel ran 1.25x slower on the H200.
constexpr int kBlockN = 64;                         // keys per tile; also one warpgroup's queries: TMA boxes
constexpr int kConsumers = 2;                       // warpgroups of 64 queries
constexpr int kStages = 3;                          // K/V tile pairs in flight
constexpr int kMinBlocks = 2;                       // blocks per SM the registers are capped for
constexpr int kBlockM = 64 * kConsumers;            // queries per block
constexpr int kThreads = 128 * kConsumers + 32;     // + the producer warp
constexpr int kTileBytes = kBlockN * kHeadDim * 2;  // one K or V tile, or one warpgroup's Q, 8 KB
constexpr int kQBytes = kBlockM * kHeadDim * 2;

struct Shared {
    alignas(1024) uint8_t q[kQBytes];
    alignas(1024) uint8_t k[kStages][kTileBytes];
    alignas(1024) uint8_t v[kStages][kTileBytes];
    uint64_t q_full;
    uint64_t full[kStages];   // K and V of the stage landed (TMA transaction bytes)
    uint64_t empty[kStages];  // every consumer warp is done with the stage
};
constexpr size_t kSharedBytes = sizeof(Shared) + 1024;  // + alignment slack of the dynamic window

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

constexpr uint32_t kSwizzleGroup = 8 * kHeadDim * 2;  // 8 rows of 128 bytes: the swizzle pattern's period

__device__ __forceinline__ void mbar_init(uint64_t* bar, int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(shared_address(bar)), "r"(count));
}
__device__ __forceinline__ void mbar_expect_bytes(uint64_t* bar, int bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(shared_address(bar)), "r"(bytes)
                 : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(shared_address(bar)) : "memory");
}
// Waits until the barrier's phase of parity `parity` has completed (at once for the phase before its first).
__device__ __forceinline__ void mbar_wait(uint64_t* bar, int parity) {
    uint32_t done = 0;
    do {
        asm volatile(
            "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
            : "=r"(done)
            : "r"(shared_address(bar)), "r"(parity)
            : "memory");
    } while (!done);
}

// A [64 rows, 64 columns] box of the qkv tensor map at (column, row) into swizzled shared memory.
__device__ __forceinline__ void tma_load(void* dst, const CUtensorMap* map, int column, int row, uint64_t* bar) {
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], "
        "[%4];\n" ::"r"(shared_address(dst)),
        "l"(reinterpret_cast<uint64_t>(map)), "r"(column), "r"(row), "r"(shared_address(bar))
        : "memory");
}

// wgmma shared-memory descriptor of a tile of 128-byte rows in the 128-byte swizzle, 1024-byte aligned at its
// swizzle period: stride between 8-row groups 1024 bytes (for V, read N-major, the same figure is the stride
// along K and there is one 64-column atom across N, so both offsets are 1024).
__device__ __forceinline__ uint64_t smem_descriptor(uint32_t address) {
    return static_cast<uint64_t>((address & 0x3FFFF) >> 4) | static_cast<uint64_t>(kSwizzleGroup >> 4) << 16 |
           static_cast<uint64_t>(kSwizzleGroup >> 4) << 32 | static_cast<uint64_t>(1) << 62;
}

__device__ __forceinline__ void wgmma_fence() {
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
// Waits until at most `pending` of this warpgroup's committed wgmma groups are still running.
template <int pending>
__device__ __forceinline__ void wgmma_wait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(pending) : "memory");
}
// Keeps the compiler from reading, writing or reusing wgmma's registers before the wait placed above this.
template <int n>
__device__ __forceinline__ void pin(float (&r)[n]) {
#pragma unroll
    for (int i = 0; i < n; ++i) asm volatile("" : "+f"(r[i])::"memory");
}

// d (64 x 64, F32) = or += a (64 x 16, shared, K-major) · b (16 x 64, shared, K-major).
template <typename T>
__device__ __forceinline__ void wgmma_ss_n64(float (&d)[32], uint64_t a, uint64_t b, int accumulate);
// d (64 x 64, F32) += a (64 x 16, registers) · b (16 x 64, shared, N-major).
template <typename T>
__device__ __forceinline__ void wgmma_rs_n64(float (&d)[32], const uint32_t (&a)[4], uint64_t b);
template <>
__device__ __forceinline__ void wgmma_ss_n64<__half>(float (&d)[32], uint64_t a, uint64_t b, int accumulate) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, "
        "%23, %24, %25, %26, %27, %28, %29, %30, %31}, "
        "%32, %33, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]),
          "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]),
          "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),
          "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "l"(a), "l"(b), "r"(accumulate));
}
template <>
__device__ __forceinline__ void wgmma_ss_n64<__nv_bfloat16>(float (&d)[32], uint64_t a, uint64_t b, int accumulate) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, "
        "%23, %24, %25, %26, %27, %28, %29, %30, %31}, "
        "%32, %33, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]),
          "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]),
          "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),
          "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "l"(a), "l"(b), "r"(accumulate));
}
template <>
__device__ __forceinline__ void wgmma_rs_n64<__half>(float (&d)[32], const uint32_t (&a)[4], uint64_t b) {
    asm volatile(
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, "
        "%23, %24, %25, %26, %27, %28, %29, %30, %31}, "
        "{%32, %33, %34, %35}, %36, 1, 1, 1, 1;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]),
          "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]),
          "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),
          "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
}
template <>
__device__ __forceinline__ void wgmma_rs_n64<__nv_bfloat16>(float (&d)[32], const uint32_t (&a)[4], uint64_t b) {
    asm volatile(
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, "
        "%23, %24, %25, %26, %27, %28, %29, %30, %31}, "
        "{%32, %33, %34, %35}, %36, 1, 1, 1, 1;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]),
          "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]),
          "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),
          "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
}

__device__ __forceinline__ float exp2_approx(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

// s = Q Kᵀ for the warpgroup's 64 queries and a tile's 64 keys: 4 steps of 16 head dims (32 bytes along the
// swizzled rows). Issued, not committed.
template <typename T>
__device__ __forceinline__ void issue_scores(float (&s)[32], uint64_t q_desc, uint64_t k_desc) {
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) wgmma_ss_n64<T>(s, q_desc + 2 * kk, k_desc + 2 * kk, kk > 0);
}
// o += P V: 4 steps of 16 keys (16 rows of 128 bytes). Issued, not committed.
template <typename T>
__device__ __forceinline__ void issue_pv(float (&o)[32], const uint32_t (&p)[4][4], uint64_t v_desc) {
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) wgmma_rs_n64<T>(o, p[kk], v_desc + kk * (16 * kHeadDim * 2 >> 4));
}

// The online softmax of one tile in place: s becomes exp2((s − running max)·scale) (0 for keys at or
// past `len`), with the maximum taken on the unscaled scores (the scale is positive) so that the scaling is part
// of the exponent's one FMA; the running max and this thread's row sums are updated, and `correction` is what O
// must be multiplied by. s[i] is row (i / 2) % 2 (of the thread's two), key k0 + (i / 4) * 8 + quad_lane * 2 + i % 2.
__device__ __forceinline__ void softmax_tile(float (&s)[32], float (&row_max)[2], float (&row_sum)[2],
                                             float (&correction)[2], int k0, int len, int quad_lane, float scale_log2) {
    float tile_max[2] = {-INFINITY, -INFINITY};
    if (k0 + kBlockN > len) {
#pragma unroll
        for (int i = 0; i < 32; ++i) {
            if (k0 + (i / 4) * 8 + quad_lane * 2 + i % 2 >= len) s[i] = -INFINITY;
        }
    }
#pragma unroll
    for (int i = 0; i < 32; ++i) tile_max[(i / 2) % 2] = fmaxf(tile_max[(i / 2) % 2], s[i]);
    float offset[2];  // −max·scale
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
        tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
        const float new_max = fmaxf(row_max[r], tile_max[r]);  // finite: the tile has a valid key
        correction[r] = exp2_approx((row_max[r] - new_max) * scale_log2);
        row_max[r] = new_max;
        row_sum[r] *= correction[r];
        offset[r] = -new_max * scale_log2;
    }
#pragma unroll
    for (int i = 0; i < 32; ++i) {
        s[i] = exp2_approx(fmaf(s[i], scale_log2, offset[(i / 2) % 2]));
        row_sum[(i / 2) % 2] += s[i];
    }
}

// The accumulator layout of s is the A-operand layout of P: register h of k-step kk holds s[8kk + 2h], s[8kk + 2h + 1].
template <typename T>
__device__ __forceinline__ void to_operand(const float (&s)[32], uint32_t (&p)[4][4]) {
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
#pragma unroll
        for (int h = 0; h < 4; ++h) p[kk][h] = pack<T>(s[8 * kk + 2 * h], s[8 * kk + 2 * h + 1]);
    }
}

#endif  // __CUDA_ARCH_FEAT_SM90_ALL

template <typename T>
__global__ void __launch_bounds__(kThreads, kMinBlocks)
    flash_attention_sm90_kernel(const __grid_constant__ CUtensorMap qkv_map, const int32_t* cu_seqlens, T* out,
                                int hidden, float scale_log2) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ uint8_t shared_raw[];
    Shared& sm = *reinterpret_cast<Shared*>((reinterpret_cast<uintptr_t>(shared_raw) + 1023) & ~uintptr_t{1023});
    const int seq = blockIdx.z, head = blockIdx.y;
    const int start = cu_seqlens[seq];
    const int len = cu_seqlens[seq + 1] - start;
    const int q0 = blockIdx.x * kBlockM;
    if (q0 >= len) return;
    const int n_tiles = (len + kBlockN - 1) / kBlockN;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (threadIdx.x == 0) {
        mbar_init(&sm.q_full, 1);
        for (int s = 0; s < kStages; ++s) {
            mbar_init(&sm.full[s], 1);
            mbar_init(&sm.empty[s], 4 * kConsumers);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    if (warp == 4 * kConsumers) {  // the producer
        if (lane == 0) {
            const int column = head * kHeadDim;
            mbar_expect_bytes(&sm.q_full, kQBytes);
            for (int w = 0; w < kConsumers; ++w) {
                tma_load(sm.q + w * kTileBytes, &qkv_map, column, start + q0 + 64 * w, &sm.q_full);
            }
            for (int t = 0; t < n_tiles; ++t) {
                const int stage = t % kStages;
                mbar_wait(&sm.empty[stage], ((t / kStages) & 1) ^ 1);
                mbar_expect_bytes(&sm.full[stage], 2 * kTileBytes);
                tma_load(sm.k[stage], &qkv_map, hidden + column, start + t * kBlockN, &sm.full[stage]);
                tma_load(sm.v[stage], &qkv_map, 2 * hidden + column, start + t * kBlockN, &sm.full[stage]);
            }
        }
        return;
    }

    const int wg = warp / 4;
    const int quad_lane = lane % 4;
    const uint64_t q_desc = smem_descriptor(shared_address(sm.q) + wg * 64 * kHeadDim * 2);
    const auto k_desc = [&](int stage) { return smem_descriptor(shared_address(sm.k[stage])); };
    const auto v_desc = [&](int stage) { return smem_descriptor(shared_address(sm.v[stage])); };
    float o[32] = {};                           // 64 queries x 64 dims: 8 chunks of 8 dims, 4 values each
    float row_max[2] = {-INFINITY, -INFINITY};  // rows lane / 4 and lane / 4 + 8 of this warp's 16
    float row_sum[2] = {0.f, 0.f};              // this thread's partial sums
    float s[32];                                // scores: 64 queries x 64 keys, 8 chunks of 8 keys
    uint32_t p[4][4];                           // P as the A operand: 16 keys (two chunks) a k-step
    float correction[2];
    mbar_wait(&sm.q_full, 0);
    for (int t = 0; t < n_tiles; ++t) {
        const int stage = t % kStages;
        mbar_wait(&sm.full[stage], (t / kStages) & 1);
        wgmma_fence();
        issue_scores<T>(s, q_desc, k_desc(stage));
        wgmma_commit();
        wgmma_wait<0>();
        pin(s);
        softmax_tile(s, row_max, row_sum, correction, t * kBlockN, len, quad_lane, scale_log2);
        to_operand<T>(s, p);
#pragma unroll
        for (int i = 0; i < 32; ++i) o[i] *= correction[(i / 2) % 2];
        wgmma_fence();
        issue_pv<T>(o, p, v_desc(stage));
        wgmma_commit();
        wgmma_wait<0>();
        pin(o);
        if (lane == 0) mbar_arrive(&sm.empty[stage]);
    }

#pragma unroll
    for (int r = 0; r < 2; ++r) {
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 1);
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 2);
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int q = q0 + wg * 64 + (warp % 4) * 16 + lane / 4 + r * 8;
        if (q >= len) continue;
        const float inv = 1.f / row_sum[r];
        T* dst = out + static_cast<int64_t>(start + q) * hidden + static_cast<int64_t>(head) * kHeadDim;
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            *reinterpret_cast<uint32_t*>(dst + j * 8 + quad_lane * 2) =
                pack<T>(o[4 * j + 2 * r] * inv, o[4 * j + 2 * r + 1] * inv);
        }
    }
#else
    __trap();  // built without sm_90a; the backend never launches it then (BGE_CUDA_SM90A)
#endif
}

using EncodeTiled = PFN_cuTensorMapEncodeTiled_v12000;

// The driver's cuTensorMapEncodeTiled, found once; null where the driver lacks it.
EncodeTiled encode_tiled() {
    static const EncodeTiled fn = [] {
        void* p = nullptr;
        cudaDriverEntryPointQueryResult found{};
        if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &found) !=
                cudaSuccess ||
            found != cudaDriverEntryPointSuccess) {
            cudaGetLastError();
            return static_cast<EncodeTiled>(nullptr);
        }
        return reinterpret_cast<EncodeTiled>(p);
    }();
    return fn;
}

// qkv [n_tokens, 3 * hidden] as a 2-D tensor map, innermost dimension first, in boxes of 64 columns x kBlockN rows.
template <typename T>
bool encode_qkv(CUtensorMap* map, const void* qkv, int n_tokens, int hidden) {
    const EncodeTiled encode = encode_tiled();
    if (encode == nullptr) return false;
    const cuuint64_t dims[2] = {static_cast<cuuint64_t>(3 * hidden), static_cast<cuuint64_t>(n_tokens)};
    const cuuint64_t strides[1] = {static_cast<cuuint64_t>(3 * hidden) * sizeof(T)};
    const cuuint32_t box[2] = {kHeadDim, kBlockN};
    const cuuint32_t element_strides[2] = {1, 1};
    return encode(map, std::is_same_v<T, __half> ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16,
                  2, const_cast<void*>(qkv), dims, strides, box, element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                  CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                  CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

template <typename T>
cudaError_t launch(const void* qkv, const int32_t* cu_seqlens, void* out, int n_seqs, int max_seqlen, int n_tokens,
                   int n_heads, int hidden, cudaStream_t stream) {
    // Per call: the attribute belongs to the current device's context (a cheap host-side setting).
    if (const cudaError_t e =
            cudaFuncSetAttribute(flash_attention_sm90_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 static_cast<int>(kSharedBytes));
        e != cudaSuccess) {
        return e;
    }
    CUtensorMap qkv_map;
    if (!encode_qkv<T>(&qkv_map, qkv, n_tokens, hidden)) return cudaErrorNotSupported;
    const dim3 grid((max_seqlen + kBlockM - 1) / kBlockM, n_heads, n_seqs);
    const float scale_log2 = 1.4426950408889634f / sqrtf(static_cast<float>(kHeadDim));  // log2(e) / √d
    flash_attention_sm90_kernel<T>
        <<<grid, kThreads, kSharedBytes, stream>>>(qkv_map, cu_seqlens, static_cast<T*>(out), hidden, scale_log2);
    return cudaGetLastError();
}

}  // namespace

cudaError_t launch_flash_attention_sm90(DType dtype, const void* qkv, const int32_t* cu_seqlens, void* out, int n_seqs,
                                        int max_seqlen, int n_tokens, int n_heads, int hidden, cudaStream_t stream) {
    if (n_seqs == 0 || max_seqlen == 0) return cudaSuccess;
    return dtype == DType::kF16
               ? launch<__half>(qkv, cu_seqlens, out, n_seqs, max_seqlen, n_tokens, n_heads, hidden, stream)
               : launch<__nv_bfloat16>(qkv, cu_seqlens, out, n_seqs, max_seqlen, n_tokens, n_heads, hidden, stream);
}

}  // namespace bge::cuda
