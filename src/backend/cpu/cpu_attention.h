// Packed varlen multi-head self-attention on the CPU.
#pragma once

#include <cstdint>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_attention_gemm.h"
#include "backend/cpu/cpu_memory.h"

namespace bge::cpu {

// Below this many tokens a sequence's attention runs F32 also where BF16 is on: on the AMX host (bge_cpu_ops_bench, 16
// threads, 4 runs) f32 items are 3-12% faster at 128 tokens, bf16 ones 1.0-1.26x faster at 256 and 1.4-2.2x at 512.
inline constexpr int64_t kBf16AttentionMinLength = 192;

// One thread's scratch of AttentionRunner, reused across calls.
struct AttentionWorker {
    ScratchBuffer scores;                       // F32 [rows, key chunk]
    ScratchBuffer q, k, v;                      // BF16 [rows, d], [len, d], [len, d]
    ScratchBuffer probs, sums;                  // BF16 [rows, key chunk], F32 [rows, d]
    std::unique_ptr<Bf16AttentionGemms> gemms;  // BF16 only
};

// Work is split into (sequence, head, query block) items spread over OpenMP threads. Each item
// walks the keys in chunks: a GEMM gives a [q_block, chunk] score tile, a max-subtracted exp turns
// it into probabilities (online softmax across chunks), a second GEMM accumulates them times V.
// Scratch is one score tile per thread, reused: memory is bounded for any length.
// F32: both GEMMs on dnnl_sgemm over qkv's own rows. BF16 (given an engine whose CPU has a bf16 matmul, see
// bf16_attention_kernel): an item's Q, K and V are rounded to bf16 and its probabilities too, the GEMMs run on
// oneDNN's bf16 matmul with f32 sums; the softmax statistics and the accumulation stay f32. Sequences shorter than
// kBf16AttentionMinLength run F32 even then.
// A sequence's result depends on its own length only, not on the batch or the thread count.
// Not thread-safe (owns the scratch).
class AttentionRunner {
 public:
    // bf16_engine: the engine of the BF16 GEMMs, or none for F32.
    explicit AttentionRunner(std::optional<dnnl::engine> bf16_engine = std::nullopt)
        : bf16_engine_(std::move(bf16_engine)) {}
    // qkv F32 [n_tokens, 3 * hidden] (Q | K | V); out F32 [n_tokens, hidden].
    void run(const Tensor& qkv, std::span<const int32_t> cu_seqlens, int n_heads, const Tensor& out, int n_threads);

 private:
    std::optional<dnnl::engine> bf16_engine_;
    std::vector<int64_t> item_begin_;  // [n_seqs + 1] index of each sequence's first work item
    std::vector<AttentionWorker> workers_;
};

}  // namespace bge::cpu
