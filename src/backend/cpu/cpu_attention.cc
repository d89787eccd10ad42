#include "backend/cpu/cpu_attention.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "backend/cpu/cpu_softmax.h"
#include "core/check.h"

namespace bge::cpu {
namespace {

// Query rows per work item at most. Larger blocks amortize the GEMMs' packing of K and V
// (single-core attention: 64 rows 67 GFLOP/s, 256 rows 86, 512 rows 88) and still give 16
// items per head at L = 8192 to balance threads.
constexpr int64_t kMaxQBlock = 512;
// Keys per score chunk ([512, 1024] fp32 = 2 MiB per thread, cache-resident between the two
// GEMMs). Longer sequences use online softmax across chunks (FlashAttention-2 style rescaling).
constexpr int64_t kKeyBlock = 1024;

// Query blocks of a sequence: as few as kMaxQBlock allows, with balanced sizes. Depends on the
// sequence length only, so a sequence computes the same alone or inside any batch.
int64_t query_blocks(int64_t len) {
    return (len + kMaxQBlock - 1) / kMaxQBlock;
}

void sgemm_or_die(char transb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
    // Row-major C = alpha * A · op(B) + beta * C, on the calling thread alone (see the parallel region in run()).
    const dnnl_status_t status = dnnl_sgemm('N', transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (status != dnnl_success) {
        std::fprintf(stderr, "bge cpu backend: attention sgemm failed (status %d)\n", static_cast<int>(status));
        std::abort();
    }
}

// One work item: out rows [rows, head_dim] (stride out_ld) = softmax(scale · q kᵀ) v over `len` keys.
// q [rows, head_dim], k and v [len, head_dim] share the stride ld; scores is F32 [rows, kKeyBlock] scratch.
void attend_block(const float* q, const float* k, const float* v, int64_t ld, int64_t rows, int64_t len,
                  int64_t head_dim, float scale, float* out, int64_t out_ld, float* scores) {
    float row_max_so_far[kMaxQBlock];  // running max of each row's scores
    float row_sum[kMaxQBlock];         // running sum of exp(score - running max)
    for (int64_t c0 = 0; c0 < len; c0 += kKeyBlock) {
        const int64_t cols = std::min(kKeyBlock, len - c0);
        sgemm_or_die('T', rows, cols, head_dim, scale, q, ld, k + c0 * ld, ld, 0.f, scores, cols);
        for (int64_t r = 0; r < rows; ++r) {
            float* s = scores + r * cols;
            const float chunk_max = row_max(s, cols);
            if (c0 == 0) {
                row_max_so_far[r] = chunk_max;
                row_sum[r] = exp_shifted(s, cols, chunk_max);
                continue;
            }
            const float new_max = std::max(row_max_so_far[r], chunk_max);
            const float rescale = std::exp(row_max_so_far[r] - new_max);  // earlier terms move to the new max
            row_sum[r] = row_sum[r] * rescale + exp_shifted(s, cols, new_max);
            row_max_so_far[r] = new_max;
            if (rescale != 1.f) scale_row(out + r * out_ld, head_dim, rescale);
        }
        sgemm_or_die('N', rows, head_dim, cols, 1.f, scores, cols, v + c0 * ld, ld, c0 == 0 ? 0.f : 1.f, out, out_ld);
    }
    for (int64_t r = 0; r < rows; ++r) scale_row(out + r * out_ld, head_dim, 1.f / row_sum[r]);
}

}  // namespace

void AttentionRunner::run(const Tensor& qkv, std::span<const int32_t> cu_seqlens, int n_heads, const Tensor& out,
                          int n_threads) {
    BGE_CHECK(qkv.dtype == DType::kF32 && out.dtype == DType::kF32);
    BGE_CHECK(n_heads > 0 && out.cols % n_heads == 0 && qkv.cols == 3 * out.cols && qkv.rows == out.rows);
    BGE_CHECK(!cu_seqlens.empty() && cu_seqlens.front() == 0 && cu_seqlens.back() == out.rows);
    const int64_t hidden = out.cols;
    const int64_t head_dim = hidden / n_heads;
    const int64_t ld = 3 * hidden;
    const float scale = 1.f / std::sqrt(static_cast<float>(head_dim));
    const size_t n_seqs = cu_seqlens.size() - 1;

    item_begin_.resize(n_seqs + 1);
    item_begin_[0] = 0;
    int64_t max_len = 0;
    for (size_t s = 0; s < n_seqs; ++s) {
        const int64_t len = cu_seqlens[s + 1] - cu_seqlens[s];
        BGE_CHECK(len >= 0);
        max_len = std::max(max_len, len);
        item_begin_[s + 1] = item_begin_[s] + query_blocks(len) * n_heads;
    }
    const int64_t n_items = item_begin_.back();
    if (n_items == 0) return;
    const int n_workers = static_cast<int>(std::min<int64_t>(n_threads, n_items));
    if (scratch_.size() < static_cast<size_t>(n_workers)) scratch_.resize(n_workers);
    const int64_t scratch_floats = std::min(kMaxQBlock, max_len) * std::min(kKeyBlock, max_len);
    for (int t = 0; t < n_workers; ++t) scratch_[t].reserve(sizeof(float) * scratch_floats);

    const auto* base = static_cast<const float*>(qkv.data);
    auto* dst = static_cast<float*>(out.data);
#pragma omp parallel num_threads(n_workers)
    {
        // dnnl_sgemm threads itself unless omp_in_parallel(), which is false in a team of one; its AVX2 kernels
        // then split the reduction by thread count. One thread per sgemm keeps every item's sums in one order.
        omp_set_num_threads(1);
        auto* scores = static_cast<float*>(scratch_[omp_get_thread_num()].data());  // F32 [rows, key chunk]
#pragma omp for schedule(dynamic, 1)
        for (int64_t item = 0; item < n_items; ++item) {
            // Items run (sequence, head, block) with the block fastest, so neighbours share K and V.
            const size_t s = std::upper_bound(item_begin_.begin(), item_begin_.end(), item) - item_begin_.begin() - 1;
            const int64_t start = cu_seqlens[s];
            const int64_t len = cu_seqlens[s + 1] - start;
            const int64_t n_blocks = query_blocks(len);
            const int64_t head = (item - item_begin_[s]) / n_blocks;
            const int64_t block = (item - item_begin_[s]) % n_blocks;
            // Balanced split: block b covers rows [b * len / n_blocks, (b + 1) * len / n_blocks).
            const int64_t q0 = block * len / n_blocks;
            const int64_t rows = (block + 1) * len / n_blocks - q0;
            const float* q = base + (start + q0) * ld + head * head_dim;    // [rows, head_dim], stride ld
            const float* k = base + start * ld + hidden + head * head_dim;  // [len, head_dim], stride ld
            const float* v = k + hidden;                                    // [len, head_dim], stride ld
            float* o = dst + (start + q0) * hidden + head * head_dim;       // [rows, head_dim], stride hidden
            attend_block(q, k, v, ld, rows, len, head_dim, scale, o, hidden, scores);
        }
    }
}

}  // namespace bge::cpu
