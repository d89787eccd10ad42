#include "tokenizer/utf8.h"

#include <algorithm>

namespace bge {
namespace {

bool is_continuation(uint8_t b) {
    return (b & 0xC0) == 0x80;
}

// Length of the well-formed sequence at text[pos] (Unicode Table 3-7), or 0 with *why set.
size_t well_formed_length(std::string_view text, size_t pos, const char** why) {
    const auto b0 = static_cast<uint8_t>(text[pos]);
    if (b0 < 0x80) return 1;
    if (is_continuation(b0)) {
        *why = "continuation byte without a lead byte";
        return 0;
    }
    if (b0 < 0xC2) {
        *why = "overlong two-byte sequence";
        return 0;
    }
    if (b0 > 0xF4) {
        *why = "byte that never occurs in UTF-8";
        return 0;
    }
    const size_t n = utf8_sequence_length(b0);
    if (pos + n > text.size()) {
        *why = "sequence cut short by the end of the text";
        return 0;
    }
    // The second byte's range depends on the lead byte; it excludes overlongs, surrogates and > U+10FFFF.
    const auto b1 = static_cast<uint8_t>(text[pos + 1]);
    uint8_t lo = 0x80;
    uint8_t hi = 0xBF;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
    if (b1 < lo || b1 > hi) {
        if (!is_continuation(b1)) {
            *why = "sequence cut short by a byte that is not a continuation byte";
        } else if (b0 == 0xED) {
            *why = "UTF-16 surrogate";
        } else if (b0 == 0xF4) {
            *why = "code point above U+10FFFF";
        } else {
            *why = "overlong sequence";
        }
        return 0;
    }
    for (size_t i = 2; i < n; ++i) {
        if (!is_continuation(static_cast<uint8_t>(text[pos + i]))) {
            *why = "sequence cut short by a byte that is not a continuation byte";
            return 0;
        }
    }
    return n;
}

}  // namespace

Status validate_utf8(std::string_view text) {
    size_t pos = 0;
    while (pos < text.size()) {
        // Fast path over ASCII.
        if (static_cast<uint8_t>(text[pos]) < 0x80) {
            ++pos;
            continue;
        }
        const char* why = "";
        const size_t n = well_formed_length(text, pos, &why);
        if (n == 0) return invalid_argument("invalid UTF-8 at byte offset " + std::to_string(pos) + ": " + why);
        pos += n;
    }
    return ok_status();
}

char32_t decode_utf8(std::string_view text, size_t pos, size_t* length) {
    const auto b0 = static_cast<uint8_t>(text[pos]);
    const size_t n = std::min(utf8_sequence_length(b0), text.size() - pos);
    *length = n;
    if (n == 1) return b0;
    static constexpr uint8_t kLeadMask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    char32_t cp = b0 & kLeadMask[n];
    for (size_t i = 1; i < n; ++i) cp = (cp << 6) | (static_cast<uint8_t>(text[pos + i]) & 0x3F);
    return cp;
}

}  // namespace bge
