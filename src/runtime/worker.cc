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

FailingWorker::FailingWorker(std::unique_ptr<Worker> inner, int64_t fail_from)
    : inner_(std::move(inner)), fail_from_(fail_from) {}

std::string FailingWorker::name() const {
    return inner_->name();
}

StatusOr<std::vector<SeqOutput>> FailingWorker::run(const Batch& batch) {
    if (batch.items.empty()) return inner_->run(batch);  // a warm-up
    if (++runs_ >= fail_from_) {
        return internal_error(name() + ": injected failure of batch " + std::to_string(runs_) +
                              " (BGE_TEST_FAIL_WORKER): the device is unusable");
    }
    return inner_->run(batch);
}

}  // namespace bge
