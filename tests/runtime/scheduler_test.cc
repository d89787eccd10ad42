// The scheduler with a fake worker: order of outputs, splitting over batches, budgets, fairness
// between requests, cancellation and deadlines (dropped before a worker sees them), the bounded
// queue, a failing worker's batch retried elsewhere, a non-finite output failing its request alone, a batch
// without memory split and retried, and a slow worker beside a fast one (work in proportion to speed, none at
// light load).
#include "runtime/scheduler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <future>
#include <thread>

namespace bge {
namespace {

using namespace std::chrono_literals;

// Outputs tag each sequence with its second id, so a test can tell whose output it got. Optionally
// holds every batch until open() and fails every batch.
class FakeWorker : public Worker {
 public:
    explicit FakeWorker(bool fail = false, bool closed = false) : fail_(fail), open_(!closed) {}
    std::string name() const override { return fail_ ? "failing" : "fake"; }
    StatusOr<std::vector<SeqOutput>> run(const Batch& batch) override {
        {
            std::unique_lock lock(mutex_);
            ++started_;
            started_cv_.notify_all();
            cv_.wait(lock, [&] { return open_; });
            batches_.push_back(batch.packed);
        }
        if (fail_) return internal_error("device lost");
        std::vector<SeqOutput> out;
        for (int32_t s = 0; s < batch.packed.n_seqs(); ++s) {
            Embedding e;
            e.n_tokens = batch.packed.seq_length(s);
            e.dense = {static_cast<float>(batch.packed.input_ids[batch.packed.seq_begin(s) + 1])};
            out.emplace_back(std::move(e));
        }
        return out;
    }
    void open() {
        std::lock_guard lock(mutex_);
        open_ = true;
        cv_.notify_all();
    }
    void wait_started(int n) {
        std::unique_lock lock(mutex_);
        started_cv_.wait(lock, [&] { return started_ >= n; });
    }
    std::vector<PackedBatch> batches() {
        std::lock_guard lock(mutex_);
        return batches_;
    }

