// The committed golden fixtures (tests/golden, float64 transformers references) through the engine on CUDA,
// in every dtype (label "cuda"; skipped without a GPU). Bounds per dtype, on what the outputs mean:
//   dense and every colbert vector: cosine to the reference >= 1 - (fp32 1e-8, fp16 1e-5, bf16 1e-3);
//   sparse weights: |diff| <= (fp32 1e-4, fp16 5e-3, bf16 5e-2), an id on one side only counted by its weight;
//   reranker logits: |diff| <= (fp32 1e-4, fp16 5e-2, bf16 4e-1). The fixtures are tiny models with large
//   weights (std 0.2) and logits spread over about [-4, 4], so low-precision rounding is amplified far beyond
//   the full-size model's (bench/gpu_fidelity.py holds the real bars). Measured on an H200: sparse 2.2e-3 /
//   2.5e-2, logits 2.2e-2 / 1.8e-1.
// Batch invariance: a text alone vs inside the mixed batch, max |diff| of dense/colbert elements
// <= fp32 1e-6, fp16 2e-3, bf16 1e-2 (GEMM algorithms may differ with the row count).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "backend/cuda/cuda_backend.h"
#include "bge/engine.h"
#include "support/batch_invariance.h"
#include "support/golden_reference.h"

namespace bge {
namespace {

const std::string& kGolden = test::kGoldenDir;  // BGE_TEST_DIR in the environment overrides the build's path

struct Bounds {
    double cos, sparse, logit, invariance;
};
Bounds bounds(const std::string& dtype) {
    if (dtype == "fp16") return {1e-5, 5e-3, 5e-2, 2e-3};
    if (dtype == "bf16") return {1e-3, 5e-2, 4e-1, 1e-2};
    return {1e-8, 1e-4, 1e-4, 1e-6};
}

double cosine(const float* a, const nlohmann::json& b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; ++i) {
        const double y = b[i].get<double>();
        ab += a[i] * y;
        aa += static_cast<double>(a[i]) * a[i];
        bb += y * y;
    }
    return ab / std::sqrt(aa * bb);
}

EngineOptions cuda_options(const std::string& dtype) {
    EngineOptions o;
    o.device = "cuda";
    o.dtype = dtype;
    return o;
}

bool have_gpu() {
    return make_cuda_backend(0, DType::kF32).ok();
}

using Param = std::tuple<std::string, std::string>;  // fixture, dtype
class CudaEmbedderGolden : public ::testing::TestWithParam<Param> {};

TEST_P(CudaEmbedderGolden, OutputsMatchReference) {
    if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
    const auto& [fixture, dtype] = GetParam();
    const Bounds b = bounds(dtype);
    const auto ref = test::read_golden_reference(fixture);
    auto embedder = Embedder::open(kGolden + fixture, cuda_options(dtype));
    ASSERT_TRUE(embedder.ok()) << embedder.status().to_string();
    const std::map<int, std::vector<size_t>> by_length = test::embed_groups(ref);
    double worst_cos = 1, worst_sparse = 0;
    for (const auto& [max_length, entries] : by_length) {
        const std::vector<std::string> texts = test::embed_texts(ref, entries);
        EmbedOptions options;
        options.max_length = max_length;
        auto out = (*embedder)->embed(texts, options);
        ASSERT_TRUE(out.ok()) << out.status().to_string();
        for (size_t k = 0; k < entries.size(); ++k) {
            const auto& r = ref["embed"][entries[k]];
            const Embedding& e = (*out)[k];
            ASSERT_EQ(e.n_tokens, static_cast<int>(r["ids"].size()));
            worst_cos = std::min(worst_cos, cosine(e.dense.data(), r["dense"], e.dense.size()));
            ASSERT_EQ(e.colbert.size(), r["colbert"].size() * e.colbert_dim);
            for (size_t row = 0; row < r["colbert"].size(); ++row) {
                worst_cos = std::min(worst_cos,
                                     cosine(e.colbert.data() + row * e.colbert_dim, r["colbert"][row], e.colbert_dim));
            }
            std::map<std::string, double> got;
            for (const SparseWeight& w : e.sparse) got[std::to_string(w.token_id)] = w.weight;
            for (const auto& [id, want] : r["sparse"].items()) {
                const double g = got.count(id) ? got[id] : 0.0;
                worst_sparse = std::max(worst_sparse, std::abs(g - want.get<double>()));
                got.erase(id);
            }
            for (const auto& [id, w] : got) worst_sparse = std::max(worst_sparse, w);  // only in ours
        }
    }
    std::printf("%s %s: min cosine %.9f, max sparse |diff| %.3g\n", fixture.c_str(), dtype.c_str(), worst_cos,
                worst_sparse);
    EXPECT_GE(worst_cos, 1 - b.cos);
    EXPECT_LE(worst_sparse, b.sparse);
}

TEST_P(CudaEmbedderGolden, BatchInvariance) {
    if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
    const auto& [fixture, dtype] = GetParam();
    const auto ref = test::read_golden_reference(fixture);
    auto embedder = Embedder::open(kGolden + fixture, cuda_options(dtype));
    ASSERT_TRUE(embedder.ok()) << embedder.status().to_string();
    std::vector<std::string> texts;
    for (const auto& e : ref["embed"]) texts.push_back(e["text"].get<std::string>());
    const double worst = test::alone_vs_batch_max_diff(**embedder, texts, /*same_sparse_ids=*/false);
    std::printf("%s %s: batch invariance max |diff| %.3g\n", fixture.c_str(), dtype.c_str(), worst);
    EXPECT_LE(worst, bounds(dtype).invariance);
}

// A batch of more than 2 x kFfnChunkTokens tokens (the feed-forward block runs in row chunks) gives each text
// what it gives in small batches, within the batch-invariance bound.
TEST_P(CudaEmbedderGolden, LargeBatchMatchesSmallBatches) {
    if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
    const auto& [fixture, dtype] = GetParam();
    const auto ref = test::read_golden_reference(fixture);
    EngineOptions large = cuda_options(dtype);
    large.max_batch_tokens = 20000;
    auto big = Embedder::open(kGolden + fixture, large);
    auto small = Embedder::open(kGolden + fixture, cuda_options(dtype));
    ASSERT_TRUE(big.ok() && small.ok());
    std::vector<std::string> texts;
    int64_t tokens = 0;
    while (tokens < 17000) {
        for (const auto& e : ref["embed"]) {
            texts.push_back(e["text"].get<std::string>() + " " + std::to_string(texts.size()));
            tokens += static_cast<int64_t>(e["ids"].size()) + 2;
        }
    }
    EmbedOptions options;
    options.sparse = false;
    auto a = (*big)->embed(texts, options);
    auto b = (*small)->embed(texts, options);
    ASSERT_TRUE(a.ok() && b.ok());
    double worst = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
        for (size_t k = 0; k < (*a)[i].dense.size(); ++k) {
            worst = std::max(worst, std::abs(double((*a)[i].dense[k]) - (*b)[i].dense[k]));
        }
    }
    EXPECT_LE(worst, bounds(dtype).invariance) << texts.size() << " texts";
}

