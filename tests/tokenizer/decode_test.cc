// Ids -> text equals tokenizers.Tokenizer.decode (tests/tokenizer/data/decode_reference.jsonl, made by
// tools/make_decode_references.py) for every decoder section XLM-R files declare, with and without
// skip_special_tokens, exact equality; plus the errors of decode.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bge/engine.h"
#include "support/temp_dir.h"
#include "tokenizer/xlmr_tokenizer.h"

namespace bge {
namespace {

using Json = nlohmann::json;

const std::string kRoot = std::string(BGE_TEST_DIR) + "/..";

std::unique_ptr<XlmrTokenizer> with_decoder(const testing::TempDir& dir, const Json& base, const std::string& name,
                                            const Json& decoder) {
    Json doc = base;
    if (!(decoder.is_string() && decoder == "@base")) doc["decoder"] = decoder;
    auto tok = XlmrTokenizer::load_json(dir.write(name + ".json", doc.dump()));
    EXPECT_TRUE(tok.ok()) << tok.status().to_string();
    return tok.ok() ? std::move(tok).value() : nullptr;
}

TEST(Decode, EqualsTokenizersForEveryDecoder) {
    std::ifstream in(std::string(BGE_TEST_DIR) + "/tokenizer/data/decode_reference.jsonl");
    ASSERT_TRUE(in) << "missing fixture; run tools/make_decode_references.py";
    std::string line;
    ASSERT_TRUE(std::getline(in, line));
    const Json meta = Json::parse(line);
    std::ifstream bin(kRoot + "/" + meta["base"].get<std::string>());
    const Json base = Json::parse(bin);
    testing::TempDir dir;
    std::vector<std::pair<std::string, std::unique_ptr<XlmrTokenizer>>> tokenizers;
    for (const auto& [name, decoder] : meta["decoders"].items()) {
        tokenizers.emplace_back(name, with_decoder(dir, base, name, decoder));
        ASSERT_TRUE(tokenizers.back().second);
    }
    // A bare sentencepiece.bpe.model decodes as XLMRobertaConverter's Metaspace: the base file's decoder.
    auto spm = XlmrTokenizer::load(kRoot + "/tests/golden/m3/sentencepiece.bpe.model");
    ASSERT_TRUE(spm.ok()) << spm.status().to_string();

    int cases = 0;
    while (std::getline(in, line)) {
        const Json c = Json::parse(line);
        const std::vector<int32_t> ids = c["ids"];
        for (const auto& [name, tok] : tokenizers) {
            for (int skip = 0; skip < 2; ++skip) {
                const std::string want = c["texts"][name][skip == 0 ? 0 : 1];
                auto got = tok->decode(ids, skip == 0);
                ASSERT_TRUE(got.ok()) << got.status().to_string();
                EXPECT_EQ(*got, want) << name << " skip_special_tokens=" << (skip == 0) << " ids " << c["ids"];
                if (name == "file") {
                    auto from_spm = (*spm)->decode(ids, skip == 0);
                    ASSERT_TRUE(from_spm.ok());
                    EXPECT_EQ(*from_spm, want) << "sentencepiece.bpe.model, ids " << c["ids"];
                }
            }
        }
        ++cases;
    }
    EXPECT_EQ(cases, meta["cases"].get<int>());
}

TEST(Decode, RoundTripsThroughTheFolderTokenizer) {
    auto tok = Tokenizer::open(kRoot + "/tests/golden/m3");
    ASSERT_TRUE(tok.ok()) << tok.status().to_string();
    auto ids = (*tok)->encode("hello world");
    ASSERT_TRUE(ids.ok());
    auto text = (*tok)->decode(*ids);
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(*text, "hello world");
    auto with_specials = (*tok)->decode(*ids, false);
    ASSERT_TRUE(with_specials.ok());
    EXPECT_EQ(*with_specials, "<s> hello world</s>");
}

TEST(Decode, AnIdWithNoTokenIsNamed) {
    auto tok = Tokenizer::open(kRoot + "/tests/golden/m3");
    ASSERT_TRUE(tok.ok());
    for (int32_t bad : {-1, 4002, 1 << 30}) {
        const std::vector<int32_t> ids = {5, bad};
        auto text = (*tok)->decode(ids);
        ASSERT_FALSE(text.ok());
        EXPECT_EQ(text.status().code(), StatusCode::kInvalidArgument);
        EXPECT_NE(text.status().message().find("id " + std::to_string(bad) + " at position 1"), std::string::npos)
            << text.status().message();
    }
}

TEST(Decode, AnUnsupportedDecoderLoadsButDoesNotDecode) {
    std::ifstream bin(kRoot + "/tests/golden/m3/tokenizer.json");
    const Json base = Json::parse(bin);
    testing::TempDir dir;
    auto tok = with_decoder(dir, base, "bytelevel", Json{{"type", "ByteLevel"}});
    ASSERT_TRUE(tok);
    EXPECT_EQ(tok->encode("hello").value(),
              XlmrTokenizer::load_json(kRoot + "/tests/golden/m3/tokenizer.json").value()->encode("hello").value());
    auto text = tok->decode(std::vector<int32_t>{5}, true);
    ASSERT_FALSE(text.ok());
    EXPECT_EQ(text.status().code(), StatusCode::kUnimplemented);
    EXPECT_NE(text.status().message().find("'ByteLevel'"), std::string::npos) << text.status().message();
    // A Metaspace decoder with a bad field is a load error naming it.
    Json bad = base;
    bad["decoder"] = {{"type", "Metaspace"}, {"replacement", "ab"}};
    auto refused = XlmrTokenizer::load_json(dir.write("bad.json", bad.dump()));
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find("decoder"), std::string::npos) << refused.status().message();
}

}  // namespace
}  // namespace bge
