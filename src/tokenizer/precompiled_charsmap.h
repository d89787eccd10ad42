// SentencePiece's precompiled normalization rules (a darts-clone double-array trie over UTF-8 keys and a pool
// of NUL-terminated replacements), applied the way Hugging Face's `Precompiled` normalizer applies them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bge/status.h"

namespace bge {

class PrecompiledCharsmap {
 public:
    // Parses normalizer_spec.precompiled_charsmap: u32 trie byte size (little endian), the trie units, then the
    // replacement pool. kDataLoss when the sizes do not add up or the pool is not UTF-8.
    static StatusOr<PrecompiledCharsmap> parse(std::string_view blob);

    // Appends the normalized form of valid UTF-8 `text` to `out`. Unlike libsentencepiece (longest rule at each
    // position), Hugging Face walks grapheme clusters: a cluster shorter than 6 bytes is replaced whole by the
    // replacement of the SHORTEST rule matching its prefix; other clusters, and clusters no rule prefixes, are
    // replaced character by character. When `changes` is given, it receives one entry per appended character in the
    // form of normalized_text.h's transform(), as Hugging Face's `replace` helper computes them.
    void normalize(std::string_view text, std::string* out, std::vector<int32_t>* changes = nullptr) const;

 private:
    PrecompiledCharsmap() = default;

    // Replacement of the shortest rule that is a prefix of `key` (the trie walk stops at a NUL byte).
    std::optional<std::string_view> first_prefix_rule(std::string_view key) const;

    std::vector<uint32_t> units_;  // double-array units
    std::string pool_;             // NUL-terminated replacements, indexed by leaf values
};

}  // namespace bge
