#include "backend/cpu/cpu_attention.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include <algorithm>
#include <cmath>

#include "backend/cpu/cpu_onednn.h"
#include "backend/cpu/cpu_quantize.h"
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
    if (status != dnnl_success) onednn_failed("attention sgemm", dnnl_status2str(status));
}

// Online softmax state of a work item's rows across key chunks (FlashAttention-2 style rescaling).
struct RowStats {
    float max[kMaxQBlock];  // running max of each row's scores
    float sum[kMaxQBlock];  // running sum of exp(score - running max)
};

// Row r's chunk of scores s [cols] exponentiated by exp(s, cols, shift) (which returns their sum) against the running
// max; returns the factor by which the row's earlier accumulation must be scaled (1 for the first chunk).
template <class Exp>
float softmax_chunk_row(RowStats& st, int64_t r, float* s, int64_t cols, bool first, Exp exp) {
    const float chunk_max = row_max(s, cols);
    if (first) {
        st.max[r] = chunk_max;
        st.sum[r] = exp(s, cols, chunk_max);
        return 1.f;
    }
    const float new_max = std::max(st.max[r], chunk_max);
    const float rescale = std::exp(st.max[r] - new_max);  // earlier terms move to the new max
    st.sum[r] = st.sum[r] * rescale + exp(s, cols, new_max);
    st.max[r] = new_max;
    return rescale;
}

// One work item: out rows [rows, head_dim] (stride out_ld) = softmax(scale · q kᵀ) v over `len` keys.
// q [rows, head_dim], k and v [len, head_dim] share the stride ld; scores is F32 [rows, kKeyBlock] scratch.
void attend_block(const float* q, const float* k, const float* v, int64_t ld, int64_t rows, int64_t len,
                  int64_t head_dim, float scale, float* out, int64_t out_ld, float* scores) {
    RowStats st;
    for (int64_t c0 = 0; c0 < len; c0 += kKeyBlock) {
        const int64_t cols = std::min(kKeyBlock, len - c0);
        sgemm_or_die('T', rows, cols, head_dim, scale, q, ld, k + c0 * ld, ld, 0.f, scores, cols);
        for (int64_t r = 0; r < rows; ++r) {
            const float rescale = softmax_chunk_row(st, r, scores + r * cols, cols, c0 == 0, exp_shifted);
            if (rescale != 1.f) scale_row(out + r * out_ld, head_dim, rescale);
        }
        sgemm_or_die('N', rows, head_dim, cols, 1.f, scores, cols, v + c0 * ld, ld, c0 == 0 ? 0.f : 1.f, out, out_ld);
    }
    for (int64_t r = 0; r < rows; ++r) scale_row(out + r * out_ld, head_dim, 1.f / st.sum[r]);
}

// BF16 [n, d] (dense) = x [n, d] (stride ld) rounded.
uint16_t* to_bf16_rows(const float* x, int64_t ld, int64_t n, int64_t d, ScratchBuffer& into) {
    auto* dst = static_cast<uint16_t*>(into.reserve(sizeof(uint16_t) * n * d));
    for (int64_t r = 0; r < n; ++r) to_bf16(x + r * ld, d, dst + r * d);
    return dst;
}

// attend_block with bf16 GEMMs (the class comment of AttentionRunner).
void attend_block_bf16(const float* q, const float* k, const float* v, int64_t ld, int64_t rows, int64_t len,
                       int64_t head_dim, float scale, float* out, int64_t out_ld, AttentionWorker& w) {
    const uint16_t* qb = to_bf16_rows(q, ld, rows, head_dim, w.q);  // [rows, d]
    const uint16_t* kb = to_bf16_rows(k, ld, len, head_dim, w.k);   // [len, d]
    const uint16_t* vb = to_bf16_rows(v, ld, len, head_dim, w.v);   // [len, d]
    const int64_t chunk = std::min(kKeyBlock, len);
    auto* scores = static_cast<float*>(w.scores.reserve(sizeof(float) * rows * chunk));     // [rows, cols]
    auto* probs = static_cast<uint16_t*>(w.probs.reserve(sizeof(uint16_t) * rows * chunk));  // [rows, cols]
    auto* sums = static_cast<float*>(w.sums.reserve(sizeof(float) * rows * head_dim));      // [rows, d]
    Bf16AttentionGemms& gemms = *w.gemms;
    RowStats st;
    for (int64_t c0 = 0; c0 < len; c0 += kKeyBlock) {
        const int64_t cols = std::min(kKeyBlock, len - c0);
        gemms.scores(qb, kb + c0 * head_dim, rows, cols, head_dim, scale, scores);
        for (int64_t r = 0; r < rows; ++r) {
            uint16_t* p = probs + r * cols;
            const float rescale = softmax_chunk_row(st, r, scores + r * cols, cols, c0 == 0,
                                                    [p](const float* s, int64_t n, float shift) {
                                                        return exp_shifted_to_bf16(s, n, shift, p);
                                                    });
            if (rescale != 1.f) scale_row(sums + r * head_dim, head_dim, rescale);
        }
        gemms.weighted_sum(probs, vb + c0 * head_dim, rows, cols, head_dim, c0 > 0, sums);
    }
    for (int64_t r = 0; r < rows; ++r) {
        const float inv = 1.f / st.sum[r];
        for (int64_t i = 0; i < head_dim; ++i) out[r * out_ld + i] = sums[r * head_dim + i] * inv;
    }
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
    if (workers_.size() < static_cast<size_t>(n_workers)) workers_.resize(n_workers);
    // The f32 items' score tiles (attend_block_bf16 reserves its own buffers).
    int64_t f32_len = 0;  // the longest sequence that runs f32
    for (size_t s = 0; s < n_seqs; ++s) {
        const int64_t len = cu_seqlens[s + 1] - cu_seqlens[s];
        if (!bf16_engine_ || len < kBf16AttentionMinLength) f32_len = std::max(f32_len, len);
    }
    const int64_t scratch_floats = std::min(kMaxQBlock, f32_len) * std::min(kKeyBlock, f32_len);
    for (int t = 0; t < n_workers; ++t) workers_[t].scores.reserve(sizeof(float) * scratch_floats);

    const auto* base = static_cast<const float*>(qkv.data);
    auto* dst = static_cast<float*>(out.data);
#pragma omp parallel num_threads(n_workers)
    {
        // dnnl_sgemm threads itself unless omp_in_parallel(), which is false in a team of one; its AVX2 kernels
        // then split the reduction by thread count. One thread per sgemm keeps every item's sums in one order.
        // The BF16 GEMMs' primitives are made here too, for one thread.
        omp_set_num_threads(1);
        AttentionWorker& w = workers_[omp_get_thread_num()];
        if (bf16_engine_ && !w.gemms) w.gemms = std::make_unique<Bf16AttentionGemms>(*bf16_engine_);
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
            if (w.gemms && len >= kBf16AttentionMinLength) {
                attend_block_bf16(q, k, v, ld, rows, len, head_dim, scale, o, hidden, w);
            } else {
                attend_block(q, k, v, ld, rows, len, head_dim, scale, o, hidden, static_cast<float*>(w.scores.data()));
            }
        }
    }
}

}  // namespace bge::cpu
