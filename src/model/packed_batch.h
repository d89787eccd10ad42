// A batch of token sequences packed back to back, no padding (DESIGN.md, "Data layout").
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace bge {

struct PackedBatch {
    std::vector<int32_t> input_ids{};    // [n_tokens]
    std::vector<int32_t> cu_seqlens{0};  // [n_seqs + 1] offsets into input_ids

    int32_t n_tokens() const { return cu_seqlens.back(); }
    int32_t n_seqs() const { return static_cast<int32_t>(cu_seqlens.size()) - 1; }
    int32_t seq_begin(int32_t s) const { return cu_seqlens[s]; }
    int32_t seq_length(int32_t s) const { return cu_seqlens[s + 1] - cu_seqlens[s]; }

    void add(std::span<const int32_t> ids) {
        input_ids.insert(input_ids.end(), ids.begin(), ids.end());
        cu_seqlens.push_back(static_cast<int32_t>(input_ids.size()));
    }
};

}  // namespace bge