// A token budget the GPU cannot hold is refused at open (the workspace is reserved for the whole budget then,
// never grown inside a forward), saying what fits; that budget then opens.
TEST(CudaWorkspace, BudgetTheGpuCannotHoldIsRefusedSayingWhatFits) {
    if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
    EngineOptions huge = cuda_options("fp32");
    huge.max_batch_tokens = 2'000'000'000;
    auto refused = Embedder::open(kGolden + "m3", huge);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
    const std::string& message = refused.status().message();
    const size_t at = message.find("batches of up to ");
    ASSERT_NE(at, std::string::npos) << message;
    EngineOptions fits = huge;
    fits.max_batch_tokens = std::stoi(message.substr(at + std::strlen("batches of up to ")));
    EXPECT_LT(fits.max_batch_tokens, huge.max_batch_tokens);
    auto opened = Embedder::open(kGolden + "m3", fits);
    EXPECT_TRUE(opened.ok()) << opened.status().to_string();
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaEmbedderGolden,
                         ::testing::Combine(::testing::Values("m3", "m3-bin", "m3-f16-sharded"),
                                            ::testing::Values("fp32", "fp16", "bf16")),
                         [](const auto& info) {
                             std::string name = std::get<0>(info.param) + "_" + std::get<1>(info.param);
                             for (char& c : name) c = c == '-' ? '_' : c;
                             return name;
                         });

class CudaRerankerGolden : public ::testing::TestWithParam<Param> {};

TEST_P(CudaRerankerGolden, LogitsMatchReference) {
    if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
    const auto& [fixture, dtype] = GetParam();
    const auto ref = test::read_golden_reference(fixture);
    auto reranker = Reranker::open(kGolden + fixture, cuda_options(dtype));
    ASSERT_TRUE(reranker.ok()) << reranker.status().to_string();
    std::map<int, std::vector<size_t>> by_length;
    for (size_t i = 0; i < ref["rerank"].size(); ++i) by_length[ref["rerank"][i]["max_length"].get<int>()].push_back(i);
    double worst = 0;
    for (const auto& [max_length, entries] : by_length) {
        std::vector<TextPair> pairs;
        for (size_t i : entries) {
            pairs.push_back(
                {ref["rerank"][i]["query"].get<std::string>(), ref["rerank"][i]["passage"].get<std::string>()});
        }
        auto out = (*reranker)->rerank(pairs, max_length);
        ASSERT_TRUE(out.ok()) << out.status().to_string();
        for (size_t k = 0; k < entries.size(); ++k) {
            worst = std::max(worst, std::abs((*out)[k].logit - ref["rerank"][entries[k]]["logit"].get<double>()));
        }
    }
    std::printf("%s %s: max logit |diff| %.3g\n", fixture.c_str(), dtype.c_str(), worst);
    EXPECT_LE(worst, bounds(dtype).logit);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaRerankerGolden,
                         ::testing::Combine(::testing::Values("reranker", "reranker-bf16-bin"),
                                            ::testing::Values("fp32", "fp16", "bf16")),
                         [](const auto& info) {
                             std::string name = std::get<0>(info.param) + "_" + std::get<1>(info.param);
                             for (char& c : name) c = c == '-' ? '_' : c;
                             return name;
                         });

}  // namespace
}  // namespace bge
