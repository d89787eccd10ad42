// A request while its sequences are in flight: tokenized inputs, outputs gathered in input order,
// answered exactly once (all outputs, or the first error).
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <variant>
#include <vector>

#include "bge/engine.h"

namespace bge {

using Clock = std::chrono::steady_clock;

// What the model produced for one sequence.
using SeqOutput = std::variant<Embedding, RerankScore>;

class RequestState {
 public:
    // Called once with the outputs in input order, or with the error (outputs empty).
    using Done = std::function<void(Status, std::vector<SeqOutput>, const RequestStats&)>;

    RequestState(EmbedOptions outputs, RequestControl control, Done done)
        : outputs_(outputs), control_(std::move(control)), done_(std::move(done)) {}

    const EmbedOptions& outputs() const { return outputs_; }
    // Token ids of every input, <s>/</s> included; set once before the request is queued.
    std::vector<std::vector<int32_t>>& sequences() { return sequences_; }
    const std::vector<int32_t>& sequence(int i) const { return sequences_[i]; }
    int n_inputs() const { return static_cast<int>(sequences_.size()); }

    // Ok while its work is still wanted; else why not (cancelled, past the deadline, already answered).
    Status check(Clock::time_point now) const;
    bool answered() const;

    void set_tokenize_time(Clock::time_point begin, Clock::time_point end);
    // Marks the start of a batch holding some of its sequences.
    void batch_started(Clock::time_point t);
    // Stores sequence i's output; the last one answers the request.
    void complete(int i, SeqOutput output, Clock::time_point now);
    // Answers with `status` unless already answered.
    void fail(const Status& status);

    bool retried = false;  // its sequences already went back to the queue once after a worker failure

 private:
    EmbedOptions outputs_;
    RequestControl control_;
    Done done_;
    std::vector<std::vector<int32_t>> sequences_;

    mutable std::mutex mutex_;
    bool answered_ = false;
    std::vector<SeqOutput> results_;
    std::vector<bool> have_;
    int n_done_ = 0;
    Clock::time_point tokenized_{}, first_batch_{};
    bool started_ = false;
    RequestStats stats_;
};

}  // namespace bge
