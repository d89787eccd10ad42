// keep_tail (truncation side "left") equals tokenizers.Tokenizer with truncation direction "left" on the m3 test
// tokenizer (tests/tokenizer/data/left_truncation.jsonl, made by tools/make_left_truncation_references.py): singles
// and longest_first pairs, exact ids.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bge/engine.h"
#include "tokenizer/xlmr_tokenizer.h"

namespace bge {
namespace {

using Json = nlohmann::json;

TEST(LeftTruncation, EqualsTokenizers) {
    const std::string root = std::string(BGE_TEST_DIR) + "/..";
    std::ifstream in(std::string(BGE_TEST_DIR) + "/tokenizer/data/left_truncation.jsonl");
    ASSERT_TRUE(in) << "missing fixture; run tools/make_left_truncation_references.py";
    std::string line;
    ASSERT_TRUE(std::getline(in, line));
    const Json meta = Json::parse(line);
    auto tok = XlmrTokenizer::load_json(root + "/" + meta["base"].get<std::string>());
    ASSERT_TRUE(tok.ok()) << tok.status().to_string();
    int singles = 0, pairs = 0, cut = 0;
    while (std::getline(in, line)) {
        const Json c = Json::parse(line);
        const int max_length = c["max_length"];
        const std::vector<int32_t> want = c["ids"];
        StatusOr<std::vector<int32_t>> got =
            c.contains("text")
                ? (*tok)->encode_single(c["text"].get<std::string>(), max_length, true)
                : (*tok)->encode_pair(c["a"].get<std::string>(), c["b"].get<std::string>(), max_length, true);
        ASSERT_TRUE(got.ok()) << got.status().to_string();
        EXPECT_EQ(*got, want) << line;
        // The head-kept ids differ wherever something was cut (else this test would not see a wrong side).
        auto head = c.contains("text")
                        ? (*tok)->encode_single(c["text"].get<std::string>(), max_length)
                        : (*tok)->encode_pair(c["a"].get<std::string>(), c["b"].get<std::string>(), max_length);
        cut += *head != want;
        (c.contains("text") ? singles : pairs)++;
    }
    EXPECT_EQ(singles, meta["singles"].get<int>());
    EXPECT_EQ(pairs, meta["pairs"].get<int>());
    EXPECT_GT(cut, (singles + pairs) / 4);
}

// A text far longer than what is kept (the tail reader drops ids as it goes): the last ids of the whole encoding.
TEST(LeftTruncation, ALongTextKeepsExactlyTheLastIds) {
    auto tok = XlmrTokenizer::load_json(std::string(BGE_TEST_DIR) + "/golden/m3/tokenizer.json");
    ASSERT_TRUE(tok.ok());
    std::string text;
    for (int i = 0; i < 20000; ++i) text += "word" + std::to_string(i % 977) + (i % 7 ? " " : ". ");
    auto whole = (*tok)->encode(text);
    ASSERT_TRUE(whole.ok());
    for (int max_length : {3, 6, 100, 5000}) {
        auto tail = (*tok)->encode_single(text, max_length, true);
        ASSERT_TRUE(tail.ok());
        std::vector<int32_t> want = {XlmrTokenizer::kBos};
        want.insert(want.end(), whole->end() - (max_length - 2), whole->end());
        want.push_back(XlmrTokenizer::kEos);
        EXPECT_EQ(*tail, want) << "max_length " << max_length;
    }
    // A pair of long texts keeps half the budget of each (longest_first), from their ends.
    auto pair = (*tok)->encode_pair(text, text, 100, true);
    ASSERT_TRUE(pair.ok());
    ASSERT_EQ(pair->size(), 100u);
    EXPECT_EQ(std::vector<int32_t>(pair->begin() + 1, pair->begin() + 49),
              std::vector<int32_t>(whole->end() - 48, whole->end()));
}

TEST(LeftTruncation, PublicTokenizerKeepsTheTail) {
    auto tok = Tokenizer::open(std::string(BGE_TEST_DIR) + "/golden/m3");
    ASSERT_TRUE(tok.ok());
    const auto whole = (*tok)->encode("one two three four five six");
    const auto tail = (*tok)->encode("one two three four five six", 6, true);
    ASSERT_TRUE(whole.ok() && tail.ok());
    ASSERT_EQ(tail->size(), 6u);
    EXPECT_EQ(tail->front(), XlmrTokenizer::kBos);
    EXPECT_EQ(tail->back(), XlmrTokenizer::kEos);
    EXPECT_EQ(std::vector<int32_t>(tail->begin() + 1, tail->end() - 1),
              std::vector<int32_t>(whole->end() - 5, whole->end() - 1));
}

}  // namespace
}  // namespace bge