 private:
    bool fail_;
    std::mutex mutex_;
    std::condition_variable cv_, started_cv_;
    bool open_;
    int started_ = 0;
    std::vector<PackedBatch> batches_;
};

struct Answer {
    Status status;
    std::vector<float> tags;  // dense[0] of each output, in input order
    RequestStats stats;
};

// A request of sequences `<s> tag x.. </s>` with the given lengths; tags are base + index.
std::pair<std::shared_ptr<RequestState>, std::future<Answer>> make_request(const std::vector<int>& lengths, int base,
                                                                           RequestControl control = {}) {
    auto promise = std::make_shared<std::promise<Answer>>();
    auto future = promise->get_future();
    auto state = std::make_shared<RequestState>(
        EmbedOptions{}, control, [promise](Status s, std::vector<SeqOutput> out, const RequestStats& stats) {
            Answer a{s, {}, stats};
            for (SeqOutput& o : out) a.tags.push_back(std::get<Embedding>(o).dense[0]);
            promise->set_value(std::move(a));
        });
    for (size_t i = 0; i < lengths.size(); ++i) {
        std::vector<int32_t> ids(static_cast<size_t>(lengths[i]), 7);
        ids[1] = base + static_cast<int>(i);
        state->sequences().push_back(std::move(ids));
    }
    state->set_tokenize_time(Clock::now(), Clock::now());
    return {state, std::move(future)};
}

std::unique_ptr<Scheduler> make_scheduler(SchedulerOptions o, std::vector<FakeWorker*> workers) {
    std::vector<std::unique_ptr<Worker>> owned;
    for (FakeWorker* w : workers) owned.emplace_back(w);
    return std::make_unique<Scheduler>(o, std::move(owned), nullptr);
}

SchedulerOptions small_options() {
    SchedulerOptions o;
    o.max_batch_tokens = 64;
    o.max_batch_requests = 4;
    o.max_wait_us = 0;
    o.max_queue = 100;
    return o;
}

TEST(SchedulerTest, SplitsARequestOverBatchesAndAnswersInInputOrder) {
    auto* worker = new FakeWorker();
    auto scheduler = make_scheduler(small_options(), {worker});
    const std::vector<int> lengths = {5, 30, 12, 3, 40, 8, 20, 16, 9, 2};
    auto [state, answer] = make_request(lengths, 100);
    ASSERT_TRUE(scheduler->try_reserve(10));
    scheduler->enqueue(state);
    const Answer a = answer.get();
    ASSERT_TRUE(a.status.ok()) << a.status.to_string();
    ASSERT_EQ(a.tags.size(), lengths.size());
    for (size_t i = 0; i < lengths.size(); ++i) EXPECT_EQ(a.tags[i], 100 + static_cast<int>(i));
    const auto batches = worker->batches();
    EXPECT_GE(batches.size(), 3u);  // 145 tokens under a 64-token budget
    EXPECT_EQ(a.stats.n_batches, static_cast<int>(batches.size()));
    EXPECT_EQ(a.stats.n_tokens, 145);
    for (const PackedBatch& b : batches) {
        EXPECT_LE(b.n_seqs(), 4);
        if (b.n_seqs() > 1) {
            EXPECT_LE(b.n_tokens(), 64);
        }
    }
}

TEST(SchedulerTest, AnInputLongerThanTheBudgetRunsAlone) {
    auto* worker = new FakeWorker();
    auto scheduler = make_scheduler(small_options(), {worker});
    auto [state, answer] = make_request({100, 4}, 0);
    ASSERT_TRUE(scheduler->try_reserve(2));
    scheduler->enqueue(state);
    ASSERT_TRUE(answer.get().status.ok());
    const auto batches = worker->batches();
    ASSERT_EQ(batches.size(), 2u);
    EXPECT_EQ(batches[0].n_tokens(), 100);
}

TEST(SchedulerTest, AttentionCostKeepsLongSequencesApart) {
    SchedulerOptions o = small_options();
    o.max_batch_tokens = 4096;
    o.max_batch_requests = 64;
    o.attention_weight = 1.0 / 6144;  // hidden 1024; budget = 4096 · (1 + 512/6144) ≈ 4437
    auto* worker = new FakeWorker();
    auto scheduler = make_scheduler(o, {worker});
    // Two 2000-token inputs fit the token budget but cost 2 · (2000 + 651) > 4437; eight 256s fit both.
    auto [state, answer] = make_request({2000, 2000, 256, 256, 256, 256, 256, 256, 256, 256}, 0);
    ASSERT_TRUE(scheduler->try_reserve(10));
    scheduler->enqueue(state);
    ASSERT_TRUE(answer.get().status.ok());
    const auto batches = worker->batches();
    ASSERT_GE(batches.size(), 2u);
    for (const PackedBatch& b : batches) {
        int long_ones = 0;
        for (int32_t s = 0; s < b.n_seqs(); ++s) long_ones += b.seq_length(s) == 2000;
        EXPECT_LE(long_ones, 1);
    }
}

TEST(SchedulerTest, AShortRequestIsNotHeldBehindALongOne) {
    SchedulerOptions o = small_options();
    o.max_batch_tokens = 1 << 20;
    auto* worker = new FakeWorker(false, /*closed=*/true);
    auto scheduler = make_scheduler(o, {worker});
    auto [blocker, blocker_answer] = make_request({4}, 0);
    ASSERT_TRUE(scheduler->try_reserve(1));
    scheduler->enqueue(blocker);
    worker->wait_started(1);  // the worker holds the blocker's batch; the rest queues
    auto [big, big_answer] = make_request(std::vector<int>(40, 8), 1000);
    auto [small, small_answer] = make_request({6}, 5000);
    ASSERT_TRUE(scheduler->try_reserve(41));
    scheduler->enqueue(big);
    scheduler->enqueue(small);
    worker->open();
    ASSERT_TRUE(small_answer.get().status.ok());
    ASSERT_TRUE(big_answer.get().status.ok());
    const auto batches = worker->batches();
    // Batch 0 is the blocker; batch 1 starts with the big request's oldest input and takes the small one too.
    ASSERT_GE(batches.size(), 11u);
    const PackedBatch& second = batches[1];
    bool has_small = false;
    for (int32_t s = 0; s < second.n_seqs(); ++s) has_small |= second.input_ids[second.seq_begin(s) + 1] == 5000;
    EXPECT_TRUE(has_small);
    EXPECT_EQ(second.input_ids[1], 1000);
}

TEST(SchedulerTest, CancelledAndExpiredRequestsNeverReachTheWorker) {
    auto* worker = new FakeWorker(false, /*closed=*/true);
    auto scheduler = make_scheduler(small_options(), {worker});
    auto [blocker, blocker_answer] = make_request({4}, 0);
    ASSERT_TRUE(scheduler->try_reserve(3));
    scheduler->enqueue(blocker);
    worker->wait_started(1);
    auto flag = std::make_shared<CancelFlag>();
    RequestControl cancel_control;
    cancel_control.cancel = flag;
    auto [cancelled, cancelled_answer] = make_request({5}, 200, cancel_control);
    RequestControl deadline_control;
    deadline_control.deadline = Clock::now() + 1ms;
    auto [expired, expired_answer] = make_request({5}, 300, deadline_control);
    scheduler->enqueue(cancelled);
    scheduler->enqueue(expired);
    flag->cancel();
    std::this_thread::sleep_for(5ms);
    worker->open();
    EXPECT_TRUE(blocker_answer.get().status.ok());
    EXPECT_EQ(cancelled_answer.get().status.code(), StatusCode::kCancelled);
    EXPECT_EQ(expired_answer.get().status.code(), StatusCode::kDeadlineExceeded);
    scheduler->stop();
    EXPECT_EQ(worker->batches().size(), 1u);
}

TEST(SchedulerTest, TheQueueIsBounded) {
    SchedulerOptions o = small_options();
    o.max_queue = 5;
    auto scheduler = make_scheduler(o, {new FakeWorker()});
    EXPECT_TRUE(scheduler->try_reserve(3));
    EXPECT_FALSE(scheduler->try_reserve(3));
    EXPECT_TRUE(scheduler->try_reserve(2));
    EXPECT_EQ(scheduler->depth(), 5);
    scheduler->release(5);
    EXPECT_TRUE(scheduler->try_reserve(5));
}

TEST(SchedulerTest, AFailedBatchIsRetriedOnAnotherWorkerOnce) {
    SchedulerOptions o = small_options();
    o.max_batch_requests = 1;  // two batches: the held good worker takes one, the failing worker the other
    auto* failing = new FakeWorker(/*fail=*/true);
    auto* good = new FakeWorker(false, /*closed=*/true);
    auto scheduler = make_scheduler(o, {failing, good});
    auto [a, a_answer] = make_request({5}, 10);
    auto [b, b_answer] = make_request({6}, 20);
    ASSERT_TRUE(scheduler->try_reserve(2));
    scheduler->enqueue(a);
    scheduler->enqueue(b);
    failing->wait_started(1);
    good->open();
    const Answer first = a_answer.get(), second = b_answer.get();
    ASSERT_TRUE(first.status.ok()) << first.status.to_string();
    ASSERT_TRUE(second.status.ok()) << second.status.to_string();
    EXPECT_EQ(first.tags, std::vector<float>{10});
    EXPECT_EQ(second.tags, std::vector<float>{20});
    EXPECT_EQ(good->batches().size(), 2u);
    EXPECT_TRUE(scheduler->healthy());
    EXPECT_TRUE(scheduler->degraded());
    const std::vector<WorkerStatus> workers = scheduler->workers();
    EXPECT_FALSE(workers[0].healthy);
    EXPECT_NE(workers[0].error.find("device lost"), std::string::npos) << workers[0].error;
    EXPECT_EQ(workers[0].failures, 1);
    EXPECT_TRUE(workers[1].healthy);
    EXPECT_EQ(workers[1].batches, 2);
    EXPECT_EQ(workers[1].tokens, 11);
}

TEST(SchedulerTest, WithoutAHealthyWorkerRequestsFail) {
    auto scheduler = make_scheduler(small_options(), {new FakeWorker(/*fail=*/true)});
    auto [state, answer] = make_request({5}, 0);
    ASSERT_TRUE(scheduler->try_reserve(1));
    scheduler->enqueue(state);
    const Answer a = answer.get();
    EXPECT_EQ(a.status.code(), StatusCode::kInternal);
    EXPECT_NE(a.status.message().find("device lost"), std::string::npos);
    EXPECT_FALSE(scheduler->healthy());
    auto [late, late_answer] = make_request({5}, 0);
    scheduler->enqueue(late);
    EXPECT_EQ(late_answer.get().status.code(), StatusCode::kUnavailable);
}

// Tag 13's output is NaN, as damaged weights would give.
class NonFiniteWorker : public FakeWorker {
 public:
    StatusOr<std::vector<SeqOutput>> run(const Batch& batch) override {
        BGE_ASSIGN_OR_RETURN(std::vector<SeqOutput> out, FakeWorker::run(batch));
        for (SeqOutput& o : out) {
            auto& dense = std::get<Embedding>(o).dense;
            if (dense[0] == 13) dense[0] = std::nanf("");
        }
        return out;
    }
};

// A non-finite output fails its request alone, naming the input; other requests and the worker are fine.
TEST(SchedulerTest, ANonFiniteOutputFailsItsRequestAlone) {
    auto* worker = new NonFiniteWorker();
    auto scheduler = make_scheduler(small_options(), {worker});
    auto [bad, bad_answer] = make_request({4, 4}, 12);  // tags 12, 13
    auto [good, good_answer] = make_request({4}, 20);
    ASSERT_TRUE(scheduler->try_reserve(3));
    scheduler->enqueue(bad);
    scheduler->enqueue(good);
    const Answer a = bad_answer.get();
    EXPECT_EQ(a.status.code(), StatusCode::kDataLoss);
    EXPECT_NE(a.status.message().find("input 1"), std::string::npos) << a.status.message();
    EXPECT_TRUE(good_answer.get().status.ok());
    EXPECT_TRUE(scheduler->healthy());
}

TEST(SchedulerTest, APartialBatchWaitsForCompanyAtMostMaxWait) {
    SchedulerOptions o = small_options();
    o.max_wait_us = 300'000;
    auto* worker = new FakeWorker();
    auto scheduler = make_scheduler(o, {worker});
    ASSERT_TRUE(scheduler->try_reserve(2));
    const auto begin = Clock::now();
    auto [a, a_answer] = make_request({4}, 1);
    scheduler->enqueue(a);
    std::this_thread::sleep_for(20ms);
    auto [b, b_answer] = make_request({4}, 2);
    scheduler->enqueue(b);
    ASSERT_TRUE(a_answer.get().status.ok());
    ASSERT_TRUE(b_answer.get().status.ok());
    EXPECT_GE(Clock::now() - begin, 250ms);
    ASSERT_EQ(worker->batches().size(), 1u);  // both in one batch
    EXPECT_EQ(worker->batches()[0].n_seqs(), 2);
}

TEST(SchedulerTest, StopRunsWhatIsQueued) {
    auto* worker = new FakeWorker(false, /*closed=*/true);
    auto scheduler = make_scheduler(small_options(), {worker});
    std::vector<std::future<Answer>> answers;
    ASSERT_TRUE(scheduler->try_reserve(20));
    for (int i = 0; i < 20; ++i) {
        auto [state, answer] = make_request({4}, i);
        scheduler->enqueue(state);
        answers.push_back(std::move(answer));
    }
    std::thread opener([&] {
        std::this_thread::sleep_for(10ms);
        worker->open();
    });
    scheduler->stop();
    opener.join();
    for (auto& f : answers) EXPECT_TRUE(f.get().status.ok());
    EXPECT_FALSE(scheduler->try_reserve(1));
}

// Refuses, as out of memory, batches of more than two sequences and any batch holding tag 99.
class SmallMemoryWorker : public FakeWorker {
 public:
    StatusOr<std::vector<SeqOutput>> run(const Batch& batch) override {
        bool has_99 = false;
        for (int32_t s = 0; s < batch.packed.n_seqs(); ++s) {
            has_99 = has_99 || batch.packed.input_ids[batch.packed.seq_begin(s) + 1] == 99;
        }
        if (batch.packed.n_seqs() > 2 || has_99) return resource_exhausted("no room for the batch");
        return FakeWorker::run(batch);
    }
};

TEST(SchedulerTest, ABatchWithoutMemoryIsSplitAndRetried) {
    auto* worker = new SmallMemoryWorker();
    auto scheduler = make_scheduler(small_options(), {worker});
    auto [a, a_answer] = make_request({5, 6, 7, 8}, 10);  // one batch of 4 -> two of 2
    auto [b, b_answer] = make_request({5}, 99);           // fails alone
    ASSERT_TRUE(scheduler->try_reserve(5));
    scheduler->enqueue(a);
    scheduler->enqueue(b);
    const Answer first = a_answer.get(), second = b_answer.get();
    ASSERT_TRUE(first.status.ok()) << first.status.to_string();
    EXPECT_EQ(first.tags, (std::vector<float>{10, 11, 12, 13}));
    EXPECT_EQ(second.status.code(), StatusCode::kResourceExhausted);
    EXPECT_TRUE(scheduler->healthy());  // out of memory is not a lost device
    EXPECT_FALSE(scheduler->degraded());
    for (const PackedBatch& batch : worker->batches()) EXPECT_LE(batch.n_seqs(), 2);
}

// Sleeps `us_per_token` per token of each batch: a device of a known speed.
class TimedWorker : public FakeWorker {
 public:
    explicit TimedWorker(int us_per_token) : us_(us_per_token) {}
    StatusOr<std::vector<SeqOutput>> run(const Batch& batch) override {
        std::this_thread::sleep_for(std::chrono::microseconds(int64_t{us_} * batch.packed.n_tokens()));
        return FakeWorker::run(batch);
    }

