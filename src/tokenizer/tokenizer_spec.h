// Everything a tokenizer pipeline needs, whether read from tokenizer.json or rebuilt from sentencepiece.bpe.model.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/decoder.h"
#include "tokenizer/pipeline.h"

namespace bge {

// One entry of a post-processor template: a sequence (0 = A, 1 = B) or a special token.
struct TemplateItem {
    int sequence = -1;  // -1: a special token
    int32_t id = -1;
};

struct TokenizerSpec {
    std::vector<AddedToken> added_tokens;
    std::vector<NormalizerStep> normalizers;
    std::vector<PreTokenizerStep> pre_tokenizers;
    // The Unigram vocabulary: piece i is pieces[piece_offsets[i], piece_offsets[i + 1]), scoring scores[i].
    std::string pieces;
    std::vector<uint32_t> piece_offsets = {0};
    std::vector<double> scores;
    int32_t unk_id = 0;
    std::vector<TemplateItem> single, pair;  // post-processor templates
    std::string post_processor = "none";     // its name, for describe()
    // RobertaProcessing's trim_offsets and add_prefix_space: offsets lose the whitespace at their token's ends.
    bool trim_offsets = false;
    bool trim_keeps_first = false;
    DecoderSpec decoder;  // ids -> text (/decode); the default is XLMRobertaConverter's Metaspace

    size_t n_pieces() const { return scores.size(); }
    std::string_view piece(size_t i) const {
        return std::string_view(pieces).substr(piece_offsets[i], piece_offsets[i + 1] - piece_offsets[i]);
    }
    void add_piece(std::string_view piece, double score) {
        pieces.append(piece);
        piece_offsets.push_back(static_cast<uint32_t>(pieces.size()));
        scores.push_back(score);
    }
};

}  // namespace bge
