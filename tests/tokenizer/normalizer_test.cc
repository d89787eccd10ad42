// Hugging Face's use of the precompiled charsmap, on the test model's nmt_nfkc rules: whole small clusters take
// the shortest matching rule, clusters of 6 bytes or more are mapped character by character.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "core/check.h"
#include "tokenizer/precompiled_charsmap.h"
#include "tokenizer/spm_model_proto.h"

namespace bge {
namespace {

const PrecompiledCharsmap& test_charsmap() {
    static const PrecompiledCharsmap map = [] {
        std::ifstream in(std::string(BGE_TEST_DIR) + "/golden/spm/sentencepiece.bpe.model", std::ios::binary);
        std::stringstream bytes;
        bytes << in.rdbuf();
        StatusOr<SpmModelFields> fields = parse_spm_model_fields(bytes.str());
        BGE_CHECK(fields.ok());
        StatusOr<PrecompiledCharsmap> parsed = PrecompiledCharsmap::parse(fields->precompiled_charsmap);
        BGE_CHECK(parsed.ok());
        return std::move(parsed).value();
    }();
    return map;
}

std::string normalized(const std::string& text) {
    std::string out;
    test_charsmap().normalize(text, &out);
    return out;
}

TEST(PrecompiledCharsmap, MapsSingleCharacters) {
    EXPECT_EQ(normalized("\uFF21\uFF22 \uFB01"), "AB fi");                         // full-width letters, ligature
    EXPECT_EQ(normalized("\u00A0x\u3000\t\n"), " x   ");                           // spaces and controls become ' '
    EXPECT_EQ(normalized(std::string("\0a\x01\x62", 4)), std::string("\0ab", 3));  // NUL is never looked up
}

TEST(PrecompiledCharsmap, SmallClusterTakesTheShortestRule) {
    EXPECT_EQ(normalized("a\u0301"), "\u00E1");        // composed as NFKC does
    EXPECT_EQ(normalized("e\u0301\u0301"), "\u00E9");  // rule "e\u0301" replaces the 5-byte cluster
    EXPECT_EQ(normalized("\uFF21\u0301"), "A");        // rule "\uFF21" replaces the 5-byte cluster
    EXPECT_EQ(normalized("\r\n"), " ");                // one cluster, rule "\r"
}

TEST(PrecompiledCharsmap, LargeClusterGoesCharacterByCharacter) {
    EXPECT_EQ(normalized("\uFF21\u0301\u0301"), "A\u0301\u0301");
    EXPECT_EQ(normalized("a\u0301\u0301\u0301"), "a\u0301\u0301\u0301");
    EXPECT_EQ(normalized("\u3131\u314F"), "\u1100\u1161");  // compatibility jamo, 6 bytes: not composed
}

TEST(PrecompiledCharsmap, RejectsBrokenBlobs) {
    EXPECT_EQ(PrecompiledCharsmap::parse("ab").status().code(), StatusCode::kDataLoss);
    EXPECT_EQ(PrecompiledCharsmap::parse(std::string("\x08\0\0\0\0\0\0\0", 8)).status().code(),
              StatusCode::kDataLoss);  // trie of 8 bytes in a 4-byte body
    EXPECT_EQ(PrecompiledCharsmap::parse(std::string("\x00\0\0\0\xFF", 5)).status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace bge
