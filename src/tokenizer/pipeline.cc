#include "tokenizer/pipeline.h"

#include <algorithm>

#include "tokenizer/utf8.h"
#include "tokenizer/word_chars.h"

namespace bge {
namespace {

bool white_space_at(const std::string& s, size_t pos, size_t* n) {
    return is_white_space(decode_utf8(s, pos, n));
}

void strip(bool left, bool right, NormalizedText* text) {
    const std::string& s = text->text();
    size_t begin = 0, end = s.size();
    size_t n = 0;
    if (left) {
        while (begin < end && white_space_at(s, begin, &n)) begin += n;
    }
    if (right) {
        while (end > begin) {
            size_t start = end - 1;
            while (start > begin && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80) --start;
            if (!white_space_at(s, start, &n)) break;
            end = start;
        }
    }
    if (begin != 0 || end != s.size()) *text = text->slice(begin, end);
}

std::vector<NormalizedText::Match> literal_matches(const std::string& text, const std::string& pattern) {
    std::vector<NormalizedText::Match> matches;
    if (pattern.empty()) return matches;
    for (size_t pos = text.find(pattern); pos != std::string::npos; pos = text.find(pattern, pos + pattern.size())) {
        matches.push_back({pos, pos + pattern.size()});
    }
    return matches;
}

void replace(const NormalizerStep& step, NormalizedText* text) {
    std::vector<NormalizedText::Match> matches;
    if (step.regex) {
        for (const Regex::Match& m : step.regex->find_all(text->text())) matches.push_back({m.begin, m.end});
    } else {
        matches = literal_matches(text->text(), step.pattern);
    }
    if (!matches.empty()) *text = text->replaced(matches, step.content);
}

// Appends the non-empty text()[begin, end) of `piece` to `out` (a slice starts where its first byte came from).
void push_slice(const Piece& piece, size_t begin, size_t end, std::vector<Piece>* out) {
    if (begin >= end) return;
    const uint32_t input_start = piece.text.spans()[begin].start;
    if (begin == 0 && end == piece.text.size()) {
        out->push_back({piece.text, input_start});
    } else {
        out->push_back({piece.text.slice(begin, end), input_start});
    }
}

void metaspace(const PreTokenizerStep& step, Piece piece, std::vector<Piece>* out) {
    NormalizedText& t = piece.text;
    if (t.text().find(' ') != std::string::npos) t = t.replaced(literal_matches(t.text(), " "), step.replacement);
    const bool prepend = step.prepend == PreTokenizerStep::Prepend::kAlways ||
                         (step.prepend == PreTokenizerStep::Prepend::kFirst && piece.input_start == 0);
    if (prepend && !t.text().starts_with(step.replacement)) t.prepend(step.replacement);
    if (!step.split) {
        if (!t.empty()) out->push_back(std::move(piece));
        return;
    }
    // MergedWithNext: every replacement character starts a new piece.
    const std::string& s = t.text();
    size_t start = 0;
    for (size_t pos = s.find(step.replacement, 1); pos != std::string::npos;
         pos = s.find(step.replacement, pos + step.replacement.size())) {
        push_slice(piece, start, pos, out);
        start = pos;
    }
    push_slice(piece, start, s.size(), out);
}

void whitespace_split(const Piece& piece, std::vector<Piece>* out) {
    const std::string& s = piece.text.text();
    size_t word = 0;
    for (size_t pos = 0; pos < s.size();) {
        size_t n = 0;
        if (white_space_at(s, pos, &n)) {
            push_slice(piece, word, pos, out);
            word = pos + n;
        }
        pos += n;
    }
    push_slice(piece, word, s.size(), out);
}

// The matches of \w+|[^\w\s]+: runs of word characters and runs of other non-whitespace characters.
void whitespace(const Piece& piece, std::vector<Piece>* out) {
    const std::string& s = piece.text.text();
    size_t run = 0;
    int run_kind = 0;  // 0 whitespace, 1 word, 2 other
    for (size_t pos = 0; pos < s.size();) {
        size_t n = 0;
        const char32_t c = decode_utf8(s, pos, &n);
        const int kind = is_white_space(c) ? 0 : is_word_char(c) ? 1 : 2;
        if (kind != run_kind) {
            if (run_kind != 0) push_slice(piece, run, pos, out);
            run = pos;
            run_kind = kind;
        }
        pos += n;
    }
    if (run_kind != 0) push_slice(piece, run, s.size(), out);
}

std::string quoted(const std::string& s) {
    return "'" + s + "'";
}

}  // namespace

void normalize(const std::vector<NormalizerStep>& steps, NormalizedText* text) {
    for (const NormalizerStep& step : steps) {
        switch (step.kind) {
            case NormalizerStep::Kind::kPrecompiled: {
                std::string chars;
                std::vector<int32_t> changes;
                chars.reserve(text->size());
                changes.reserve(text->size());
                step.charsmap->normalize(text->text(), &chars, &changes);
                // No rule changed anything: the spans stay as they are.
                const bool unchanged = chars == text->text() &&
                                       std::all_of(changes.begin(), changes.end(), [](int32_t c) { return c == 0; });
                if (!unchanged) *text = transform(*text, chars, changes, 0);
                break;
            }
            case NormalizerStep::Kind::kReplace:
                replace(step, text);
                break;
            case NormalizerStep::Kind::kStrip:
                strip(step.strip_left, step.strip_right, text);
                break;
        }
    }
}

void pre_tokenize(const std::vector<PreTokenizerStep>& steps, std::vector<Piece>* pieces) {
    for (const PreTokenizerStep& step : steps) {
        std::vector<Piece> next;
        next.reserve(pieces->size());
        for (Piece& piece : *pieces) {
            switch (step.kind) {
                case PreTokenizerStep::Kind::kMetaspace:
                    metaspace(step, std::move(piece), &next);
                    break;
                case PreTokenizerStep::Kind::kWhitespaceSplit:
                    whitespace_split(piece, &next);
                    break;
                case PreTokenizerStep::Kind::kWhitespace:
                    whitespace(piece, &next);
                    break;
            }
        }
        *pieces = std::move(next);
    }
}

std::string describe(const std::vector<NormalizerStep>& steps) {
    std::string out = "Sequence[";
    for (size_t i = 0; i < steps.size(); ++i) {
        const NormalizerStep& s = steps[i];
        if (i > 0) out += ", ";
        switch (s.kind) {
            case NormalizerStep::Kind::kPrecompiled:
                out += "Precompiled";
                break;
            case NormalizerStep::Kind::kReplace:
                out += std::string("Replace(") + (s.regex ? "regex " : "") + quoted(s.pattern) + " -> " +
                       quoted(s.content) + ")";
                break;
            case NormalizerStep::Kind::kStrip:
                out += std::string("Strip(") + (s.strip_left ? "left" : "") +
                       (s.strip_left && s.strip_right ? "+" : "") + (s.strip_right ? "right" : "") + ")";
                break;
        }
    }
    return out + "]";
}

std::string describe(const std::vector<PreTokenizerStep>& steps) {
    std::string out = "Sequence[";
    for (size_t i = 0; i < steps.size(); ++i) {
        const PreTokenizerStep& s = steps[i];
        if (i > 0) out += ", ";
        switch (s.kind) {
            case PreTokenizerStep::Kind::kMetaspace: {
                static const char* kPrepend[] = {"always", "first", "never"};
                out += "Metaspace(" + quoted(s.replacement) + ", prepend " + kPrepend[static_cast<int>(s.prepend)] +
                       (s.split ? ", split" : ", no split") + ")";
                break;
            }
            case PreTokenizerStep::Kind::kWhitespaceSplit:
                out += "WhitespaceSplit";
                break;
            case PreTokenizerStep::Kind::kWhitespace:
                out += "Whitespace";
                break;
        }
    }
    return out + "]";
}

}  // namespace bge
