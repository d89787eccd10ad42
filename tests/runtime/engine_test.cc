// Engine (the serving path) on the tiny fixture models: results bit for bit those of the synchronous
// Embedder/Reranker, from many threads at once; token-id inputs; truncation on and off; the bounded
// queue's kUnavailable; draining; several workers (two CPU workers, one failing on purpose).
#include "bge/engine.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

namespace bge {
namespace {

const std::string kM3 = std::string(BGE_TEST_DIR) + "/golden/m3";
const std::string kReranker = std::string(BGE_TEST_DIR) + "/golden/reranker";

std::vector<std::string> texts() {
    std::vector<std::string> t;
    for (int i = 0; i < 24; ++i) {
        std::string s = "text " + std::to_string(i);
        for (int k = 0; k < i % 7; ++k) s += " more words about item " + std::to_string(k);
        t.push_back(s);
    }
    return t;
}

EmbedRequest embed_request(const std::vector<std::string>& t) {
    EmbedRequest r;
    for (const std::string& s : t) r.inputs.push_back({s, {}, false});
    return r;
}

// The engine batches inputs differently from the synchronous calls. On AVX-512 the outputs are bitwise equal; oneDNN's
// AVX2 GEMMs split their reduction by batch size, so the bound is 1e-5 (as for thread counts, tests/model).
void expect_near(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5) << what << " [" << i << "]";
}

void expect_same(const Embedding& a, const Embedding& b, const std::string& what) {
    EXPECT_EQ(a.n_tokens, b.n_tokens) << what;
    expect_near(a.dense, b.dense, what + " dense");
    expect_near(a.colbert, b.colbert, what + " colbert");
    ASSERT_EQ(a.sparse.size(), b.sparse.size()) << what;
    for (size_t i = 0; i < a.sparse.size(); ++i) {
        EXPECT_EQ(a.sparse[i].token_id, b.sparse[i].token_id) << what;
        EXPECT_NEAR(a.sparse[i].weight, b.sparse[i].weight, 1e-5) << what;
    }
}

ServeOptions both() {
    ServeOptions o;
    o.embedder_dir = kM3;
    o.reranker_dir = kReranker;
    o.engine.n_threads = 1;
    o.max_wait_us = 500;
    return o;
}

// Sends every text from n_threads threads, 3 per request, and checks each answer against the synchronous embedder's.
void expect_concurrent_answers_match(Engine& engine, int n_threads) {
    EngineOptions sync_options;
    sync_options.n_threads = 1;
    auto embedder = Embedder::open(kM3, sync_options);
    ASSERT_TRUE(embedder.ok());
    const std::vector<std::string> t = texts();
    auto want = (*embedder)->embed(t);
    ASSERT_TRUE(want.ok());
    std::vector<std::thread> threads;
    for (int th = 0; th < n_threads; ++th) {
        threads.emplace_back([&, th] {
            for (size_t i = 0; i < t.size(); i += 3) {
                std::vector<std::string> part(t.begin() + i, t.begin() + std::min(i + 3, t.size()));
                auto r = engine.submit(embed_request(part)).get();
                ASSERT_TRUE(r.ok()) << r.status().to_string();
                ASSERT_EQ(r->embeddings.size(), part.size());
                for (size_t k = 0; k < part.size(); ++k) {
                    expect_same(r->embeddings[k], (*want)[i + k], "thread " + std::to_string(th));
                }
            }
        });
    }
    for (auto& th : threads) th.join();
}

TEST(EngineTest, ConcurrentRequestsEqualTheSynchronousApiBitForBit) {
    auto engine = Engine::open(both());
    ASSERT_TRUE(engine.ok()) << engine.status().to_string();
    ASSERT_TRUE((*engine)->warm_up().ok());
    expect_concurrent_answers_match(**engine, 8);
}

TEST(EngineTest, OnlyTheOutputsAskedForComeBack) {
    auto engine = Engine::open(both());
    ASSERT_TRUE(engine.ok());
    EmbedRequest dense_only = embed_request({"hello world"});
    dense_only.outputs = {true, false, false, 0};
    EmbedRequest all = embed_request({"hello world"});
    auto a = (*engine)->submit(std::move(dense_only));
    auto b = (*engine)->submit(std::move(all));
    auto ra = a.get(), rb = b.get();
    ASSERT_TRUE(ra.ok() && rb.ok());
    EXPECT_TRUE(ra->embeddings[0].sparse.empty());
    EXPECT_TRUE(ra->embeddings[0].colbert.empty());
    EXPECT_EQ(ra->embeddings[0].dense, rb->embeddings[0].dense);
    EXPECT_FALSE(rb->embeddings[0].sparse.empty());
}

TEST(EngineTest, TokenIdsAndTruncation) {
    auto engine = Engine::open(both());
    ASSERT_TRUE(engine.ok());
    auto ids = (*engine)->embedder_tokenizer().encode("hello world");
    ASSERT_TRUE(ids.ok());
    EmbedRequest by_ids;
    by_ids.inputs.push_back({"", std::vector<int32_t>(ids->begin() + 1, ids->end() - 1), true});
    auto r_ids = (*engine)->submit(std::move(by_ids)).get();
    auto r_text = (*engine)->submit(embed_request({"hello world"})).get();
    ASSERT_TRUE(r_ids.ok() && r_text.ok()) << r_ids.status().to_string();
    expect_same(r_ids->embeddings[0], r_text->embeddings[0], "ids vs text");

    EmbedRequest bad_id;
    bad_id.inputs.push_back({"", {5, 999999}, true});
    EXPECT_EQ((*engine)->submit(std::move(bad_id)).get().status().code(), StatusCode::kInvalidArgument);

    std::string long_text;
    for (int i = 0; i < 400; ++i) long_text += "word ";
    EmbedRequest cut = embed_request({long_text});
    auto r_cut = (*engine)->submit(std::move(cut)).get();
    ASSERT_TRUE(r_cut.ok());
    EXPECT_EQ(r_cut->embeddings[0].n_tokens, (*engine)->max_length(false));
    EmbedRequest refuse = embed_request({long_text});
    refuse.control.truncate = false;
    auto r_refuse = (*engine)->submit(std::move(refuse)).get();
    EXPECT_EQ(r_refuse.status().code(), StatusCode::kOutOfRange);

    RerankRequest pairs;
    pairs.pairs = {{"query", long_text}};
    pairs.control.truncate = false;
    EXPECT_EQ((*engine)->submit(std::move(pairs)).get().status().code(), StatusCode::kOutOfRange);

    // keep_tail: text and token-id inputs keep their last tokens, the same for both.
    std::string tail_text = long_text + "hello world";
    std::vector<int32_t> body(ids->begin() + 1, ids->end() - 1);
    std::vector<int32_t> word = (*engine)->embedder_tokenizer().encode("word").value();
    std::vector<int32_t> long_ids;
    for (int i = 0; i < 400; ++i) long_ids.insert(long_ids.end(), word.begin() + 1, word.end() - 1);
    long_ids.insert(long_ids.end(), body.begin(), body.end());
    EmbedRequest tail_by_text = embed_request({tail_text});
    tail_by_text.control.keep_tail = true;
    EmbedRequest tail_by_ids;
    tail_by_ids.inputs.push_back({"", long_ids, true});
    tail_by_ids.control.keep_tail = true;
    auto r_tail_text = (*engine)->submit(std::move(tail_by_text)).get();
    auto r_tail_ids = (*engine)->submit(std::move(tail_by_ids)).get();
    ASSERT_TRUE(r_tail_text.ok() && r_tail_ids.ok());
    expect_same(r_tail_text->embeddings[0], r_tail_ids->embeddings[0], "tail: ids vs text");
    EXPECT_EQ(r_tail_ids->embeddings[0].n_tokens, (*engine)->max_length(false));
    auto r_head = (*engine)->submit(embed_request({tail_text})).get();
    ASSERT_TRUE(r_head.ok());
    EXPECT_NE(r_head->embeddings[0].dense, r_tail_text->embeddings[0].dense);
}

TEST(EngineTest, RerankEqualsTheSynchronousReranker) {
    auto engine = Engine::open(both());
    ASSERT_TRUE(engine.ok());
    EngineOptions sync_options;
    sync_options.n_threads = 1;
    auto reranker = Reranker::open(kReranker, sync_options);
    ASSERT_TRUE(reranker.ok());
    std::vector<TextPair> pairs = {{"what is a panda?", "a bear"}, {"what is a panda?", "hi"}, {"q", "p p p p"}};
    auto want = (*reranker)->rerank(pairs);
    RerankRequest request;
    request.pairs = pairs;
    auto got = (*engine)->submit(std::move(request)).get();
    ASSERT_TRUE(got.ok() && want.ok());
    for (size_t i = 0; i < pairs.size(); ++i) {
        EXPECT_NEAR(got->scores[i].logit, (*want)[i].logit, 1e-5);
        EXPECT_EQ(got->scores[i].n_tokens, (*want)[i].n_tokens);
    }
}

TEST(EngineTest, RefusalsAreImmediateAndNamed) {
    ServeOptions o = both();
    o.max_queue = 4;
    o.reranker_dir.clear();
    auto engine = Engine::open(o);
    ASSERT_TRUE(engine.ok());
    EXPECT_EQ((*engine)->submit(embed_request({})).get().status().code(), StatusCode::kInvalidArgument);
    auto too_many = (*engine)->submit(embed_request({"a", "b", "c", "d", "e"})).get();
    EXPECT_EQ(too_many.status().code(), StatusCode::kOutOfRange);  // could never fit: not worth a retry
    EXPECT_NE(too_many.status().message().find("max_queue 4"), std::string::npos);
    RerankRequest r;
    r.pairs = {{"q", "p"}};
    EXPECT_EQ((*engine)->submit(std::move(r)).get().status().code(), StatusCode::kFailedPrecondition);
    EmbedRequest none = embed_request({"a"});
    none.outputs = {false, false, false, 0};
    EXPECT_EQ((*engine)->submit(std::move(none)).get().status().code(), StatusCode::kInvalidArgument);
    EmbedRequest expired = embed_request({"a"});
    expired.control.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    EXPECT_EQ((*engine)->submit(std::move(expired)).get().status().code(), StatusCode::kDeadlineExceeded);
    EXPECT_EQ((*engine)->queue_depth(), 0);
}

TEST(EngineTest, DrainAnswersEverythingAcceptedThenRefuses) {
    auto engine = Engine::open(both());
    ASSERT_TRUE(engine.ok());
    std::vector<std::future<StatusOr<EmbedResponse>>> futures;
    for (int i = 0; i < 50; ++i) futures.push_back((*engine)->submit(embed_request({"request " + std::to_string(i)})));
    (*engine)->drain();
    for (auto& f : futures) EXPECT_TRUE(f.get().ok());
    EXPECT_EQ((*engine)->submit(embed_request({"late"})).get().status().code(), StatusCode::kUnavailable);
    EXPECT_FALSE((*engine)->healthy());
    const std::string metrics = (*engine)->metrics_text();
    EXPECT_NE(metrics.find("bge_batch_size_count"), std::string::npos);
    EXPECT_NE(metrics.find("bge_engine_requests_total{model=\"embedder\",outcome=\"ok\"} 50"), std::string::npos);
}

ServeOptions two_cpu_workers() {
    ServeOptions o = both();
    o.engine.device = "cpu,cpu";
    o.max_batch_requests = 2;  // many batches, so both workers take some
    return o;
}

TEST(EngineTest, TwoWorkersShareTheLoadAndAgreeWithTheSynchronousApi) {
    auto engine = Engine::open(two_cpu_workers());
    ASSERT_TRUE(engine.ok()) << engine.status().to_string();
    ASSERT_TRUE((*engine)->warm_up().ok());
    ASSERT_EQ((*engine)->worker_infos(false).size(), 2u);
    EXPECT_EQ((*engine)->worker_infos(true).size(), 2u);
    expect_concurrent_answers_match(**engine, 4);
    int64_t tokens = 0;
    for (const WorkerStatus& w : (*engine)->workers()) {
        EXPECT_TRUE(w.healthy);
        EXPECT_EQ(w.device, "cpu");
        if (w.model == "embedder") {
            EXPECT_GT(w.batches, 0) << "worker " << w.index << " took no batch";
            tokens += w.tokens;
        }
    }
    EXPECT_GT(tokens, 0);
    EXPECT_FALSE((*engine)->degraded());
    const std::string metrics = (*engine)->metrics_text();
    EXPECT_NE(metrics.find("bge_worker_healthy{model=\"embedder\",worker=\"1\",device=\"cpu\"} 1"), std::string::npos)
        << metrics;
}

TEST(EngineTest, AFailedWorkersBatchesAreAnsweredByTheOther) {
    ASSERT_EQ(setenv("BGE_TEST_FAIL_WORKER", "1@2", 1), 0);
    auto engine = Engine::open(two_cpu_workers());
    unsetenv("BGE_TEST_FAIL_WORKER");
    ASSERT_TRUE(engine.ok()) << engine.status().to_string();
    ASSERT_TRUE((*engine)->warm_up().ok());        // not counted by the switch
    expect_concurrent_answers_match(**engine, 4);  // no request lost or answered with another's vectors
    EXPECT_TRUE((*engine)->healthy());
    EXPECT_TRUE((*engine)->degraded());
    for (const WorkerStatus& w : (*engine)->workers()) {
        if (w.model != "embedder") continue;
        EXPECT_EQ(w.healthy, w.index == 0) << "worker " << w.index;
        if (w.index == 1) {
            EXPECT_EQ(w.failures, 1);
            EXPECT_EQ(w.batches, 1);
            EXPECT_NE(w.error.find("injected failure"), std::string::npos) << w.error;
        }
    }
    EXPECT_NE(
        (*engine)->metrics_text().find("bge_worker_failures_total{model=\"embedder\",worker=\"1\",device=\"cpu\"} 1"),
        std::string::npos);
}

TEST(EngineTest, DeviceListsAndTheFailureSwitchAreChecked) {
    ServeOptions o = two_cpu_workers();
    o.engine.device = "cpu,gpu";
    auto bad = Engine::open(o);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(bad.status().message().find("'gpu'"), std::string::npos) << bad.status().to_string();
    ASSERT_EQ(setenv("BGE_TEST_FAIL_WORKER", "one@2", 1), 0);
    auto switch_bad = Engine::open(two_cpu_workers());
    unsetenv("BGE_TEST_FAIL_WORKER");
    ASSERT_FALSE(switch_bad.ok());
    EXPECT_NE(switch_bad.status().message().find("BGE_TEST_FAIL_WORKER"), std::string::npos);
    o.engine.device = "cpu,cpu";
    o.engine.dtype = "fp32,bf16,int8";
    auto dtypes_bad = Engine::open(o);
    ASSERT_FALSE(dtypes_bad.ok());
    EXPECT_NE(dtypes_bad.status().message().find("3 dtypes for 2 devices"), std::string::npos);
    EngineOptions one;
    one.device = "cpu,cpu";
    auto embedder = Embedder::open(kM3, one);  // one device only outside the serving engine
    ASSERT_FALSE(embedder.ok());
    EXPECT_EQ(embedder.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bge
