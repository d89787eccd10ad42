// Full-width models with random weights written at test time (label "large"):
// - BGE-M3's shape (24 layers, hidden 1024, 16 heads, FFN 4096, 8194 positions) runs a 512-token input;
// - a 2-layer full-width variant runs an 8192-token input with bounded memory growth.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cmath>
#include <string>

#include "bge/engine.h"
#include "support/random_model.h"

namespace bge {
namespace {

int64_t peak_rss_mb() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss / 1024;
}

// A text of many short multilingual words: far more than 8192 tokens with the test vocabulary.
std::string long_text() {
    std::string text;
    for (int i = 0; i < 6000; ++i) text += (i % 3 == 0 ? "Deutschland " : i % 3 == 1 ? "Россия " : "日本 ");
    return text;
}

void expect_unit_finite(const std::vector<float>& v) {
    double norm = 0;
    for (float x : v) {
        ASSERT_TRUE(std::isfinite(x));
        norm += static_cast<double>(x) * x;
    }
    EXPECT_NEAR(norm, 1.0, 1e-4);
}

TEST(LargeModel, BgeM3ShapeRuns512Tokens) {
    testing::TempDir dir;
    testing::RandomModelSpec spec{.layers = 24, .hidden = 1024, .heads = 16, .ffn = 4096, .max_positions = 8194};
    testing::write_random_model(dir.path(), spec);
    auto embedder = Embedder::open(dir.path());
    ASSERT_TRUE(embedder.ok()) << embedder.status().to_string();
    EXPECT_EQ((*embedder)->info().max_length, 8192);
    EmbedOptions options{.dense = true, .sparse = false, .colbert = false, .max_length = 512};
    const std::vector<std::string> texts = {long_text()};
    auto out = (*embedder)->embed(texts, options);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ((*out)[0].n_tokens, 512);
    ASSERT_EQ((*out)[0].dense.size(), 1024u);
    expect_unit_finite((*out)[0].dense);
}

TEST(LargeModel, TwoLayersRun8192TokensInBoundedMemory) {
    testing::TempDir dir;
    testing::RandomModelSpec spec{.layers = 2, .hidden = 1024, .heads = 16, .ffn = 4096, .max_positions = 8194};
    testing::write_random_model(dir.path(), spec);
    auto embedder = Embedder::open(dir.path(), EngineOptions{.n_threads = 0, .max_batch_tokens = 8192});
    ASSERT_TRUE(embedder.ok()) << embedder.status().to_string();
    const int64_t before = peak_rss_mb();
    EmbedOptions options{.dense = true, .sparse = false, .colbert = false, .max_length = 0};
    const std::vector<std::string> texts = {long_text()};
    auto out = (*embedder)->embed(texts, options);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ((*out)[0].n_tokens, 8192);
    expect_unit_finite((*out)[0].dense);
    // The workspace for 8192 tokens is ~0.4 GB; one head's [L, L] fp32 scores alone would be 0.27 GB
    // and all 16 heads' 4.3 GB.
    const int64_t growth = peak_rss_mb() - before;
    EXPECT_LT(growth, 1024) << "peak RSS grew by " << growth << " MB during an 8192-token forward";
}

}  // namespace
}  // namespace bge
