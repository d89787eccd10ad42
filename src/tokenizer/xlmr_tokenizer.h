// XLM-RoBERTa-family tokenization, id for id (and offset for offset) equal to Hugging Face tokenizers running the
// same pipeline: the one a tokenizer.json declares (tokenizer_json.h), or, from a bare sentencepiece.bpe.model,
// the one today's XLMRobertaConverter builds (see DESIGN.md, "The reference").
// Checked against tests/tokenizer/data/reference.jsonl and tests/golden/tokenizer_variants/.
// Thread-safe: a loaded tokenizer is immutable and every method is const.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bge/status.h"
#include "tokenizer/normalized_text.h"

namespace bge {

struct TokenizerSpec;

// Ids and, per id, the byte range of the input it came from ({0, 0} for tokens the template adds). In a pair,
// the ranges of the second sequence index the second text; `sequence` says which (0, 1; -1 for template tokens).
struct Encoding {
    std::vector<int32_t> ids;
    std::vector<Span> offsets;
    std::vector<int8_t> sequence;
    // Internal, for RobertaProcessing's trim_offsets: whitespace characters at the start and end of each token's
    // string (its normalized text; an added token's matched text).
    std::vector<std::pair<uint16_t, uint16_t>> space_ends;
};

class XlmrTokenizer {
 public:
    // fairseq's special ids, which every XLM-R vocabulary keeps (and the sparse head drops).
    static constexpr int32_t kBos = 0;  // <s>, also CLS
    static constexpr int32_t kPad = 1;  // <pad>
    static constexpr int32_t kEos = 2;  // </s>, also SEP
    static constexpr int32_t kUnk = 3;  // <unk>

    // Loads a SentencePiece Unigram model file laid out as XLM-R's (<unk>, <s>, </s> at ids 0, 1, 2). A missing
    // file is kNotFound, a file that is not a SentencePiece model kInvalidArgument, both naming the path.
    static StatusOr<std::unique_ptr<XlmrTokenizer>> load(const std::string& spm_path);
    // Loads a tokenizer.json; when `spm_path` is not empty, its pieces must be the file's vocabulary (fairseq
    // order: <s> <pad> </s> <unk>, then SentencePiece pieces 3.. shifted by one). Errors name the file and field.
    static StatusOr<std::unique_ptr<XlmrTokenizer>> load_json(const std::string& json_path,
                                                              const std::string& spm_path = {});
    ~XlmrTokenizer();

    // Ids of `text` without template tokens. Invalid UTF-8 is kInvalidArgument (with the byte offset).
    StatusOr<std::vector<int32_t>> encode(std::string_view text) const;

    // The single template (`<s> A </s>`), keeping the head of A so that the result has at most `max_length` ids;
    // a max_length below the template's own tokens is kInvalidArgument. Stops tokenizing once the kept ids are
    // known, so a long text costs what its head does.
    // keep_tail (truncation side "left", TEI's truncation_direction): the last ids of A are kept instead; the whole
    // text is tokenized then, holding about `max_length` ids plus one chunk's.
    StatusOr<std::vector<int32_t>> encode_single(std::string_view text, int max_length, bool keep_tail = false) const;
    StatusOr<Encoding> encode_single_with_offsets(std::string_view text, int max_length) const;

    // The pair template (`<s> A </s> </s> B </s>`), truncated `longest_first` exactly as tokenizers does it to at
    // most `max_length` ids. An empty B still gives the pair form, as batch calls tok([a], [b]) do.
    // keep_tail: the same number of ids is kept of each text, its last ones (truncation side "left").
    StatusOr<std::vector<int32_t>> encode_pair(std::string_view a, std::string_view b, int max_length,
                                               bool keep_tail = false) const;
    StatusOr<Encoding> encode_pair_with_offsets(std::string_view a, std::string_view b, int max_length) const;

    // The text of `ids` as tokenizers' decode gives it, through the file's decoder (XLMRobertaConverter's Metaspace
    // for a .model): pieces joined, "▁" -> " ", the first token's dropped; special added tokens left out when
    // skip_special_tokens. An id with no token (outside the vocabulary and the added tokens) is kInvalidArgument
    // naming it and its position; a decoder we do not run is kUnimplemented.
    StatusOr<std::string> decode(std::span<const int32_t> ids, bool skip_special_tokens) const;

    // Ids the tokenizer can produce: the vocabulary and the added tokens; the model's vocab_size must be at least
    // this.
    int32_t vocab_size() const;
    // Template tokens of a single text and of a pair (2 and 4 for XLM-R).
    int n_special_single() const;
    int n_special_pair() const;
    // "tokenizer.json: normalizer Sequence[...], pre_tokenizer ..., model Unigram (250002 pieces), ..." for info.
    const std::string& description() const;

    struct Impl;  // defined in xlmr_tokenizer.cc

 private:
    XlmrTokenizer();
    static StatusOr<std::unique_ptr<XlmrTokenizer>> build(TokenizerSpec spec, std::string description);
    StatusOr<Encoding> encode_pair_impl(std::string_view a, std::string_view b, int max_length, bool offsets,
                                        bool keep_tail) const;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bge
