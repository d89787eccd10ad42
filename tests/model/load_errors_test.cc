// Loading a broken model folder fails with a message naming the file or tensor, and never crashes:
// missing files, tensors that are missing or mis-shaped, corrupt weights, a tokenizer that is not
// SentencePiece, the wrong kind of model.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bge/engine.h"
#include "support/random_model.h"

namespace bge {
namespace {

namespace fs = std::filesystem;

class LoadErrors : public ::testing::Test {
 protected:
    void SetUp() override { testing::write_random_model(dir_.path(), testing::RandomModelSpec{}); }

    std::string path(const std::string& name) const { return dir_.path() + "/" + name; }

    void edit_config(const std::function<void(nlohmann::json&)>& edit) const {
        nlohmann::json config = nlohmann::json::parse(std::ifstream(path("config.json")));
        edit(config);
        std::ofstream(path("config.json")) << config.dump();
    }

    // The error message of opening the folder as an embedder (the test fails if it opens).
    std::string open_error() const {
        auto e = Embedder::open(dir_.path());
        EXPECT_FALSE(e.ok());
        return e.ok() ? "" : e.status().message();
    }

    testing::TempDir dir_;
};

TEST_F(LoadErrors, TheUntouchedFolderLoads) {
    EXPECT_TRUE(Embedder::open(dir_.path()).ok());
}

TEST_F(LoadErrors, MisShapedTensorNamesExpectedAndFoundShapes) {
    edit_config([](nlohmann::json& c) { c["intermediate_size"] = 128; });
    const std::string m = open_error();
    EXPECT_NE(m.find("'encoder.layer.0.intermediate.dense.weight'"), std::string::npos) << m;
    EXPECT_NE(m.find("expected shape [128, 32], found [64, 32]"), std::string::npos) << m;
}

TEST_F(LoadErrors, MissingTensorIsNamed) {
    edit_config([](nlohmann::json& c) { c["num_hidden_layers"] = 3; });
    const std::string m = open_error();
    EXPECT_NE(m.find("'encoder.layer.2.attention.self.query.weight' is missing"), std::string::npos) << m;
}

TEST_F(LoadErrors, TruncatedWeightsAreDataLoss) {
    fs::resize_file(path("model.safetensors"), fs::file_size(path("model.safetensors")) / 2);
    auto e = Embedder::open(dir_.path());
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(e.status().message().find("model.safetensors"), std::string::npos) << e.status().message();
}

TEST_F(LoadErrors, MissingWeightsListWhatWasLookedFor) {
    fs::remove(path("model.safetensors"));
    const std::string m = open_error();
    EXPECT_NE(m.find("model.safetensors"), std::string::npos) << m;
    EXPECT_NE(m.find("pytorch_model.bin"), std::string::npos) << m;
}

TEST_F(LoadErrors, TokenizerThatIsNotSentencePiece) {
    std::ofstream(path("sentencepiece.bpe.model")) << "{\"version\": \"1.0\"}";
    const std::string m = open_error();
    EXPECT_NE(m.find("sentencepiece.bpe.model"), std::string::npos) << m;
}

TEST_F(LoadErrors, VocabularyLargerThanTheModel) {
    edit_config([](nlohmann::json& c) { c["vocab_size"] = 100; });
    const std::string m = open_error();
    EXPECT_NE(m.find("vocab_size is 100"), std::string::npos) << m;
}

TEST_F(LoadErrors, UnsupportedConfigNamesTheField) {
    edit_config([](nlohmann::json& c) { c["hidden_act"] = "relu"; });
    const std::string m = open_error();
    EXPECT_NE(m.find("config.json: field 'hidden_act'"), std::string::npos) << m;
}

TEST_F(LoadErrors, EmbedderFolderIsNotAReranker) {
    auto r = Reranker::open(dir_.path());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(r.status().message().find("holds an embedder"), std::string::npos) << r.status().message();
}

TEST_F(LoadErrors, AskingForAHeadThatIsMissing) {
    auto e = Embedder::open(dir_.path());  // the random folder has no sparse_linear.pt / colbert_linear.pt
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    const std::vector<std::string> texts = {"Deutschland"};
    auto out = (*e)->embed(texts, EmbedOptions{.dense = true, .sparse = true, .colbert = false});
    ASSERT_FALSE(out.ok());
    EXPECT_NE(out.status().message().find("sparse_linear.pt"), std::string::npos) << out.status().message();
    EXPECT_TRUE((*e)->embed(texts, EmbedOptions{.dense = true, .sparse = false, .colbert = false}).ok());
}

}  // namespace
}  // namespace bge
