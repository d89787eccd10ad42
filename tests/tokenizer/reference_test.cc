// Ids equal Hugging Face's XLMRobertaTokenizerFast for every case of tests/tokenizer/data/reference.jsonl
// (written by tools/make_tokenizer_reference.py): exact equality, no tolerance.
#include <gtest/gtest.h>

#include <climits>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer/xlmr_tokenizer.h"

namespace bge {
namespace {

using Ids = std::vector<int32_t>;

// The text as an ASCII JSON string, so control characters and invisible marks show in the failure message.
std::string escaped(const std::string& text) {
    return nlohmann::json(text).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

std::string ids_string(const StatusOr<Ids>& ids) {
    return ids.ok() ? nlohmann::json(*ids).dump() : ids.status().to_string();
}

TEST(TokenizerReference, IdsMatchHuggingFace) {
    const std::string dir = BGE_TEST_DIR;
    std::ifstream in(dir + "/tokenizer/data/reference.jsonl");
    ASSERT_TRUE(in) << "missing fixture; run tools/make_tokenizer_reference.py";
    std::string line;
    ASSERT_TRUE(std::getline(in, line));
    const nlohmann::json meta = nlohmann::json::parse(line);
    StatusOr<std::unique_ptr<XlmrTokenizer>> tok = XlmrTokenizer::load(dir + "/../" + meta["model"].get<std::string>());
    ASSERT_TRUE(tok.ok()) << tok.status().to_string();

    int n_cases = 0, n_failures = 0;
    while (std::getline(in, line)) {
        const nlohmann::json c = nlohmann::json::parse(line);
        const Ids expected = c["ids"].get<Ids>();
        const int max_length = c.contains("max_length") ? c["max_length"].get<int>() : INT_MAX;
        StatusOr<Ids> got = Ids{};
        std::string what;
        if (c.contains("text")) {
            const std::string text = c["text"].get<std::string>();
            got = (*tok)->encode_single(text, max_length);
            what = "text " + escaped(text);
            if (got.ok() && max_length == INT_MAX) {
                // encode() is the same ids without <s> and </s>.
                StatusOr<Ids> bare = (*tok)->encode(text);
                if (!bare.ok() || Ids(got->begin() + 1, got->end() - 1) != *bare) {
                    got = internal_error("encode() differs from encode_single() without <s> and </s>");
                }
            }
        } else {
            const std::string a = c["a"].get<std::string>(), b = c["b"].get<std::string>();
            got = (*tok)->encode_pair(a, b, max_length);
            what = "pair " + escaped(a) + " / " + escaped(b);
        }
        if (max_length != INT_MAX) what += " max_length " + std::to_string(max_length);
        ++n_cases;
        if (!got.ok() || *got != expected) {
            ++n_failures;
            ADD_FAILURE() << what << "\n  expected " << nlohmann::json(expected).dump() << "\n  got      "
                          << ids_string(got);
        }
    }
    EXPECT_GT(n_cases, 2000);
    EXPECT_EQ(n_failures, 0) << "of " << n_cases << " cases";
}

}  // namespace
}  // namespace bge
