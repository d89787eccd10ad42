#include "runtime/request.h"

namespace bge {
namespace {

int64_t micros(Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

}  // namespace

Status RequestState::check(Clock::time_point now) const {
    if (answered()) return cancelled("request already answered");
    if (control_.cancel && control_.cancel->cancelled()) return cancelled("the request was cancelled");
    if (now >= control_.deadline) return deadline_exceeded("the request's deadline passed before it was done");
    return ok_status();
}

bool RequestState::answered() const {
    std::lock_guard lock(mutex_);
    return answered_;
}

void RequestState::set_tokenize_time(Clock::time_point begin, Clock::time_point end) {
    std::lock_guard lock(mutex_);
    stats_.tokenize_us = micros(end - begin);
    tokenized_ = end;
    results_.resize(sequences_.size());
    have_.assign(sequences_.size(), false);
}

void RequestState::batch_started(Clock::time_point t) {
    std::lock_guard lock(mutex_);
    ++stats_.n_batches;
    if (started_) return;
    started_ = true;
    first_batch_ = t;
    stats_.queue_us = micros(t - tokenized_);
}

void RequestState::complete(int i, SeqOutput output, Clock::time_point now) {
    Done done;
    std::vector<SeqOutput> results;
    RequestStats stats;
    {
        std::lock_guard lock(mutex_);
        if (answered_ || have_[i]) return;
        have_[i] = true;
        stats_.n_tokens += static_cast<int64_t>(sequences_[i].size());
        results_[i] = std::move(output);
        if (++n_done_ < static_cast<int>(results_.size())) return;
        answered_ = true;
        stats_.inference_us = micros(now - first_batch_);
        done = std::move(done_);
        results = std::move(results_);
        stats = stats_;
    }
    done(ok_status(), std::move(results), stats);
}

void RequestState::fail(const Status& status) {
    Done done;
    RequestStats stats;
    {
        std::lock_guard lock(mutex_);
        if (answered_) return;
        answered_ = true;
        done = std::move(done_);
        stats = stats_;
    }
    done(status, {}, stats);
}

}  // namespace bge
