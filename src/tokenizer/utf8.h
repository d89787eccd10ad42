// UTF-8 validation and decoding for the tokenizer (input must be valid UTF-8 before anything else runs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bge/status.h"

namespace bge {

// kInvalidArgument naming the byte offset of the first malformed sequence (lone continuation byte, overlong
// form, surrogate, code point above U+10FFFF, or a sequence cut short).
Status validate_utf8(std::string_view text);

// Length of the sequence a lead byte starts; 1 for bytes that cannot start one, so that a walk over
// malformed bytes still advances.
inline size_t utf8_sequence_length(uint8_t lead) {
    if (lead < 0xC0) return 1;
    if (lead < 0xE0) return 2;
    if (lead < 0xF0) return 3;
    return lead < 0xF8 ? 4 : 1;
}

// Number of characters in valid UTF-8 `text`.
inline size_t utf8_length(std::string_view text) {
    size_t n = 0;
    for (const char c : text) n += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
    return n;
}

// Rust's char::is_whitespace (Unicode White_Space), which tokenizers' Strip, WhitespaceSplit and added-token
// lstrip/rstrip use.
inline bool is_white_space(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Code point of the sequence at text[pos] in validated text; sets *length to its byte count.
char32_t decode_utf8(std::string_view text, size_t pos, size_t* length);

}  // namespace bge
