// bge tokenize and bge info as a user runs them: a folder with only tokenizer files and config.json (no weights),
// tokenizer.json winning over sentencepiece.bpe.model, --offsets, and info naming the tokenizer and its pipeline.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/cli_run.h"
#include "support/temp_dir.h"

namespace bge {
namespace {

using testing::run_bge;
const std::string kM3 = std::string(BGE_TEST_DIR) + "/golden/m3";

// A folder holding copies of `files` from tests/golden/m3.
std::string folder_with(const testing::TempDir& dir, std::initializer_list<const char*> files) {
    for (const char* f : files) std::filesystem::copy_file(kM3 + "/" + f, dir.path() + "/" + f);
    return dir.path();
}

TEST(TokenizerCli, TokenizeNeedsNoWeights) {
    testing::TempDir dir;
    const std::string folder = folder_with(dir, {"config.json", "tokenizer.json"});
    const auto r = run_bge("tokenize --model " + folder, "\"Hello world\"\n[\"a\", \"b\"]\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto full = run_bge("tokenize --model " + kM3, "\"Hello world\"\n[\"a\", \"b\"]\n");
    EXPECT_EQ(r.out, full.out);
}

TEST(TokenizerCli, TokenizerJsonWinsOverTheSentencePieceModel) {
    testing::TempDir dir;
    const std::string folder = folder_with(dir, {"config.json", "sentencepiece.bpe.model"});
    // A tokenizer.json whose pipeline differs (the 2020 converter keeps a final "▁" the spm path strips).
    nlohmann::json doc = nlohmann::json::parse(testing::read_file(kM3 + "/tokenizer.json"));
    doc["normalizer"]["normalizers"].erase(1);  // Strip(right)
    const std::string input = "\"trailing \"\n";
    const auto spm = run_bge("tokenize --model " + folder, input);
    dir.write("tokenizer.json", doc.dump());
    const auto json = run_bge("tokenize --model " + folder, input);
    ASSERT_EQ(spm.exit_code, 0) << spm.err;
    ASSERT_EQ(json.exit_code, 0) << json.err;
    EXPECT_NE(spm.out, json.out);
    EXPECT_NE(json.out.find(",4,2]"), std::string::npos) << json.out;  // the kept "▁" (id 4) before </s>
}

TEST(TokenizerCli, OffsetsAreInputBytes) {
    const auto r = run_bge("tokenize --offsets --model " + kM3, "\"ab cd\"\n[\"x\", \"y\"]\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::stringstream lines(r.out);
    std::string line;
    std::getline(lines, line);
    const auto single = nlohmann::json::parse(line);
    EXPECT_EQ(single["offsets"].front(), nlohmann::json::array({0, 0}));
    EXPECT_EQ(single["offsets"].back(), nlohmann::json::array({0, 0}));
    EXPECT_EQ(single["sequence"].front(), -1);
    EXPECT_EQ(single["ids"].size(), single["offsets"].size());
    EXPECT_EQ(single["offsets"][single["offsets"].size() - 2][1], 5);  // the last token ends at the last byte
    std::getline(lines, line);
    const auto pair = nlohmann::json::parse(line);
    EXPECT_EQ(pair["sequence"], nlohmann::json::parse("[-1,0,0,-1,-1,1,1,-1]")) << line;
}

TEST(TokenizerCli, InfoNamesTheTokenizerFileAndPipeline) {
    const auto r = run_bge("info --model " + kM3, "");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto info = nlohmann::json::parse(r.out);
    const std::string tokenizer = info["tokenizer"];
    EXPECT_NE(tokenizer.find(kM3 + "/tokenizer.json: normalizer Sequence[Precompiled"), std::string::npos) << tokenizer;
    EXPECT_NE(tokenizer.find("Metaspace"), std::string::npos) << tokenizer;
}

}  // namespace
}  // namespace bge
