// Regular expressions of tokenizer.json (Replace normalizers) over PCRE2 in UTF
// and Unicode-property mode, the nearest to the Rust `regex` crate that tokenizers uses.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bge/status.h"

namespace bge {

class Regex {
 public:
    // kInvalidArgument with PCRE2's message and the offset in `pattern`.
    static StatusOr<Regex> compile(const std::string& pattern);

    struct Match {
        size_t begin, end;
    };
    // Non-overlapping, non-empty matches in valid UTF-8 `text`, left to right. Thread-safe.
    std::vector<Match> find_all(std::string_view text) const;

 private:
    struct Code;
    std::shared_ptr<const Code> code_;
};

}  // namespace bge
