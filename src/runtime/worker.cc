#include "runtime/worker.h"

#include "runtime/model_runner.h"

namespace bge {

ModelWorker::ModelWorker(std::unique_ptr<ModelRunner> runner) : runner_(std::move(runner)) {}
ModelWorker::~ModelWorker() = default;

std::string ModelWorker::name() const {
    return runner_->info().backend;
}

StatusOr<std::vector<SeqOutput>> ModelWorker::run(const Batch& batch) {
    std::vector<SeqOutput> out;
    out.reserve(batch.items.size());
    if (runner_->info().kind == "reranker") {
        BGE_ASSIGN_OR_RETURN(std::vector<RerankScore> scores, runner_->rerank_batch(batch.packed));
        for (RerankScore& s : scores) out.emplace_back(s);
    } else {
        BGE_ASSIGN_OR_RETURN(std::vector<Embedding> embeddings, runner_->embed_batch(batch.packed, batch.outputs));
        for (Embedding& e : embeddings) out.emplace_back(std::move(e));
    }
    return out;
}

}  // namespace bge
