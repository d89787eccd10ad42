#include "tokenizer/normalized_text.h"

#include "tokenizer/utf8.h"

namespace bge {

NormalizedText::NormalizedText(std::string_view text, uint32_t offset) : text_(text) {
    spans_.resize(text.size());
    for (size_t i = 0; i < text.size();) {
        const size_t n = std::min(utf8_sequence_length(static_cast<uint8_t>(text[i])), text.size() - i);
        const Span span{offset + static_cast<uint32_t>(i), offset + static_cast<uint32_t>(i + n)};
        for (size_t k = 0; k < n; ++k) spans_[i + k] = span;
        i += n;
    }
}

Span NormalizedText::input_span(size_t begin, size_t end) const {
    if (begin >= end) return {};
    return {spans_[begin].start, spans_[end - 1].end};
}

void NormalizedText::append(std::string_view ch, Span span) {
    text_.append(ch);
    spans_.insert(spans_.end(), ch.size(), span);
}

void NormalizedText::append_range(const NormalizedText& other, size_t begin, size_t end) {
    text_.append(other.text_, begin, end - begin);
    spans_.insert(spans_.end(), other.spans_.begin() + static_cast<ptrdiff_t>(begin),
                  other.spans_.begin() + static_cast<ptrdiff_t>(end));
}

NormalizedText NormalizedText::slice(size_t begin, size_t end) const {
    NormalizedText out;
    out.append_range(*this, begin, end);
    return out;
}

NormalizedText NormalizedText::replaced(const std::vector<Match>& matches, std::string_view content) const {
    NormalizedText out;
    out.text_.reserve(text_.size());
    out.spans_.reserve(spans_.size());
    size_t last = 0;
    for (const Match& m : matches) {
        out.append_range(*this, last, m.begin);
        if (!content.empty()) out.append(content, spans_[m.end - 1]);
        last = m.end;
    }
    out.append_range(*this, last, text_.size());
    return out;
}

void NormalizedText::prepend(std::string_view prefix) {
    if (text_.empty()) return;
    text_.insert(0, prefix);
    spans_.insert(spans_.begin(), prefix.size(), spans_.front());
}

NormalizedText transform(const NormalizedText& source, std::string_view chars, const std::vector<int32_t>& changes,
                         size_t initial_skip) {
    const std::string& src = source.text();
    auto next_char = [&](size_t pos) {
        return pos + std::min(utf8_sequence_length(static_cast<uint8_t>(src[pos])), src.size() - pos);
    };
    size_t offset = 0;  // next source byte
    for (size_t k = 0; k < initial_skip && offset < src.size(); ++k) offset = next_char(offset);
    NormalizedText out;
    size_t ci = 0;
    for (const int32_t change : changes) {
        const size_t n = std::min(utf8_sequence_length(static_cast<uint8_t>(chars[ci])), chars.size() - ci);
        const std::string_view ch = chars.substr(ci, n);
        ci += n;
        Span span;
        if (change > 0) {
            if (offset > 0) span = source.spans()[offset - 1];
        } else if (offset < src.size()) {
            span = source.spans()[offset];
            offset = next_char(offset);
            for (int32_t k = 0; k < -change && offset < src.size(); ++k) offset = next_char(offset);
        } else if (offset > 0) {
            span = source.spans()[offset - 1];
        }
        out.append(ch, span);
    }
    return out;
}

}  // namespace bge
