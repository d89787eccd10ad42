// Golden tests: the engine against references computed by Hugging Face transformers in float64 with
// FlagEmbedding's formulas (tools/make_references.py), for every committed fixture model.
// Tolerance: 1e-4 absolute on every float; token ids and sparse id sets must be identical.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "bge/engine.h"
#include "support/golden_reference.h"

namespace bge {
namespace {

constexpr double kTolerance = 1e-4;

const std::string& kGolden = test::kGoldenDir;

void expect_near_vector(const std::vector<float>& got, const nlohmann::json& want, const std::string& what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_NEAR(got[i], want[i].get<double>(), kTolerance) << what << " [" << i << "]";
    }
}

void expect_embedding(const Embedding& e, const nlohmann::json& ref, const std::string& what) {
    EXPECT_EQ(e.n_tokens, static_cast<int>(ref["ids"].size())) << what;
    expect_near_vector(e.dense, ref["dense"], what + " dense");
    const auto& sparse = ref["sparse"];
    ASSERT_EQ(e.sparse.size(), sparse.size()) << what << " sparse id set";
    for (const SparseWeight& w : e.sparse) {
        const std::string key = std::to_string(w.token_id);
        ASSERT_TRUE(sparse.contains(key)) << what << " sparse id " << key << " not in the reference";
        EXPECT_NEAR(w.weight, sparse[key].get<double>(), kTolerance) << what << " sparse " << key;
    }
    const auto& colbert = ref["colbert"];
    ASSERT_EQ(e.colbert.size(), colbert.size() * static_cast<size_t>(e.colbert_dim)) << what << " colbert rows";
    for (size_t r = 0; r < colbert.size(); ++r) {
        std::vector<float> row(e.colbert.begin() + r * e.colbert_dim, e.colbert.begin() + (r + 1) * e.colbert_dim);
        expect_near_vector(row, colbert[r], what + " colbert row " + std::to_string(r));
    }
}

class EmbedderGolden : public ::testing::TestWithParam<std::string> {};

// Every text: token ids, dense, sparse and colbert within tolerance; embedded in one mixed batch
// per max_length, as callers do.
TEST_P(EmbedderGolden, OutputsMatchReference) {
    const auto ref = test::read_golden_reference(GetParam());
    auto embedder = Embedder::open(kGolden + GetParam());
    ASSERT_TRUE(embedder.ok()) << embedder.status().to_string();
    const std::map<int, std::vector<size_t>> by_length = test::embed_groups(ref);
    ASSERT_GE(by_length.size(), 2u) << "the fixture should cover the default and a truncating max_length";
    for (const auto& [max_length, entries] : by_length) {
        const std::vector<std::string> texts = test::embed_texts(ref, entries);
        EmbedOptions options;
        options.max_length = max_length;
        auto out = (*embedder)->embed(texts, options);
        ASSERT_TRUE(out.ok()) << out.status().to_string();
        for (size_t k = 0; k < entries.size(); ++k) {
            const auto& r = ref["embed"][entries[k]];
            auto ids = (*embedder)->tokenizer().encode(texts[k], max_length);
            ASSERT_TRUE(ids.ok());
            EXPECT_EQ(*ids, r["ids"].get<std::vector<int32_t>>()) << "text " << r["text"];
            expect_embedding((*out)[k], r, "text " + r["text"].dump() + " max_length " + std::to_string(max_length));
        }
    }
}

// The M3 scores of query/passage pairs, with the fixture's weights.
TEST_P(EmbedderGolden, M3ScoresMatchReference) {
    const auto ref = test::read_golden_reference(GetParam());
    auto embedder = Embedder::open(kGolden + GetParam());
    ASSERT_TRUE(embedder.ok()) << embedder.status().to_string();
    const auto w = ref["weights"].get<std::vector<float>>();
    ASSERT_EQ(w.size(), 3u);
    ASSERT_FALSE(ref["score"].empty());
    for (const auto& s : ref["score"]) {
        const std::vector<std::string> texts = {s["query"].get<std::string>(), s["passage"].get<std::string>()};
        auto out = (*embedder)->embed(texts);
        ASSERT_TRUE(out.ok()) << out.status().to_string();
        auto scores = m3_scores((*out)[0], (*out)[1], {w[0], w[1], w[2]});
        ASSERT_TRUE(scores.ok()) << scores.status().to_string();
        const std::string what = "pair " + s["query"].dump();
        EXPECT_NEAR(scores->dense, s["dense"].get<double>(), kTolerance) << what;
        EXPECT_NEAR(scores->sparse, s["sparse"].get<double>(), kTolerance) << what;
        EXPECT_NEAR(scores->colbert, s["colbert"].get<double>(), kTolerance) << what;
        EXPECT_NEAR(scores->sparse_dense, s["sparse+dense"].get<double>(), kTolerance) << what;
        EXPECT_NEAR(scores->colbert_sparse_dense, s["colbert+sparse+dense"].get<double>(), kTolerance) << what;
    }
}

// A text gives the same outputs alone as inside a mixed batch (1e-5: GEMM blocking may differ with n_tokens).
TEST_P(EmbedderGolden, BatchInvariance) {
    const auto ref = test::read_golden_reference(GetParam());
    auto embedder = Embedder::open(kGolden + GetParam());
    ASSERT_TRUE(embedder.ok()) << embedder.status().to_string();
    std::vector<std::string> texts;
    for (const auto& e : ref["embed"]) texts.push_back(e["text"].get<std::string>());
    auto together = (*embedder)->embed(texts);
    ASSERT_TRUE(together.ok());
    for (size_t i = 0; i < texts.size(); i += 7) {
        auto alone = (*embedder)->embed(std::span<const std::string>(&texts[i], 1));
        ASSERT_TRUE(alone.ok());
        const Embedding& a = (*alone)[0];
        const Embedding& b = (*together)[i];
        ASSERT_EQ(a.n_tokens, b.n_tokens);
        for (size_t k = 0; k < a.dense.size(); ++k) ASSERT_NEAR(a.dense[k], b.dense[k], 1e-5) << "text " << i;
        ASSERT_EQ(a.colbert.size(), b.colbert.size());
        for (size_t k = 0; k < a.colbert.size(); ++k) ASSERT_NEAR(a.colbert[k], b.colbert[k], 1e-5) << "text " << i;
        ASSERT_EQ(a.sparse.size(), b.sparse.size()) << "text " << i;
    }
}

// The thread count (1, 2, 16 on any core count) changes only rounding: oneDNN's GEMMs may split their reduction
// by thread count (its AVX2 kernels do), so results agree within 1e-5, not bitwise.
TEST_P(EmbedderGolden, ThreadInvariance) {
    const auto ref = test::read_golden_reference(GetParam());
    std::vector<std::string> texts;
    for (const auto& e : ref["embed"]) texts.push_back(e["text"].get<std::string>());
    std::vector<Embedding> first;
    for (int n_threads : {1, 2, 16}) {
        auto embedder = Embedder::open(kGolden + GetParam(), EngineOptions{.n_threads = n_threads});
        ASSERT_TRUE(embedder.ok()) << embedder.status().to_string();
        auto got = (*embedder)->embed(texts);
        ASSERT_TRUE(got.ok()) << got.status().to_string();
        if (first.empty()) {
            first = std::move(*got);
            continue;
        }
        for (size_t i = 0; i < texts.size(); ++i) {
            const Embedding& a = first[i];
            const Embedding& b = (*got)[i];
            for (size_t k = 0; k < a.dense.size(); ++k) ASSERT_NEAR(a.dense[k], b.dense[k], 1e-5) << n_threads;
            ASSERT_EQ(a.colbert.size(), b.colbert.size());
            for (size_t k = 0; k < a.colbert.size(); ++k) ASSERT_NEAR(a.colbert[k], b.colbert[k], 1e-5) << n_threads;
            ASSERT_EQ(a.sparse.size(), b.sparse.size()) << "text " << i << ", " << n_threads << " threads";
            for (size_t k = 0; k < a.sparse.size(); ++k) {
                ASSERT_EQ(a.sparse[k].token_id, b.sparse[k].token_id);
                ASSERT_NEAR(a.sparse[k].weight, b.sparse[k].weight, 1e-5) << n_threads;
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, EmbedderGolden, ::testing::Values("m3", "m3-bin", "m3-f16-sharded"));

class RerankerGolden : public ::testing::TestWithParam<std::string> {};

// Pair ids (longest_first truncation), logits and sigmoid scores, pairs batched by max_length.
TEST_P(RerankerGolden, ScoresMatchReference) {
    const auto ref = test::read_golden_reference(GetParam());
    auto reranker = Reranker::open(kGolden + GetParam());
    ASSERT_TRUE(reranker.ok()) << reranker.status().to_string();
    std::map<int, std::vector<size_t>> by_length;
    for (size_t i = 0; i < ref["rerank"].size(); ++i) by_length[ref["rerank"][i]["max_length"].get<int>()].push_back(i);
    ASSERT_GE(by_length.size(), 2u) << "the fixture should cover the default and a truncating max_length";
    for (const auto& [max_length, entries] : by_length) {
        std::vector<TextPair> pairs;
        for (size_t i : entries) {
            pairs.push_back(
                {ref["rerank"][i]["query"].get<std::string>(), ref["rerank"][i]["passage"].get<std::string>()});
        }
        auto out = (*reranker)->rerank(pairs, max_length);
        ASSERT_TRUE(out.ok()) << out.status().to_string();
        for (size_t k = 0; k < entries.size(); ++k) {
            const auto& r = ref["rerank"][entries[k]];
            auto ids = (*reranker)->tokenizer().encode_pair(pairs[k].query, pairs[k].passage, max_length);
            ASSERT_TRUE(ids.ok());
            EXPECT_EQ(*ids, r["ids"].get<std::vector<int32_t>>()) << "pair " << r["query"];
            EXPECT_EQ((*out)[k].n_tokens, static_cast<int>(r["ids"].size()));
            EXPECT_NEAR((*out)[k].logit, r["logit"].get<double>(), kTolerance) << "pair " << r["query"];
            EXPECT_NEAR((*out)[k].score, r["score"].get<double>(), kTolerance) << "pair " << r["query"];
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, RerankerGolden, ::testing::Values("reranker", "reranker-bf16-bin"));

}  // namespace
}  // namespace bge
