// Unigram segmentation of one pre-tokenized word, as Hugging Face's `Unigram` model does it (Viterbi over the
// pieces found by a prefix trie, scores summed in double, runs of unknown characters fused into one token).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bge {

class UnigramModel {
 public:
    // pieces[id] scores scores[id]; characters no piece covers become `unk_id`, scored min(scores) - 10.
    UnigramModel(const std::vector<std::string_view>& pieces, std::vector<double> scores, int32_t unk_id);

    // Appends the ids of `word` (Hugging Face's `encode_optimized`, with its tie-breaking) and, when `ends` is
    // given, the byte offset in `word` where each token ends.
    void encode(std::string_view word, std::vector<int32_t>* ids, std::vector<uint32_t>* ends = nullptr) const;
    int32_t size() const { return static_cast<int32_t>(scores_.size()); }
    // Id of the piece equal to `text` (the largest among equal pieces), or -1.
    int32_t find(std::string_view text) const;

 private:
    // Calls on_match(length, id) for every piece that is a prefix of `text`, shortest first.
    template <typename OnMatch>
    void for_each_prefix_piece(std::string_view text, OnMatch on_match) const;

    // A trie in breadth-first order: the children of node n are nodes [first_child_[n], first_child_[n + 1]),
    // sorted by the byte on their incoming edge (label_).
    std::vector<uint32_t> first_child_;
    std::vector<uint8_t> label_;
    std::vector<int32_t> piece_id_;  // id of the piece ending at the node, or -1
    std::vector<double> scores_;
    int32_t unk_id_;
    double unk_score_;
};

}  // namespace bge
