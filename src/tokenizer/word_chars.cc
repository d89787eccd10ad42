#include "tokenizer/word_chars.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

namespace bge {
namespace {

constexpr uint32_t kRangeStarts[] = {
#include "tokenizer/word_table.inc"
};

}  // namespace

bool is_word_char(char32_t c) {
    // The number of range starts at or below c: odd inside a word range.
    const auto n = std::upper_bound(std::begin(kRangeStarts), std::end(kRangeStarts), static_cast<uint32_t>(c)) -
                   std::begin(kRangeStarts);
    return n % 2 == 1;
}

}  // namespace bge
