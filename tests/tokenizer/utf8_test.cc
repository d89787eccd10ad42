// UTF-8 validation: every kind of malformed sequence is rejected with the offset of its first byte.
#include "tokenizer/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace bge {
namespace {

void expect_invalid_at(const std::string& text, size_t offset, const std::string& why) {
    const Status s = validate_utf8(text);
    ASSERT_FALSE(s.ok()) << why;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("byte offset " + std::to_string(offset) + ":"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
}

TEST(Utf8, AcceptsWellFormedText) {
    EXPECT_TRUE(validate_utf8("").ok());
    EXPECT_TRUE(validate_utf8(std::string("a\0b", 3)).ok());
    // Boundaries of Unicode Table 3-7: U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF.
    EXPECT_TRUE(validate_utf8("\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF").ok());
    EXPECT_TRUE(validate_utf8("\xF0\x90\x80\x80\xF4\x8F\xBF\xBF").ok());
}

TEST(Utf8, RejectsMalformedSequencesWithTheirOffset) {
    expect_invalid_at("ab\x80", 2, "continuation byte without a lead byte");
    expect_invalid_at("a\xC0\xAF", 1, "overlong two-byte sequence");
    expect_invalid_at("\xE0\x80\xAF", 0, "overlong sequence");
    expect_invalid_at("xyz\xF0\x80\x80\xAF", 3, "overlong sequence");
    expect_invalid_at("xx\xED\xA0\x80", 2, "UTF-16 surrogate");
    expect_invalid_at("\xF4\x90\x80\x80", 0, "code point above U+10FFFF");
    expect_invalid_at("ok \xFF", 3, "byte that never occurs in UTF-8");
    expect_invalid_at("abc\xE2\x82", 3, "sequence cut short by the end of the text");
    expect_invalid_at("\xC3\x62", 0, "sequence cut short by a byte that is not a continuation byte");
    expect_invalid_at("\xE2\x82\x63", 0, "sequence cut short by a byte that is not a continuation byte");
}

TEST(Utf8, DecodesCodePoints) {
    const std::string text = "a\xC3\xA9\xE2\x96\x81\xF0\x9F\x91\x8D";
    const char32_t expected[] = {U'a', U'\u00E9', U'\u2581', U'\U0001F44D'};
    size_t pos = 0;
    for (const char32_t cp : expected) {
        size_t n = 0;
        EXPECT_EQ(decode_utf8(text, pos, &n), cp);
        pos += n;
    }
    EXPECT_EQ(pos, text.size());
}

}  // namespace
}  // namespace bge
