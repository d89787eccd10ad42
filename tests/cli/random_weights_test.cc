// `bge bench --random-weights NAME` (label large: each model folder is 1.1 GB, written once into a folder shared by
// the tests here): the folder has BGE-M3's real shape and vocabulary size, its tokenizer gives bench's words one id
// each, bench runs on it, a second run reuses it untouched, and bad option combinations fail with one line.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_run.h"
#include "support/temp_dir.h"

namespace bge {
namespace {

namespace fs = std::filesystem;

class RandomWeights : public ::testing::Test {
 protected:
    static void SetUpTestSuite() {
        dir_ = new testing::TempDir();
        setenv("BGE_RANDOM_MODELS_DIR", dir_->path().c_str(), 1);  // the children inherit it
    }
    static void TearDownTestSuite() {
        delete dir_;
        dir_ = nullptr;
    }
    static std::string root() { return dir_->path(); }

    // Runs bench on `name` at 16 tokens and returns its JSON line (the last line of stdout).
    static nlohmann::json bench(const std::string& name, const std::string& expect_header) {
        const auto r = testing::run_bge(
            testing::CliRun{.args = "bench --random-weights " + name + " --tokens 16 --iterations 1 --warmup 0",
                            .timeout_seconds = 600});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        EXPECT_NE(r.err.find("bge bench: random " + name + " weights in " + root() + "/" + name + "\n"),
                  std::string::npos)
            << r.err;
        EXPECT_NE(r.out.find(expect_header), std::string::npos) << r.out;
        const size_t last = r.out.rfind('{');
        if (last == std::string::npos) return nullptr;
        return nlohmann::json::parse(r.out.substr(last), nullptr, false);
    }

    static testing::TempDir* dir_;
};
testing::TempDir* RandomWeights::dir_ = nullptr;

TEST_F(RandomWeights, EmbedderFolderHasTheRealShapeAndIsReused) {
    const nlohmann::json first = bench("bge-m3", "(embedder, 24 layers, hidden 1024)");
    ASSERT_TRUE(first.is_object());
    EXPECT_EQ(first["kind"], "embedder");
    EXPECT_EQ(first["tokens"], 16);
    EXPECT_EQ(first["real_tokens"], 16);

    // The complete folder, and no temporary sibling left behind.
    const std::string model = root() + "/bge-m3";
    for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                          "sentencepiece.bpe.model", "model.safetensors"}) {
        EXPECT_TRUE(fs::is_regular_file(model + "/" + f)) << f;
    }
    EXPECT_GT(fs::file_size(model + "/model.safetensors"), 1'000'000'000u);
    for (const auto& e : fs::directory_iterator(root())) EXPECT_NE(e.path().filename().string()[0], '.') << e.path();

    const auto weights_time = fs::last_write_time(model + "/model.safetensors");
    const auto tokenizer_time = fs::last_write_time(model + "/tokenizer.json");
    bench("bge-m3", "(embedder, 24 layers, hidden 1024)");
    EXPECT_EQ(fs::last_write_time(model + "/model.safetensors"), weights_time);
    EXPECT_EQ(fs::last_write_time(model + "/tokenizer.json"), tokenizer_time);

    const auto info = testing::run_bge(testing::CliRun{.args = "info --model " + model, .timeout_seconds = 600});
    ASSERT_EQ(info.exit_code, 0) << info.err;
    const auto j = nlohmann::json::parse(info.out, nullptr, false);
    ASSERT_TRUE(j.is_object()) << info.out;
    EXPECT_EQ(j["vocab_size"], 250002);
    EXPECT_EQ(j["num_hidden_layers"], 24);
    EXPECT_EQ(j["hidden_size"], 1024);
    EXPECT_EQ(j["num_attention_heads"], 16);
    EXPECT_EQ(j["intermediate_size"], 4096);
    EXPECT_EQ(j["max_length"], 8192);
    EXPECT_EQ(j["weights_dtype"], "F16");

    // <s>, one id per word (neither <unk> nor another special), </s>; a pair in the XLM-R template.
    const auto tok = testing::run_bge("tokenize --model " + model, "\"Deutschland Россия\"\n[\"日本\", \"日本\"]\n");
    ASSERT_EQ(tok.exit_code, 0) << tok.err;
    const size_t newline = tok.out.find('\n');
    const auto single = nlohmann::json::parse(tok.out.substr(0, newline), nullptr, false);
    const auto pair = nlohmann::json::parse(tok.out.substr(newline + 1), nullptr, false);
    ASSERT_TRUE(single.is_object() && pair.is_object()) << tok.out;
    const std::vector<int> ids = single["ids"];
    ASSERT_EQ(ids.size(), 4u) << tok.out;
    EXPECT_EQ(ids[0], 0);
    EXPECT_GT(ids[1], 3);
    EXPECT_GT(ids[2], 3);
    EXPECT_LT(ids[2], 250001);  // not <mask>
    EXPECT_NE(ids[1], ids[2]);
    EXPECT_EQ(ids[3], 2);
    const std::vector<int> pair_ids = pair["ids"];
    ASSERT_EQ(pair_ids.size(), 6u) << tok.out;
    EXPECT_EQ(pair_ids, (std::vector<int>{0, pair_ids[1], 2, 2, pair_ids[1], 2}));
    EXPECT_GT(pair_ids[1], 3);
}

TEST_F(RandomWeights, RerankerBenchRuns) {
    const nlohmann::json row = bench("bge-reranker-v2-m3", "(reranker, 24 layers, hidden 1024)");
    ASSERT_TRUE(row.is_object());
    EXPECT_EQ(row["kind"], "reranker");
    EXPECT_EQ(row["real_tokens"], 16);
    const std::string config = testing::read_file(root() + "/bge-reranker-v2-m3/config.json");
    EXPECT_NE(config.find("XLMRobertaForSequenceClassification"), std::string::npos);
}

TEST_F(RandomWeights, BadOptionsFailWithOneLine) {
    const auto check = [](const std::string& args, const std::string& expect) {
        const auto r = testing::run_bge("bench " + args, "");
        EXPECT_EQ(r.exit_code, 1) << args;
        EXPECT_TRUE(r.out.empty()) << args;
        ASSERT_FALSE(r.err.empty()) << args;
        EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
        EXPECT_NE(r.err.find(expect), std::string::npos) << r.err;
    };
    check("--random-weights bge-m4", "'bge-m4' is not one of bge-m3, bge-reranker-v2-m3");
    check("--random-weights bge-m3 --model " + root(), "--model excludes --random-weights");
    check("--tokens 16", "--model DIR or --random-weights NAME (bge-m3, bge-reranker-v2-m3)");
    EXPECT_FALSE(fs::exists(root() + "/bge-m4"));
    // A folder that cannot be made is named.
    testing::TempDir scratch;
    const std::string file = scratch.write("not-a-folder", "");
    setenv("BGE_RANDOM_MODELS_DIR", file.c_str(), 1);
    check("--random-weights bge-m3", "cannot create folder " + file);
    setenv("BGE_RANDOM_MODELS_DIR", root().c_str(), 1);
}

}  // namespace
}  // namespace bge
