// XLM-RoBERTa tokenization over libsentencepiece, id for id equal to Hugging Face's
// XLMRobertaTokenizerFast built from the same SentencePiece model (see DESIGN.md, "The reference").
// Checked against tests/tokenizer/data/reference.jsonl (tools/make_tokenizer_reference.py).
// Thread-safe: a loaded tokenizer is immutable and every method is const.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bge/status.h"

namespace bge {

class XlmrTokenizer {
 public:
    static constexpr int32_t kBos = 0;  // <s>, also CLS
    static constexpr int32_t kPad = 1;  // <pad>
    static constexpr int32_t kEos = 2;  // </s>, also SEP
    static constexpr int32_t kUnk = 3;  // <unk>

    // Loads a SentencePiece Unigram model file laid out as XLM-R's (<unk>, <s>, </s> at ids 0, 1, 2). A missing
    // file is kNotFound, a file that is not a SentencePiece model kInvalidArgument, both naming the path.
    static StatusOr<std::unique_ptr<XlmrTokenizer>> load(const std::string& spm_path);
    ~XlmrTokenizer();

    // Ids of `text` without added <s>/</s>. Invalid UTF-8 is kInvalidArgument (with the byte offset).
    // As in Hugging Face, "<s>", "<pad>", "</s>", "<unk>" and "<mask>" written in the text map to their ids.
    StatusOr<std::vector<int32_t>> encode(std::string_view text) const;

    // `<s> A </s>`, keeping the head of A so that the result has at most `max_length` ids; max_length < 2 is
    // kInvalidArgument.
    StatusOr<std::vector<int32_t>> encode_single(std::string_view text, int max_length) const;

    // `<s> A </s> </s> B </s>`, truncated `longest_first` (exactly as Hugging Face tokenizers does it) to at
    // most `max_length` ids; max_length < 4 is kInvalidArgument. An empty B still gives the pair form, as batch
    // calls tok([a], [b]) do (a single call tok(a, "") drops the pair).
    StatusOr<std::vector<int32_t>> encode_pair(std::string_view a, std::string_view b, int max_length) const;

    // Number of ids the model knows: SentencePiece pieces + 2 (fairseq shift, <mask> last); the
    // model's vocab_size must be at least this.
    int32_t vocab_size() const;

 private:
    XlmrTokenizer();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bge
