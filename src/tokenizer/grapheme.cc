#include "tokenizer/grapheme.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

#include "tokenizer/utf8.h"

namespace bge {
namespace {

// Grapheme_Cluster_Break values, in the order tools/make_grapheme_table.py packs them.
enum class Gcb : uint8_t {
    kOther,
    kCR,
    kLF,
    kControl,
    kExtend,
    kZwj,
    kRegional,
    kPrepend,
    kSpacingMark,
    kL,
    kV,
    kT,
    kLV,
    kLVT
};
// Indic_Conjunct_Break values.
enum class Incb : uint8_t { kNone, kConsonant, kExtend, kLinker };

struct Range {
    char32_t first;
    uint8_t props;
};

constexpr Range kRanges[] = {
#include "tokenizer/grapheme_table.inc"
};

struct Props {
    Gcb gcb;
    bool pictographic;
    Incb incb;
};

Props properties(char32_t cp) {
    const auto* r = std::upper_bound(std::begin(kRanges), std::end(kRanges), cp,
                                     [](char32_t c, const Range& range) { return c < range.first; });
    --r;  // the range holding cp: kRanges starts at U+0000
    Props p{static_cast<Gcb>(r->props & 0xF), (r->props & 0x10) != 0, static_cast<Incb>(r->props >> 5)};
    // The table marks every Hangul syllable LV; those off the 28-step grid of the leading syllables are LVT.
    constexpr char32_t kHangulFirst = 0xAC00;
    constexpr char32_t kHangulLast = 0xD7A3;
    constexpr char32_t kTCount = 28;  // trailing consonants per leading syllable, counting "none"
    if (cp >= kHangulFirst && cp <= kHangulLast && (cp - kHangulFirst) % kTCount != 0) p.gcb = Gcb::kLVT;
    return p;
}

bool is_control(Gcb g) {
    return g == Gcb::kControl || g == Gcb::kCR || g == Gcb::kLF;
}

// What the characters of the cluster so far say about the rules that look further back than one character.
struct State {
    enum class Pict : uint8_t { kNone, kPict, kPictZwj } pict = Pict::kNone;  // GB11: ExtPict Extend* ZWJ
    enum class Conjunct : uint8_t { kNone, kConsonant, kLinked } conjunct = Conjunct::kNone;  // GB9c
    int regional_run = 0;                                                                     // GB12/13

    void add(const Props& p) {
        if (p.pictographic) {
            pict = Pict::kPict;
        } else if (pict == Pict::kPict && p.gcb == Gcb::kZwj) {
            pict = Pict::kPictZwj;
        } else if (pict != Pict::kPict || p.gcb != Gcb::kExtend) {
            pict = Pict::kNone;
        }
        if (p.incb == Incb::kConsonant) {
            conjunct = Conjunct::kConsonant;
        } else if (p.incb == Incb::kLinker) {
            conjunct = conjunct == Conjunct::kNone ? Conjunct::kNone : Conjunct::kLinked;
        } else if (p.incb != Incb::kExtend) {
            conjunct = Conjunct::kNone;
        }
        regional_run = p.gcb == Gcb::kRegional ? regional_run + 1 : 0;
    }
};

// UAX #29 rules GB3..GB999 for the boundary between `prev` and `next`.
bool is_boundary(const Props& prev, const Props& next, const State& s) {
    if (prev.gcb == Gcb::kCR && next.gcb == Gcb::kLF) return false;  // GB3
    if (is_control(prev.gcb) || is_control(next.gcb)) return true;   // GB4, GB5
    if (prev.gcb == Gcb::kL &&
        (next.gcb == Gcb::kL || next.gcb == Gcb::kV || next.gcb == Gcb::kLV || next.gcb == Gcb::kLVT)) {
        return false;  // GB6
    }
    if ((prev.gcb == Gcb::kLV || prev.gcb == Gcb::kV) && (next.gcb == Gcb::kV || next.gcb == Gcb::kT)) {
        return false;  // GB7
    }
    if ((prev.gcb == Gcb::kLVT || prev.gcb == Gcb::kT) && next.gcb == Gcb::kT) return false;    // GB8
    if (next.gcb == Gcb::kExtend || next.gcb == Gcb::kZwj) return false;                        // GB9
    if (next.gcb == Gcb::kSpacingMark) return false;                                            // GB9a
    if (prev.gcb == Gcb::kPrepend) return false;                                                // GB9b
    if (next.incb == Incb::kConsonant && s.conjunct == State::Conjunct::kLinked) return false;  // GB9c
    if (next.pictographic && s.pict == State::Pict::kPictZwj) return false;                     // GB11
    if (next.gcb == Gcb::kRegional && s.regional_run % 2 == 1) return false;                    // GB12, GB13
    return true;                                                                                // GB999
}

}  // namespace

size_t grapheme_end(std::string_view text, size_t pos) {
    size_t n = 0;
    Props prev = properties(decode_utf8(text, pos, &n));
    State state;
    state.add(prev);
    pos += n;
    while (pos < text.size()) {
        const Props next = properties(decode_utf8(text, pos, &n));
        if (is_boundary(prev, next, state)) break;
        state.add(next);
        prev = next;
        pos += n;
    }
    return pos;
}

}  // namespace bge
