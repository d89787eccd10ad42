#include "tokenizer/added_tokens.h"

#include <algorithm>
#include <cstring>

#include "tokenizer/utf8.h"
#include "tokenizer/word_chars.h"

namespace bge {
namespace {

size_t char_start_before(std::string_view text, size_t pos) {
    size_t start = pos - 1;
    while (start > 0 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
    return start;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) {
    // Leftmost-longest: at a position the longest token wins; among equal contents the first declared.
    std::stable_sort(tokens.begin(), tokens.end(),
                     [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
    for (AddedToken& t : tokens) {
        if (t.content.empty()) continue;
        if (!first_bytes_[static_cast<uint8_t>(t.content[0])]) first_byte_list_.push_back(t.content[0]);
        first_bytes_[static_cast<uint8_t>(t.content[0])] = true;
        tokens_.push_back(std::move(t));
    }
}

int AddedTokenMatcher::match_at(std::string_view text, size_t pos) const {
    if (!first_bytes_[static_cast<uint8_t>(text[pos])]) return -1;
    const std::string_view rest = text.substr(pos);
    for (size_t i = 0; i < tokens_.size(); ++i) {
        if (rest.starts_with(tokens_[i].content)) return static_cast<int>(i);
    }
    return -1;
}

bool AddedTokenMatcher::is_word_char_before(std::string_view text, size_t pos) const {
    if (pos == 0) return false;
    size_t n = 0;
    return is_word_char(decode_utf8(text, char_start_before(text, pos), &n));
}

bool AddedTokenMatcher::is_word_char_at(std::string_view text, size_t pos) const {
    if (pos >= text.size()) return false;
    size_t n = 0;
    return is_word_char(decode_utf8(text, pos, &n));
}

AddedTokenMatcher::Split AddedTokenMatcher::next_split(std::string_view text, size_t from) const {
    for (size_t pos = from; pos < text.size();) {
        if (first_byte_list_.size() == 1) {
            // One possible first byte (XLM-R's specials all start with '<'): memchr finds candidates fast.
            const void* hit = std::memchr(text.data() + pos, first_byte_list_[0], text.size() - pos);
            if (hit == nullptr) break;
            pos = static_cast<size_t>(static_cast<const char*>(hit) - text.data());
        }
        const int t = match_at(text, pos);
        if (t < 0) {
            ++pos;
            continue;
        }
        const AddedToken& token = tokens_[t];
        size_t begin = pos, end = pos + token.content.size();
        // A token that is not a word of its own is no match; the search goes on after it (aho-corasick's
        // non-overlapping iteration).
        if (token.single_word && (is_word_char_before(text, begin) || is_word_char_at(text, end))) {
            pos = end;
            continue;
        }
        size_t n = 0;
        if (token.lstrip) {
            while (begin > from) {
                const size_t start = char_start_before(text, begin);
                if (!is_white_space(decode_utf8(text, start, &n))) break;
                begin = start;
            }
        }
        if (begin > from) return {from, begin, -1};
        if (token.rstrip) {
            while (end < text.size() && is_white_space(decode_utf8(text, end, &n))) end += n;
        }
        return {begin, end, token.id};
    }
    return {from, text.size(), -1};
}

std::vector<AddedTokenMatcher::Split> AddedTokenMatcher::split(std::string_view text) const {
    std::vector<Split> splits;
    for (size_t pos = 0; pos < text.size();) {
        splits.push_back(next_split(text, pos));
        pos = splits.back().end;
    }
    return splits;
}

}  // namespace bge
