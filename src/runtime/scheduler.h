// Forms packed batches for one model from a bounded queue of tokenized requests and hands them to
// its workers (one thread per worker, each taking the next batch when it is free).
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
//
// Several workers: each measures its speed (cost per second, over its recent batches, weighted by their
// cost). A worker much slower than the fastest healthy one (below kSlowShare of its speed: the CPU beside a
// GPU) forms batches scaled down to its share of the speed, so it finishes one in about the time the fast
// one does, and takes a batch only when it would finish it before the faster workers could drain everything
// queued: it adds throughput under load and never makes a lightly loaded request wait for it. Workers of
// similar speed take batches in turn as they come free.
//
// A batch that fails with kResourceExhausted is split in two and each half retried on the same worker
// (one sequence that still cannot get memory fails its request alone). Any other error marks the worker
// unhealthy for good (a lost device) and its batch goes back to the front of the queue, retried once on
// another worker; a request is never answered twice.
#pragma once

#include <condition_variable>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
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
    // A worker below this share of the fastest healthy worker's speed is treated as slow (see above): far enough
    // below 1 that equal devices measured on different batches are not.
    static constexpr double kSlowShare = 0.3;

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

    // Runs `batch` (a warm-up: no requests) on every healthy worker at once, before requests are queued; with
    // `measure`, a worker's speed becomes this run's if that is faster than what it had (run it warm, and a few
    // times: a first run includes one-time set-up, a disturbed one is slow). The first error, naming the worker, if
    // one fails (that worker is marked unhealthy).
    Status run_on_every_worker(const Batch& batch, bool measure);

    bool healthy() const;   // some worker is healthy
    bool degraded() const;  // some worker is unhealthy
    int64_t depth() const;  // reserved inputs
    size_t n_workers() const { return workers_.size(); }
    // Every worker in order (index set, model left empty for the caller).
    std::vector<WorkerStatus> workers() const;

 private:
    struct Pending {
        std::shared_ptr<RequestState> request;
        std::list<int> todo;  // inputs not yet batched, longest first
        Clock::time_point arrived;
    };

    struct WorkerState {
        bool healthy = true;
        std::string error;
        bool busy = false;
        double inflight_cost = 0;
        int64_t inflight_seqs = 0;
        Clock::time_point busy_since{};
        double cost_sum = 0, seconds_sum = 0;  // decaying sums of its batches' cost and time: speed = ratio
        int64_t batches = 0, failures = 0, tokens = 0;
        double busy_seconds = 0;
        double speed() const { return seconds_sum > 0 ? cost_sum / seconds_sum : 0; }
    };

    void work(size_t worker);
    // Runs the batch on worker w, splitting it on kResourceExhausted: one result per sequence in batch order (a
    // sequence that alone cannot get memory is its error), or the worker's failure. Called unlocked.
    StatusOr<std::vector<StatusOr<SeqOutput>>> run_split(size_t w, const Batch& batch);
    // Records a forward pass of worker w and updates its speed (locks).
    void account(size_t w, double cost, int64_t tokens, double seconds, bool ok);
    // Worker w's speed over the fastest healthy worker's: 1 when unknown or at least kSlowShare.
    double speed_share(size_t w) const;
    // Whether slow worker w should leave the queue to the faster ones now.
    bool defer(size_t w, double share, Clock::time_point now) const;
    void answer(const Batch& batch, std::vector<StatusOr<SeqOutput>>& out, Clock::time_point end);
    void fail_worker(size_t w, const Batch& batch, const Status& why, std::unique_lock<std::mutex>& lock);
    // Drops answered, cancelled and expired requests from the queue; returns those to fail with why.
    void collect_dead(Clock::time_point now, std::vector<std::pair<std::shared_ptr<RequestState>, Status>>& dead);
    bool ready(Clock::time_point now) const;
    Batch form_batch(double share);
    void requeue(const Batch& batch);
    double cost(size_t length) const;
    double batch_cost(const PackedBatch& packed) const;
    // Adds (sign 1) or removes (-1) one sequence of `length` tokens to the queued tokens and cost.
    void count_queued(size_t length, int sign);
    bool any_healthy() const;  // under mutex_

    SchedulerOptions options_;
    std::vector<std::unique_ptr<Worker>> workers_;
    BatchMetrics* metrics_;

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::list<Pending> queue_;  // arrival order
    int64_t queued_tokens_ = 0;
    int64_t queued_seqs_ = 0;
    double queued_cost_ = 0;
    int64_t reserved_ = 0;
    bool stopping_ = false;
    std::vector<WorkerState> state_;
    std::vector<std::thread> threads_;
};

}  // namespace bge
