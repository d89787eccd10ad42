// Forms packed batches for one model from a bounded queue of tokenized requests and hands them to
// its workers (one thread per worker).
//
// Cost of a batch: tokens + attention_weight · Σ length², the second term being attention's share
// (per layer and token, the linear layers cost ~12·hidden² multiply-adds, attention 2·hidden per
// key, so attention_weight = 1 / (6·hidden) for XLM-R). A batch takes sequences while its real
// tokens stay <= max_batch_tokens, its cost <= max_batch_cost and its size <= max_batch_requests;
// its first sequence is always taken, so any single input that fits the workspace runs.
//
// Fairness: every batch starts with the next sequence of the oldest request, then takes one sequence
// from each queued request in arrival order, round after round, so a request's wait is bounded by
// the work queued before it and a short request is not held behind a long one's many inputs.
// A batch that is not full waits at most max_wait_us (from its oldest sequence's arrival) for more.
// Cancelled or expired requests are answered and dropped before their work is batched.
#pragma once

#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/metrics.h"
#include "runtime/worker.h"

namespace bge {

struct SchedulerOptions {
    int64_t max_batch_tokens = 8192;
    int max_batch_requests = 64;
    int64_t max_wait_us = 2000;
    int64_t max_queue = 4096;  // inputs accepted and not yet answered
    double attention_weight = 0;
    double max_batch_cost = 0;  // <= 0: max_batch_tokens · (1 + attention_weight · 512), a full batch of 512s
};

// Observations of the batches (may be shared by several schedulers).
struct BatchMetrics {
    Histogram batch_size{"bge_batch_size", "Sequences per forward pass", Histogram::powers_of_two(1024)};
    Histogram batch_tokens{"bge_batch_tokens", "Tokens per forward pass", Histogram::powers_of_two(1 << 17)};
    Histogram inference{"bge_inference_seconds", "Time of one forward pass", Histogram::latency_bounds()};
    CounterFamily tokens{"bge_tokens_total", "Tokens run by the models"};
    CounterFamily batches{"bge_batches_total", "Forward passes, by outcome"};
};

class Scheduler {
 public:
    Scheduler(SchedulerOptions options, std::vector<std::unique_ptr<Worker>> workers, BatchMetrics* metrics);
    // stop(), then joins.
    ~Scheduler();

    // Reserves room for n inputs; false when the queue would exceed max_queue.
    bool try_reserve(int64_t n);
    // Gives back what try_reserve took (when the request is answered).
    void release(int64_t n);
    // Queues a request whose sequences are set (its room reserved).
    void enqueue(std::shared_ptr<RequestState> request);
    // Runs everything queued, then ends the worker threads. Later enqueues fail with kUnavailable.
    void stop();

    bool healthy() const;
    int64_t depth() const;  // reserved inputs

 private:
    struct Pending {
        std::shared_ptr<RequestState> request;
        std::list<int> todo;  // inputs not yet batched, longest first
        Clock::time_point arrived;
    };

    void work(size_t worker);
    // Drops answered, cancelled and expired requests from the queue; returns those to fail with why.
    void collect_dead(Clock::time_point now, std::vector<std::pair<std::shared_ptr<RequestState>, Status>>& dead);
    bool ready(Clock::time_point now) const;
    Batch form_batch();
    void requeue(const Batch& batch);
    double cost(size_t length) const;

    SchedulerOptions options_;
    std::vector<std::unique_ptr<Worker>> workers_;
    BatchMetrics* metrics_;

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::list<Pending> queue_;  // arrival order
    int64_t queued_tokens_ = 0;
    int64_t queued_seqs_ = 0;
    int64_t reserved_ = 0;
    bool stopping_ = false;
    std::vector<bool> healthy_;
    std::vector<std::thread> threads_;
};

}  // namespace bge
