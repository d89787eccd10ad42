// Grapheme cluster boundaries for each UAX #29 rule the normalizer depends on.
#include "tokenizer/grapheme.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace bge {
namespace {

std::vector<std::string> clusters(const std::string& text) {
    std::vector<std::string> out;
    for (size_t pos = 0; pos < text.size();) {
        const size_t end = grapheme_end(text, pos);
        out.push_back(text.substr(pos, end - pos));
        pos = end;
    }
    return out;
}

using V = std::vector<std::string>;

TEST(Grapheme, ControlsAndNewlines) {
    EXPECT_EQ(clusters("a\r\nb"), (V{"a", "\r\n", "b"}));                // GB3
    EXPECT_EQ(clusters("\n\r"), (V{"\n", "\r"}));                        // GB4
    EXPECT_EQ(clusters("a\x01\xCC\x81"), (V{"a", "\x01", "\xCC\x81"}));  // GB4, GB5: no Extend after Control
}

TEST(Grapheme, HangulSyllables) {
    // L V T jamo form one cluster (GB6-8); LV + T joins, LVT + V does not.
    EXPECT_EQ(clusters("\u1112\u1161\u11AB\u1100"), (V{"\u1112\u1161\u11AB", "\u1100"}));
    EXPECT_EQ(clusters("\uAC00\u11A8"), (V{"\uAC00\u11A8"}));
    EXPECT_EQ(clusters("\uAC01\u1161"), (V{"\uAC01", "\u1161"}));
}

TEST(Grapheme, MarksAndPrepend) {
    EXPECT_EQ(clusters("e\u0301\u0301x"), (V{"e\u0301\u0301", "x"}));  // GB9 Extend
    EXPECT_EQ(clusters("a\u200Db"), (V{"a\u200D", "b"}));              // GB9 ZWJ
    EXPECT_EQ(clusters("\u0915\u093F"), (V{"\u0915\u093F"}));          // GB9a SpacingMark
    EXPECT_EQ(clusters("\u0600\u0661"), (V{"\u0600\u0661"}));          // GB9b Prepend
}

TEST(Grapheme, IndicConjuncts) {
    // GB9c: consonant + virama (+ ZWJ) + consonant stay together; a vowel sign after it does not split it.
    EXPECT_EQ(clusters("\u0915\u094D\u0937\u093F"), (V{"\u0915\u094D\u0937\u093F"}));
    EXPECT_EQ(clusters("\u0915\u094D\u200D\u0937"), (V{"\u0915\u094D\u200D\u0937"}));
    EXPECT_EQ(clusters("\u0915\u093F\u0937"), (V{"\u0915\u093F", "\u0937"}));
}

TEST(Grapheme, EmojiSequences) {
    const std::string family = "\U0001F468\u200D\U0001F469\u200D\U0001F467";
    EXPECT_EQ(clusters(family + "x"), (V{family, "x"}));                       // GB11
    EXPECT_EQ(clusters("\U0001F44D\U0001F3FD"), (V{"\U0001F44D\U0001F3FD"}));  // skin tone: Extend
    EXPECT_EQ(clusters("a\u200D\U0001F469"), (V{"a\u200D", "\U0001F469"}));    // ZWJ needs a pictograph
    EXPECT_EQ(clusters("\U0001F1EB\U0001F1F7\U0001F1E9\U0001F1EA\U0001F1E9"),  // GB12, GB13
              (V{"\U0001F1EB\U0001F1F7", "\U0001F1E9\U0001F1EA", "\U0001F1E9"}));
}

}  // namespace
}  // namespace bge
