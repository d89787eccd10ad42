// The steps of a Hugging Face tokenizer pipeline that XLM-R-family tokenizer.json files declare, as data, and
// the functions that run them on NormalizedText (see tokenizers' normalizers/ and pre_tokenizers/).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/normalized_text.h"
#include "tokenizer/precompiled_charsmap.h"
#include "tokenizer/regex.h"

namespace bge {

struct NormalizerStep {
    enum class Kind { kPrecompiled, kReplace, kStrip };
    Kind kind = Kind::kPrecompiled;
    std::shared_ptr<const PrecompiledCharsmap> charsmap;  // kPrecompiled
    std::string pattern;                                  // kReplace: the literal or the regex source
    std::optional<Regex> regex;                           // kReplace with a Regex pattern
    std::string content;                                  // kReplace
    bool strip_left = false, strip_right = false;         // kStrip
};

struct PreTokenizerStep {
    enum class Kind { kMetaspace, kWhitespaceSplit, kWhitespace };
    enum class Prepend { kAlways, kFirst, kNever };
    Kind kind = Kind::kMetaspace;
    std::string replacement = "\xE2\x96\x81";  // kMetaspace: "▁"
    Prepend prepend = Prepend::kAlways;
    bool split = true;
};

// A piece of the input on its way to the model; `input_start` is tokenizers' offsets_original().0.
struct Piece {
    NormalizedText text;
    uint32_t input_start = 0;
};

// Runs `steps` in order on `text`.
void normalize(const std::vector<NormalizerStep>& steps, NormalizedText* text);

// Runs `steps` in order on `pieces` (each step on every piece; empty pieces are dropped).
void pre_tokenize(const std::vector<PreTokenizerStep>& steps, std::vector<Piece>* pieces);

// "Sequence[Precompiled, Replace(' {2,}' -> ' ')]" and the like, for `bge info`.
std::string describe(const std::vector<NormalizerStep>& steps);
std::string describe(const std::vector<PreTokenizerStep>& steps);

}  // namespace bge
