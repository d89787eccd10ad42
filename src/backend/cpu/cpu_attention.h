// Packed varlen multi-head self-attention on the CPU.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_memory.h"

namespace bge::cpu {

// Work is split into (sequence, head, query block) items spread over OpenMP threads. Each item
// walks the keys in chunks: a GEMM gives a [q_block, chunk] score tile, a max-subtracted exp turns
// it into probabilities (online softmax across chunks), a second GEMM accumulates them times V.
// Scratch is one score tile per thread, reused: memory is bounded for any length.
// Not thread-safe (owns the scratch).
class AttentionRunner {
 public:
    // qkv F32 [n_tokens, 3 * hidden] (Q | K | V); out F32 [n_tokens, hidden].
    void run(const Tensor& qkv, std::span<const int32_t> cu_seqlens, int n_heads, const Tensor& out, int n_threads);

 private:
    std::vector<int64_t> item_begin_;     // [n_seqs + 1] index of each sequence's first work item
    std::vector<ScratchBuffer> scratch_;  // per thread: F32 [q_block, key chunk] scores
};

}  // namespace bge::cpu
