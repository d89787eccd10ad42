// XlmrTokenizer behaviour beyond the reference ids: load errors, UTF-8 errors, special tokens, the max_length
// contract, and concurrent use.
#include "tokenizer/xlmr_tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace bge {
namespace {

const std::string kModel = std::string(BGE_TEST_DIR) + "/golden/spm/sentencepiece.bpe.model";
constexpr int32_t kTestVocab = 4002;  // 4000 pieces + <pad> + <mask>

const XlmrTokenizer& tokenizer() {
    static const std::unique_ptr<XlmrTokenizer> tok = [] {
        StatusOr<std::unique_ptr<XlmrTokenizer>> t = XlmrTokenizer::load(kModel);
        EXPECT_TRUE(t.ok()) << t.status().to_string();
        return std::move(t).value();
    }();
    return *tok;
}

using Ids = std::vector<int32_t>;

// A file under the test's temporary directory holding `bytes`.
std::string temp_file(const std::string& name, const std::string& bytes) {
    const auto path = std::filesystem::temp_directory_path() / ("bge_tokenizer_test_" + name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path.string();
}

std::string model_bytes() {
    std::ifstream in(kModel, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(XlmrTokenizer, MissingFileIsNotFound) {
    StatusOr<std::unique_ptr<XlmrTokenizer>> t = XlmrTokenizer::load("/nonexistent/dir/spm.model");
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), StatusCode::kNotFound);
    EXPECT_NE(t.status().message().find("/nonexistent/dir/spm.model"), std::string::npos);
}

TEST(XlmrTokenizer, FileThatIsNotAModelIsInvalidArgumentNamingThePath) {
    const std::string not_models[] = {"hello world\n", "{\"model\": \"json\"}", "", model_bytes().substr(0, 50000)};
    int i = 0;
    for (const std::string& bytes : not_models) {
        const std::string path = temp_file("not_a_model_" + std::to_string(i++), bytes);
        StatusOr<std::unique_ptr<XlmrTokenizer>> t = XlmrTokenizer::load(path);
        ASSERT_FALSE(t.ok()) << path;
        EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument) << t.status().to_string();
        EXPECT_NE(t.status().message().find(path + ": not a SentencePiece model"), std::string::npos)
            << t.status().message();
        std::filesystem::remove(path);
    }
}

TEST(XlmrTokenizer, NonUnigramModelIsUnimplemented) {
    // Appending trainer_spec { model_type: BPE } merges into the parsed model (protobuf semantics).
    const std::string path = temp_file("bpe_model", model_bytes() + std::string("\x12\x02\x18\x02", 4));
    StatusOr<std::unique_ptr<XlmrTokenizer>> t = XlmrTokenizer::load(path);
    std::filesystem::remove(path);
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), StatusCode::kUnimplemented);
    EXPECT_NE(t.status().message().find("model_type 2"), std::string::npos) << t.status().message();
}

TEST(XlmrTokenizer, InvalidUtf8NamesTheByteOffset) {
    const std::pair<std::string, size_t> bad[] = {
        {"ab\x80", 2}, {"a\xC0\xAF", 1}, {"xx\xED\xA0\x80", 2}, {"abc\xE2\x82", 3}, {"\xF4\x90\x80\x80", 0}};
    for (const auto& [text, offset] : bad) {
        const std::string where = "byte offset " + std::to_string(offset);
        StatusOr<Ids> single = tokenizer().encode_single(text, 512);
        ASSERT_FALSE(single.ok());
        EXPECT_EQ(single.status().code(), StatusCode::kInvalidArgument);
        EXPECT_NE(single.status().message().find(where), std::string::npos) << single.status().message();
        StatusOr<Ids> pair = tokenizer().encode_pair("fine", text, 512);
        ASSERT_FALSE(pair.ok());
        EXPECT_NE(pair.status().message().find("second text: invalid UTF-8 at " + where), std::string::npos)
            << pair.status().message();
    }
}

TEST(XlmrTokenizer, EmptyTextIsJustTheSpecialTokens) {
    EXPECT_EQ(*tokenizer().encode(""), Ids{});
    EXPECT_EQ(*tokenizer().encode_single("", 512), (Ids{0, 2}));
    EXPECT_EQ(*tokenizer().encode_single(" \t\n", 512), (Ids{0, 2}));
    EXPECT_EQ(*tokenizer().encode_pair("", "", 512), (Ids{0, 2, 2, 2}));
}

TEST(XlmrTokenizer, SpecialTokensInTextKeepTheirIds) {
    EXPECT_EQ(tokenizer().vocab_size(), kTestVocab);
    EXPECT_EQ(*tokenizer().encode("<s><pad></s><unk><mask>"), (Ids{0, 1, 2, 3, kTestVocab - 1}));
}

TEST(XlmrTokenizer, MaxLengthBelowTheSpecialTokensIsInvalidArgument) {
    EXPECT_EQ(tokenizer().encode_single("hello", 1).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(tokenizer().encode_pair("a", "b", 3).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(*tokenizer().encode_single("hello", 2), (Ids{0, 2}));
    EXPECT_EQ(*tokenizer().encode_pair("hello", "world", 4), (Ids{0, 2, 2, 2}));
}

TEST(XlmrTokenizer, ConcurrentEncodesMatchSequentialOnes) {
    const std::vector<std::string> texts = {
        "Hello world",          "日本語のテキスト",           "Привет, мир", "e\u0301 \uFF21\u0301", "<mask> and <s>",
        std::string(2000, 'x'), "👨‍👩‍👧 🇫🇷"};
    std::vector<Ids> expected;
    for (const auto& t : texts) expected.push_back(*tokenizer().encode_single(t, 8192));
    std::vector<int> mismatches(4, 0);
    std::vector<std::thread> threads;
    for (int w = 0; w < 4; ++w) {
        threads.emplace_back([&, w] {
            for (int round = 0; round < 50; ++round) {
                for (size_t i = 0; i < texts.size(); ++i) {
                    if (*tokenizer().encode_single(texts[i], 8192) != expected[i]) ++mismatches[w];
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace bge