 private:
    int us_;
};

// Seeds both workers' speeds as Engine::warm_up does: the fastest of three runs, so that one run slowed by a
// loaded machine does not make the fast worker look slow.
constexpr size_t kWarmUpRuns = 3;
void warm_up(Scheduler& scheduler, int tokens) {
    Batch batch;
    batch.packed.add(std::vector<int32_t>(static_cast<size_t>(tokens), 7));
    for (size_t run = 0; run < kWarmUpRuns; ++run)
        ASSERT_TRUE(scheduler.run_on_every_worker(batch, /*measure=*/true).ok());
}

int64_t request_tokens(const std::vector<PackedBatch>& batches) {
    int64_t n = 0;
    for (size_t i = kWarmUpRuns; i < batches.size(); ++i) n += batches[i].n_tokens();  // the first are the warm-up
    return n;
}

TEST(SchedulerTest, ASlowWorkerTakesNoWorkAtLightLoad) {
    auto* fast = new TimedWorker(5);
    auto* slow = new TimedWorker(1000);  // 200x slower: a fast run delayed by milliseconds still looks faster
    auto scheduler = make_scheduler(small_options(), {fast, slow});
    warm_up(*scheduler, 32);
    for (int i = 0; i < 20; ++i) {  // one request at a time: the fast worker is always free first
        auto [state, answer] = make_request({16}, i);
        ASSERT_TRUE(scheduler->try_reserve(1));
        scheduler->enqueue(state);
        const Answer a = answer.get();
        ASSERT_TRUE(a.status.ok());
        EXPECT_EQ(a.tags, std::vector<float>{static_cast<float>(i)});
        scheduler->release(1);
    }
    EXPECT_EQ(request_tokens(slow->batches()), 0);
    EXPECT_EQ(request_tokens(fast->batches()), 20 * 16);
}

TEST(SchedulerTest, UnderLoadASlowWorkerTakesWorkInProportionToItsSpeed) {
    // Milliseconds a batch (fast: 2.6 for 64 tokens), so that a run delayed by a loaded machine's scheduling
    // (observed: a sanitizer build beside other tests) does not make the fast worker look as slow as the slow one.
    auto* fast = new TimedWorker(40);
    auto* slow = new TimedWorker(400);
    SchedulerOptions o = small_options();
    o.max_queue = 200;
    auto scheduler = make_scheduler(o, {fast, slow});
    warm_up(*scheduler, 64);
    std::vector<std::future<Answer>> answers;
    ASSERT_TRUE(scheduler->try_reserve(200));
    for (int r = 0; r < 100; ++r) {
        auto [state, answer] = make_request({32, 32}, 1000 * r);
        scheduler->enqueue(state);
        answers.push_back(std::move(answer));
    }
    for (int r = 0; r < 100; ++r) {
        const Answer a = answers[static_cast<size_t>(r)].get();
        ASSERT_TRUE(a.status.ok());
        EXPECT_EQ(a.tags, (std::vector<float>{1000.0f * r, 1000.0f * r + 1}));
    }
    const int64_t slow_tokens = request_tokens(slow->batches());
    const double share = static_cast<double>(slow_tokens) / (100 * 64);
    std::printf("slow worker's share of the tokens: %.3f\n", share);
    // ~1/11 by speed (one worker 10x the other); taken in turn it would be about half.
    EXPECT_GT(share, 0.02);
    EXPECT_LT(share, 0.25);
    // Its batches are scaled to its speed: one 32-token sequence, not the fast worker's two.
    const std::vector<PackedBatch> batches = slow->batches();
    for (size_t i = kWarmUpRuns; i < batches.size(); ++i) EXPECT_EQ(batches[i].n_seqs(), 1);
}

}  // namespace
}  // namespace bge
