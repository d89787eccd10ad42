// Text under normalization that remembers, for each of its bytes, which bytes of the original input it came
// from (Hugging Face tokenizers' NormalizedString alignments), so tokens map back to input byte offsets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bge {

// Byte range [start, end) of the original input.
struct Span {
    uint32_t start = 0;
    uint32_t end = 0;
    bool operator==(const Span&) const = default;
};

class NormalizedText {
 public:
    NormalizedText() = default;
    // Valid UTF-8 `text` found at byte `offset` of the input: each byte spans its own character.
    NormalizedText(std::string_view text, uint32_t offset);

    const std::string& text() const { return text_; }
    // Span of text()[i]; all bytes of one character share one span.
    const std::vector<Span>& spans() const { return spans_; }
    bool empty() const { return text_.empty(); }
    size_t size() const { return text_.size(); }

    // Input span of text()[begin, end): from the first byte's start to the last byte's end (empty range: {0, 0}).
    Span input_span(size_t begin, size_t end) const;

    // Appends the character `ch` (its UTF-8 bytes) spanning `span`.
    void append(std::string_view ch, Span span);
    // Appends text()[begin, end) of `other` with its spans.
    void append_range(const NormalizedText& other, size_t begin, size_t end);
    // text()[begin, end) as a new NormalizedText.
    NormalizedText slice(size_t begin, size_t end) const;

    // A copy with every match [begin, end) (non-empty, sorted, disjoint) replaced by `content`, each byte of which
    // spans what the match's last byte did (tokenizers' NormalizedString::replace); Replace and Metaspace use it.
    struct Match {
        size_t begin, end;
    };
    NormalizedText replaced(const std::vector<Match>& matches, std::string_view content) const;

    // "▁"-style prefix: `prefix` spans what the first character does (NormalizedString::prepend). No-op when empty.
    void prepend(std::string_view prefix);

 private:
    std::string text_;
    std::vector<Span> spans_;
};

// tokenizers' NormalizedString::transform: rebuilds `source` from `chars` (UTF-8, one entry per character in
// `changes`). A change of 0 replaces the next source character (taking its span), a positive change inserts a
// character spanning the previous source byte, and a negative change -n also drops the n source characters
// after the replaced one. `initial_skip` source characters are dropped first.
NormalizedText transform(const NormalizedText& source, std::string_view chars, const std::vector<int32_t>& changes,
                         size_t initial_skip);

}  // namespace bge
