// Loads a model folder and runs requests through it: tokenize, pack into token-budget batches
// (longest first), forward on the backend, split results back in input order.
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "bge/engine.h"
#include "model/config.h"
#include "model/heads.h"
#include "model/xlmr_encoder.h"

namespace bge {

class ModelRunner {
 public:
    // Outputs are finite: a non-finite one is kDataLoss for its input (damaged weights). Host memory
    // exhaustion is kResourceExhausted, never an exception.
    // Errors: anything wrong with the folder's files; a model of another kind than `expected` is
    // kFailedPrecondition; a token budget a device backend cannot hold is kResourceExhausted saying what fits.
    static StatusOr<std::unique_ptr<ModelRunner>> open(const std::string& dir, const EngineOptions& options,
                                                       ModelKind expected);

    StatusOr<std::vector<Embedding>> embed(std::span<const std::string> texts, const EmbedOptions& options);
    StatusOr<std::vector<RerankScore>> rerank(std::span<const TextPair> pairs, int max_length);

    // Ok when the embedder serves every output asked for (at least one).
    Status check_outputs(const EmbedOptions& options) const;
    // One forward pass over a formed batch of at most max_tokens() tokens: one result per sequence, in order.
    // Embeddings carry the outputs asked for (check_outputs first). Outputs are not yet checked for finiteness
    // (model/output_check.h).
    StatusOr<std::vector<Embedding>> embed_batch(const PackedBatch& batch, const EmbedOptions& options);
    StatusOr<std::vector<RerankScore>> rerank_batch(const PackedBatch& batch);
    int64_t max_tokens() const { return max_tokens_; }

    const ModelInfo& info() const { return info_; }
    const Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
    ModelRunner() = default;
    Status load(const std::string& dir, const EngineOptions& options, ModelKind expected);
    StatusOr<std::vector<Embedding>> embed_unchecked(std::span<const std::string> texts, const EmbedOptions& options);
    StatusOr<std::vector<RerankScore>> rerank_unchecked(std::span<const TextPair> pairs, int max_length);
    // Every workspace of a forward, for batches of up to `tokens` tokens.
    struct Workspaces {
        int64_t tokens = 0;
        EncoderWorkspace encoder;
        M3Heads::Workspace heads;              // embedder
        ClassifierHead::Workspace classifier;  // reranker
    };
    // kResourceExhausted names the bytes.
    StatusOr<Workspaces> make_workspaces(int64_t tokens) const;
    // Makes ws_ hold a batch of `n_tokens` (<= max_tokens_), growing it where the backend allows
    // (Backend::grows_workspace); kResourceExhausted names the bytes.
    Status reserve_workspace(int64_t n_tokens);
    // A device backend's workspaces for the whole budget, or kResourceExhausted saying what budget fits.
    Status reserve_full_budget();
    // Packs `sequences` into batches of at most max_tokens_ tokens, longest first, and calls
    // run(batch, indices) -> Status with the input positions of the batch's sequences; stops at the first error.
    template <typename Run>
    Status for_each_batch(const std::vector<std::vector<int32_t>>& sequences, Run&& run);

    ModelInfo info_;
    XlmrConfig config_;
    std::unique_ptr<Tokenizer> tokenizer_;
    std::unique_ptr<Backend> backend_;
    std::unique_ptr<XlmrEncoder> encoder_;
    std::unique_ptr<M3Heads> m3_heads_;           // embedder
    std::unique_ptr<ClassifierHead> classifier_;  // reranker
    int64_t max_tokens_ = 0;                      // the token budget of one batch

    std::mutex mutex_;  // one forward at a time: the workspaces are shared
    Workspaces ws_;
};

}  // namespace bge
