// Workspaces that cannot be allocated are kResourceExhausted naming the bytes, never an abort; the
// engine with a budget far past memory still runs (its workspace grows to the batches that come).
#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "bge/engine.h"
#include "io/model_dir.h"
#include "model/heads.h"
#include "model/xlmr_encoder.h"

namespace bge {
namespace {

const std::string kM3 = std::string(BGE_TEST_DIR) + "/golden/m3";

TEST(Workspace, TooLargeIsResourceExhaustedNamingTheBytes) {
    auto backend = make_cpu_backend(1);
    auto files = io::find_model_files(kM3);
    ASSERT_TRUE(files.ok());
    auto config_text = io::read_text_file(files->config_json);
    ASSERT_TRUE(config_text.ok());
    auto config = parse_config(*config_text, files->config_json);
    ASSERT_TRUE(config.ok());
    auto tensors = io::read_weight_files(files->weight_files);
    ASSERT_TRUE(tensors.ok());
    auto encoder = XlmrEncoder::load(*config, WeightReader(*tensors, ""), *backend);
    ASSERT_TRUE(encoder.ok()) << encoder.status().message();

    auto ws = (*encoder)->make_workspace(int64_t{1} << 40);  // 2^40 tokens: 4.4 TB of ids alone
    ASSERT_FALSE(ws.ok());
    EXPECT_EQ(ws.status().code(), StatusCode::kResourceExhausted);
    EXPECT_NE(ws.status().message().find("4398046511104 bytes"), std::string::npos) << ws.status().message();
    EXPECT_TRUE((*encoder)->make_workspace(256).ok());

    auto colbert = io::read_tensor_file(files->colbert_linear);
    ASSERT_TRUE(colbert.ok());
    auto heads = M3Heads::load(nullptr, &*colbert, config->hidden_size, *backend);
    ASSERT_TRUE(heads.ok());
    auto heads_ws = (*heads)->make_workspace(int64_t{1} << 40);
    ASSERT_FALSE(heads_ws.ok());
    EXPECT_EQ(heads_ws.status().code(), StatusCode::kResourceExhausted);
}

TEST(Workspace, BudgetPastMemoryRunsTheBatchesThatCome) {
    auto e = Embedder::open(kM3, EngineOptions{.n_threads = 1, .max_batch_tokens = 2'000'000'000});
    ASSERT_TRUE(e.ok()) << e.status().message();
    const std::vector<std::string> texts(50, "Grüße aus Deutschland");
    auto out = (*e)->embed(texts);
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(out->size(), 50u);
}

TEST(Workspace, ThreadCountPastTheLimitIsAnError) {
    auto e = Embedder::open(kM3, EngineOptions{.n_threads = 2'000'000'000});
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().message(), "n_threads 2000000000 is not in [0, 1024]");
}

}  // namespace
}  // namespace bge
