// Embedder and Reranker: thin public faces of ModelRunner.
#include "bge/engine.h"

#include "io/model_dir.h"
#include "runtime/model_runner.h"

namespace bge {

Embedder::Embedder(std::unique_ptr<ModelRunner> runner) : runner_(std::move(runner)) {}
Embedder::~Embedder() = default;

StatusOr<std::unique_ptr<Embedder>> Embedder::open(const std::string& model_dir, const EngineOptions& options) {
    BGE_ASSIGN_OR_RETURN(auto runner, ModelRunner::open(model_dir, options, ModelKind::kEmbedder));
    return std::unique_ptr<Embedder>(new Embedder(std::move(runner)));
}

StatusOr<std::vector<Embedding>> Embedder::embed(std::span<const std::string> texts, const EmbedOptions& options) {
    return runner_->embed(texts, options);
}

const ModelInfo& Embedder::info() const {
    return runner_->info();
}
const Tokenizer& Embedder::tokenizer() const {
    return runner_->tokenizer();
}

Reranker::Reranker(std::unique_ptr<ModelRunner> runner) : runner_(std::move(runner)) {}
Reranker::~Reranker() = default;

StatusOr<std::unique_ptr<Reranker>> Reranker::open(const std::string& model_dir, const EngineOptions& options) {
    BGE_ASSIGN_OR_RETURN(auto runner, ModelRunner::open(model_dir, options, ModelKind::kReranker));
    return std::unique_ptr<Reranker>(new Reranker(std::move(runner)));
}

StatusOr<std::vector<RerankScore>> Reranker::rerank(std::span<const TextPair> pairs, int max_length) {
    return runner_->rerank(pairs, max_length);
}

const ModelInfo& Reranker::info() const {
    return runner_->info();
}
const Tokenizer& Reranker::tokenizer() const {
    return runner_->tokenizer();
}

StatusOr<std::string> detect_model_kind(const std::string& model_dir) {
    const std::string path = model_dir + "/config.json";
    BGE_ASSIGN_OR_RETURN(std::string text, io::read_text_file(path));
    BGE_ASSIGN_OR_RETURN(XlmrConfig config, parse_config(text, path));
    return std::string(model_kind_name(config.kind));
}

}  // namespace bge
