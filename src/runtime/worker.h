// A worker runs formed batches on one device. The scheduler owns its workers and gives each batch to
// one of them: one ModelWorker (over a ModelRunner) per entry of the --device list.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/packed_batch.h"
#include "runtime/request.h"

namespace bge {

class ModelRunner;

// One sequence of a batch: input `index` of `request`.
struct BatchItem {
    std::shared_ptr<RequestState> request;
    int index = 0;
};

struct Batch {
    PackedBatch packed;    // the sequences of `items`, in order
    EmbedOptions outputs;  // union of what the members asked for (embedder)
    std::vector<BatchItem> items;
};

class Worker {
 public:
    virtual ~Worker() = default;
    virtual std::string name() const = 0;
    // One output per sequence of batch.packed, in order. kResourceExhausted: the scheduler runs the batch again in
    // halves. Any other error marks this worker unhealthy; the batch is retried once on another worker. Outputs may
    // be non-finite: the scheduler fails their requests alone. Called from one thread at a time.
    virtual StatusOr<std::vector<SeqOutput>> run(const Batch& batch) = 0;
};

// Runs batches on a ModelRunner it owns (embedder: M3 heads; reranker: scores).
class ModelWorker : public Worker {
 public:
    explicit ModelWorker(std::unique_ptr<ModelRunner> runner);
    ~ModelWorker() override;
    std::string name() const override;
    StatusOr<std::vector<SeqOutput>> run(const Batch& batch) override;

 private:
    std::unique_ptr<ModelRunner> runner_;
};

// Test-only (BGE_TEST_FAIL_WORKER): runs batches on `inner` until its `fail_from`-th request batch (1-based; warm-up
// batches, which carry no requests, are not counted), then fails that one and every later one with kInternal, as a
// GPU with a sticky error does.
class FailingWorker : public Worker {
 public:
    FailingWorker(std::unique_ptr<Worker> inner, int64_t fail_from);
    std::string name() const override;
    StatusOr<std::vector<SeqOutput>> run(const Batch& batch) override;

 private:
    std::unique_ptr<Worker> inner_;
    int64_t fail_from_;
    int64_t runs_ = 0;
};

}  // namespace bge
