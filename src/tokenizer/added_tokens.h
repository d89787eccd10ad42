// Added tokens (tokenizer.json "added_tokens"; <s>, </s>, <mask> ...) found in text before the model runs, as
// tokenizers' AddedVocabulary finds them: leftmost-longest, then single_word, lstrip and rstrip applied.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bge {

struct AddedToken {
    std::string content;
    int32_t id = 0;
    bool single_word = false;
    bool lstrip = false;
    bool rstrip = false;
    bool normalized = false;  // matched in the normalized text rather than the raw input
    bool special = false;
};

class AddedTokenMatcher {
 public:
    AddedTokenMatcher() = default;
    // The tokens of one kind (all raw or all normalized).
    explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

    struct Split {
        size_t begin, end;
        int32_t id;  // -1: text to tokenize
    };
    // The split of `text` that starts at `from` (< text.size()): an added token, or the text up to the next one.
    // Walking from 0 to the end, split after split, gives tokenizers' split_with_indices.
    Split next_split(std::string_view text, size_t from) const;
    // All splits of `text`, in order.
    std::vector<Split> split(std::string_view text) const;
    bool empty() const { return tokens_.empty(); }

 private:
    // Index of the longest token at text[pos], or -1.
    int match_at(std::string_view text, size_t pos) const;
    bool is_word_char_before(std::string_view text, size_t pos) const;
    bool is_word_char_at(std::string_view text, size_t pos) const;

    std::vector<AddedToken> tokens_;  // longest first
    std::vector<bool> first_bytes_ = std::vector<bool>(256);
    std::string first_byte_list_;  // the bytes set in first_bytes_
};

}  // namespace bge
