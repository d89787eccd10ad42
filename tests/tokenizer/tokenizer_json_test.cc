// tokenizer.json loading: every component outside the supported set is a load error naming it and where it is;
// malformed files name the field or byte; the vocabulary is checked against sentencepiece.bpe.model; offsets.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "support/temp_dir.h"
#include "tokenizer/xlmr_tokenizer.h"

namespace bge {
namespace {

using Json = nlohmann::json;
using Ids = std::vector<int32_t>;

const std::string kGolden = std::string(BGE_TEST_DIR) + "/golden";

const Json& base() {
    static const Json doc = Json::parse(testing::read_file(kGolden + "/m3/tokenizer.json"));
    return doc;
}

StatusOr<std::unique_ptr<XlmrTokenizer>> load(const std::string& json, const std::string& spm = {}) {
    static testing::TempDir dir;
    return XlmrTokenizer::load_json(dir.write("tokenizer.json", json), spm);
}

// The base file with `pointer` (a JSON pointer) set to `value`.
std::string with(const std::string& pointer, const Json& value) {
    Json doc = base();
    doc[Json::json_pointer(pointer)] = value;
    return doc.dump();
}

void expect_error(const StatusOr<std::unique_ptr<XlmrTokenizer>>& t, StatusCode code, const std::string& part) {
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), code) << t.status().to_string();
    EXPECT_NE(t.status().message().find(part), std::string::npos) << t.status().message();
}

TEST(TokenizerJson, UnsupportedComponentsAreLoadErrorsNamingThem) {
    expect_error(load(with("/normalizer/normalizers/1", {{"type", "NFD"}})), StatusCode::kUnimplemented,
                 "normalizer.normalizers[1]: normalizer type 'NFD' is not supported");
    expect_error(load(with("/normalizer", {{"type", "Lowercase"}})), StatusCode::kUnimplemented,
                 "normalizer: normalizer type 'Lowercase'");
    expect_error(load(with("/pre_tokenizer", {{"type", "ByteLevel"}})), StatusCode::kUnimplemented,
                 "pre_tokenizer: pre-tokenizer type 'ByteLevel'");
    expect_error(load(with("/post_processor", {{"type", "BertProcessing"}})), StatusCode::kUnimplemented,
                 "post_processor: post-processor type 'BertProcessing'");
    expect_error(load(with("/model/type", "BPE")), StatusCode::kUnimplemented, "model: model type 'BPE'");
    expect_error(load(with("/model/byte_fallback", true)), StatusCode::kUnimplemented, "byte_fallback");
}

TEST(TokenizerJson, MalformedFilesNameTheFieldOrByte) {
    const std::string path_part = "tokenizer.json";
    expect_error(load("{\"model\": "), StatusCode::kDataLoss, "not valid JSON at byte");
    expect_error(load("[]"), StatusCode::kDataLoss, "not a JSON object");
    expect_error(load(with("/model/vocab/5", {"x"})), StatusCode::kDataLoss, "model.vocab[5]: expected [piece, score]");
    expect_error(load(with("/model/unk_id", 99999)), StatusCode::kDataLoss, "model.unk_id");
    expect_error(load(with("/added_tokens/0/id", "zero")), StatusCode::kDataLoss, "added_tokens[0].id");
    expect_error(load(with("/normalizer/normalizers/0/precompiled_charsmap", "@@@")), StatusCode::kDataLoss,
                 "not base64");
    expect_error(load(with("/normalizer/normalizers/2/pattern", {{"Regex", "("}})), StatusCode::kInvalidArgument,
                 "regex '('");
    expect_error(load(with("/pre_tokenizer/prepend_scheme", "sometimes")), StatusCode::kDataLoss, "prepend_scheme");
    expect_error(load(with("/post_processor/single/0", {{"SpecialToken", {{"id", "<x>"}}}})), StatusCode::kDataLoss,
                 "special token '<x>'");
    Json doc = base();
    doc.erase("model");
    expect_error(load(doc.dump()), StatusCode::kDataLoss, "no 'model'");
    expect_error(XlmrTokenizer::load_json("/nonexistent/tokenizer.json"), StatusCode::kNotFound, path_part);
}

TEST(TokenizerJson, VocabularyIsCheckedAgainstTheSentencePieceModel) {
    const std::string spm = kGolden + "/spm/sentencepiece.bpe.model";
    ASSERT_TRUE(load(base().dump(), spm).ok());
    Json doc = base();
    doc["model"]["vocab"][100][0] = "changed";
    expect_error(load(doc.dump(), spm), StatusCode::kDataLoss, "vocabulary differs from " + spm + " at id 100");
}

TEST(TokenizerJson, DescriptionNamesFileAndPipeline) {
    auto t = load(base().dump());
    ASSERT_TRUE(t.ok());
    const std::string& d = (*t)->description();
    EXPECT_NE(
        d.find("tokenizer.json: normalizer Sequence[Precompiled, Strip(right), Replace(regex ' {2,}' -> '\u2581')]"),
        std::string::npos)
        << d;
    EXPECT_NE(d.find("pre_tokenizer Sequence[Metaspace('\u2581', prepend always, split)]"), std::string::npos) << d;
    EXPECT_NE(d.find("model Unigram (4002 pieces), post_processor TemplateProcessing, 5 added tokens"),
              std::string::npos)
        << d;
}

TEST(TokenizerJson, OffsetsPointIntoTheInput) {
    auto t = load(base().dump());
    ASSERT_TRUE(t.ok());
    // "\uFF21" (3 bytes) normalizes to "A"; <mask> strips the space before it (lstrip).
    const std::string text = "\uFF21b <mask> c";
    StatusOr<Encoding> e = (*t)->encode_single_with_offsets(text, 512);
    ASSERT_TRUE(e.ok());
    ASSERT_EQ(e->ids.size(), e->offsets.size());
    EXPECT_EQ(e->offsets.front(), (Span{0, 0}));  // <s>
    EXPECT_EQ(e->offsets.back(), (Span{0, 0}));   // </s>
    EXPECT_EQ(e->sequence.front(), -1);
    bool saw_mask = false;
    for (size_t i = 1; i + 1 < e->ids.size(); ++i) {
        EXPECT_EQ(e->sequence[i], 0);
        EXPECT_LE(e->offsets[i].end, text.size());
        if (e->ids[i] == 4001) {
            saw_mask = true;
            EXPECT_EQ(text.substr(e->offsets[i].start, e->offsets[i].end - e->offsets[i].start), " <mask>");
        }
    }
    EXPECT_TRUE(saw_mask);
    EXPECT_EQ(e->offsets[1].start, 0u);  // the "▁" prepended to the first word spans its first character
}

TEST(TokenizerJson, HugeTextTruncatesWithoutTokenizingItAll) {
    auto t = load(base().dump());
    ASSERT_TRUE(t.ok());
    std::string text;
    while (text.size() < (size_t{8} << 20)) text += "lorem ipsum \u00e9t\u00e9 d\u00f6ner \u65e5\u672c ";
    StatusOr<Ids> head = (*t)->encode_single(text, 64);
    StatusOr<Ids> small = (*t)->encode_single(text.substr(0, 4096), 64);
    ASSERT_TRUE(head.ok() && small.ok());
    EXPECT_EQ(*head, *small);
    // An even budget splits evenly whatever the lengths, so neither side is read past budget + 1 tokens.
    StatusOr<Ids> pair = (*t)->encode_pair(text, text, 64);
    ASSERT_TRUE(pair.ok());
    EXPECT_EQ(pair->size(), 64u);
}

}  // namespace
}  // namespace bge
