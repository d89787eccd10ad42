#include "runtime/scheduler.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <variant>

#include "core/check.h"
#include "model/output_check.h"

namespace bge {

Scheduler::Scheduler(SchedulerOptions options, std::vector<std::unique_ptr<Worker>> workers, BatchMetrics* metrics)
    : options_(options), workers_(std::move(workers)), metrics_(metrics), state_(workers_.size()) {
    BGE_CHECK(!workers_.empty());
    if (options_.max_batch_cost <= 0) {
        options_.max_batch_cost =
            static_cast<double>(options_.max_batch_tokens) * (1 + options_.attention_weight * 512);
    }
    for (size_t i = 0; i < workers_.size(); ++i) threads_.emplace_back([this, i] { work(i); });
}

Scheduler::~Scheduler() {
    stop();
}

bool Scheduler::try_reserve(int64_t n) {
    std::lock_guard lock(mutex_);
    if (stopping_ || reserved_ + n > options_.max_queue) return false;
    reserved_ += n;
    return true;
}

void Scheduler::release(int64_t n) {
    std::lock_guard lock(mutex_);
    reserved_ -= n;
}

void Scheduler::enqueue(std::shared_ptr<RequestState> request) {
    Pending p{request, {}, Clock::now()};
    std::vector<int> order(request->n_inputs());
    std::iota(order.begin(), order.end(), 0);
    // Longest first packs the budget better; stable keeps input order among equals.
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return request->sequence(a).size() > request->sequence(b).size(); });
    p.todo.assign(order.begin(), order.end());
    bool accepted = false;
    {
        std::lock_guard lock(mutex_);
        if (!stopping_ && any_healthy()) {
            for (int i : order) count_queued(request->sequence(i).size(), 1);
            queued_seqs_ += request->n_inputs();
            queue_.push_back(std::move(p));
            accepted = true;
        }
    }
    if (!accepted) {
        request->fail(unavailable("the model is not taking requests (shutting down or no healthy worker)"));
        return;
    }
    cv_.notify_all();
}

void Scheduler::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) {
        if (t.joinable()) t.join();
    }
    // Work left when no healthy worker remains.
    std::list<Pending> left;
    {
        std::lock_guard lock(mutex_);
        left.swap(queue_);
    }
    for (Pending& p : left) p.request->fail(unavailable("no healthy worker is left to run the request"));
}

bool Scheduler::any_healthy() const {
    return std::any_of(state_.begin(), state_.end(), [](const WorkerState& st) { return st.healthy; });
}

bool Scheduler::healthy() const {
    std::lock_guard lock(mutex_);
    return any_healthy();
}

bool Scheduler::degraded() const {
    std::lock_guard lock(mutex_);
    return std::any_of(state_.begin(), state_.end(), [](const WorkerState& st) { return !st.healthy; });
}

std::vector<WorkerStatus> Scheduler::workers() const {
    std::lock_guard lock(mutex_);
    std::vector<WorkerStatus> out;
    for (size_t w = 0; w < workers_.size(); ++w) {
        const WorkerState& st = state_[w];
        out.push_back({"", static_cast<int>(w), workers_[w]->name(), st.healthy, st.error,
                       st.busy ? st.inflight_seqs : 0, st.batches, st.failures, st.tokens, st.busy_seconds});
    }
    return out;
}

int64_t Scheduler::depth() const {
    std::lock_guard lock(mutex_);
    return reserved_;
}

double Scheduler::cost(size_t length) const {
    const double l = static_cast<double>(length);
    return l + options_.attention_weight * l * l;
}

void Scheduler::count_queued(size_t length, int sign) {
    queued_tokens_ += sign * static_cast<int64_t>(length);
    queued_cost_ += sign * cost(length);
}

double Scheduler::batch_cost(const PackedBatch& packed) const {
    double c = 0;
    for (int32_t s = 0; s < packed.n_seqs(); ++s) c += cost(static_cast<size_t>(packed.seq_length(s)));
    return c;
}

void Scheduler::collect_dead(Clock::time_point now,
                             std::vector<std::pair<std::shared_ptr<RequestState>, Status>>& dead) {
    for (auto it = queue_.begin(); it != queue_.end();) {
        Status why = it->request->check(now);
        if (why.ok()) {
            ++it;
            continue;
        }
        for (int i : it->todo) count_queued(it->request->sequence(i).size(), -1);
        queued_seqs_ -= static_cast<int64_t>(it->todo.size());
        dead.emplace_back(it->request, std::move(why));
        it = queue_.erase(it);
    }
}

bool Scheduler::ready(Clock::time_point now) const {
    if (stopping_ || queued_tokens_ >= options_.max_batch_tokens || queued_seqs_ >= options_.max_batch_requests) {
        return true;
    }
    return now >= queue_.front().arrived + std::chrono::microseconds(options_.max_wait_us);
}

Batch Scheduler::form_batch(double share) {
    Batch batch;
    double batch_cost = 0;
    const double max_tokens = static_cast<double>(options_.max_batch_tokens) * share;
    const double max_cost = options_.max_batch_cost * share;
    const auto fits = [&](size_t length) {
        if (batch.items.empty()) return true;
        return static_cast<double>(batch.packed.n_tokens() + static_cast<int64_t>(length)) <= max_tokens &&
               batch_cost + cost(length) <= max_cost &&
               static_cast<int>(batch.items.size()) < options_.max_batch_requests;
    };
    bool added = true;
    while (added && static_cast<int>(batch.items.size()) < options_.max_batch_requests) {
        added = false;
        for (auto it = queue_.begin(); it != queue_.end();) {
            Pending& p = *it;
            const int index = p.todo.front();
            const std::vector<int32_t>& ids = p.request->sequence(index);
            if (fits(ids.size())) {
                const EmbedOptions& o = p.request->outputs();
                const bool first = batch.items.empty();
                batch.outputs.dense = (!first && batch.outputs.dense) || o.dense;
                batch.outputs.sparse = (!first && batch.outputs.sparse) || o.sparse;
                batch.outputs.colbert = (!first && batch.outputs.colbert) || o.colbert;
                batch.packed.add(ids);
                batch_cost += cost(ids.size());
                batch.items.push_back({p.request, index});
                count_queued(ids.size(), -1);
                --queued_seqs_;
                p.todo.pop_front();
                added = true;
            }
            it = p.todo.empty() ? queue_.erase(it) : std::next(it);
            if (static_cast<int>(batch.items.size()) >= options_.max_batch_requests) break;
        }
    }
    return batch;
}

void Scheduler::requeue(const Batch& batch) {
    // Back at the front, in one Pending per request, so they run next.
    std::list<Pending> again;
    for (const BatchItem& item : batch.items) {
        auto it = std::find_if(again.begin(), again.end(), [&](const Pending& p) { return p.request == item.request; });
        // Arrived long ago: they run without waiting for company.
        if (it == again.end()) it = again.insert(again.end(), Pending{item.request, {}, Clock::time_point::min()});
        it->todo.push_back(item.index);
        count_queued(item.request->sequence(item.index).size(), 1);
        ++queued_seqs_;
    }
    queue_.splice(queue_.begin(), again);
}

double Scheduler::speed_share(size_t w) const {
    const double mine = state_[w].speed();
    double fastest = 0;
    for (const WorkerState& st : state_) {
        if (st.healthy) fastest = std::max(fastest, st.speed());
    }
    if (mine <= 0 || fastest <= 0) return 1;
    const double share = mine / fastest;
    return share >= kSlowShare ? 1 : share;
}

bool Scheduler::defer(size_t w, double share, Clock::time_point now) const {
    const double mine = state_[w].speed();
    double faster = 0;              // speed of the workers much faster than w
    double backlog = queued_cost_;  // what they would have to run: the queue and what they still have in flight
    for (size_t o = 0; o < state_.size(); ++o) {
        const WorkerState& st = state_[o];
        if (o == w || !st.healthy || st.speed() * kSlowShare <= mine) continue;
        faster += st.speed();
        if (st.busy) {
            const double done = std::chrono::duration<double>(now - st.busy_since).count() * st.speed();
            backlog += std::max(0.0, st.inflight_cost - done);
        }
    }
    if (faster <= 0) return false;
    const Pending& front = queue_.front();
    const double own = std::max(std::min(queued_cost_, options_.max_batch_cost * share),
                                cost(front.request->sequence(front.todo.front()).size()));
    return own / mine > backlog / faster;
}

void Scheduler::account(size_t w, double batch_cost, int64_t tokens, double seconds, bool ok) {
    std::lock_guard lock(mutex_);
    WorkerState& st = state_[w];
    st.busy_seconds += seconds;
    if (!ok) {
        ++st.failures;
        return;
    }
    ++st.batches;
    st.tokens += tokens;
    // Only batches that fill at least half of what the worker may take say how fast it is: a lightly loaded
    // worker's small batches run below its speed.
    if (st.speed() <= 0 || batch_cost >= 0.5 * options_.max_batch_cost * speed_share(w)) {
        constexpr double kKeep = 0.9;  // the weight of the past, per batch
        st.cost_sum = st.cost_sum * kKeep + batch_cost;
        st.seconds_sum = st.seconds_sum * kKeep + seconds;
    }
}

StatusOr<std::vector<StatusOr<SeqOutput>>> Scheduler::run_split(size_t w, const Batch& batch) {
    const Clock::time_point start = Clock::now();
    StatusOr<std::vector<SeqOutput>> out = workers_[w]->run(batch);
    const Clock::time_point end = Clock::now();
    const size_t n = static_cast<size_t>(batch.packed.n_seqs());
    if (out.ok() && out->size() != n) {
        out = internal_error(workers_[w]->name() + " returned " + std::to_string(out->size()) + " outputs for " +
                             std::to_string(n) + " sequences");
    }
    const double seconds = std::chrono::duration<double>(end - start).count();
    account(w, batch_cost(batch.packed), batch.packed.n_tokens(), seconds, out.ok());
    if (metrics_) {
        metrics_->batch_size.observe(static_cast<double>(n));
        metrics_->batch_tokens.observe(batch.packed.n_tokens());
        metrics_->inference.observe(seconds);
        metrics_->batches.add(out.ok() ? "outcome=\"ok\"" : "outcome=\"error\"");
        if (out.ok()) metrics_->tokens.add("", batch.packed.n_tokens());
    }
    if (out.ok())
        return std::vector<StatusOr<SeqOutput>>(std::make_move_iterator(out->begin()),
                                                std::make_move_iterator(out->end()));
    if (out.status().code() != StatusCode::kResourceExhausted) return out.status();
    if (n == 1) return std::vector<StatusOr<SeqOutput>>{out.status()};  // its request fails; the worker is fine
    // Two halves, each run (and split) again.
    std::vector<StatusOr<SeqOutput>> all;
    const size_t half = n / 2;
    for (const auto& [first, last] : {std::pair{size_t{0}, half}, std::pair{half, n}}) {
        Batch part;
        part.outputs = batch.outputs;
        for (size_t s = first; s < last; ++s) {
            const int32_t b = batch.packed.seq_begin(static_cast<int32_t>(s));
            part.packed.add(std::span(batch.packed.input_ids)
                                .subspan(static_cast<size_t>(b),
                                         static_cast<size_t>(batch.packed.seq_length(static_cast<int32_t>(s)))));
            if (!batch.items.empty()) part.items.push_back(batch.items[s]);
        }
        BGE_ASSIGN_OR_RETURN(std::vector<StatusOr<SeqOutput>> outs, run_split(w, part));
        for (auto& o : outs) all.push_back(std::move(o));
    }
    return all;
}

void Scheduler::answer(const Batch& batch, std::vector<StatusOr<SeqOutput>>& out, Clock::time_point end) {
    for (size_t k = 0; k < batch.items.size(); ++k) {
        const BatchItem& item = batch.items[k];
        const bool several = item.request->sequences().size() > 1;
        // A non-finite output fails its request alone: the weights are at fault, not the worker.
        Status s = out[k].ok() ? std::visit([](const auto& o) { return check_finite(o); }, *out[k]) : out[k].status();
        if (!s.ok()) {
            item.request->fail(several ? s.with_context("input " + std::to_string(item.index)) : s);
            continue;
        }
        item.request->complete(item.index, std::move(*out[k]), end);
    }
}

void Scheduler::fail_worker(size_t w, const Batch& batch, const Status& why, std::unique_lock<std::mutex>& lock) {
    // It takes no more batches; the batch runs once more elsewhere.
    state_[w].healthy = false;
    state_[w].error = why.to_string();
    const bool other = any_healthy();
    std::vector<std::shared_ptr<RequestState>> to_fail;
    Batch retry;
    for (const BatchItem& item : batch.items) {
        if (other && !item.request->retried) {
            retry.items.push_back(item);
        } else {
            to_fail.push_back(item.request);
        }
    }
    for (const BatchItem& item : retry.items) item.request->retried = true;
    requeue(retry);
    if (!other) {  // nobody is left to run the queue
        for (Pending& p : queue_) to_fail.push_back(p.request);
        queue_.clear();
        queued_tokens_ = queued_seqs_ = 0;
        queued_cost_ = 0;
    }
    lock.unlock();
    cv_.notify_all();
    for (auto& request : to_fail) request->fail(why);
    lock.lock();
}

Status Scheduler::run_on_every_worker(const Batch& batch, bool measure) {
    std::vector<Status> results(workers_.size());
    std::vector<std::thread> threads;
    for (size_t w = 0; w < workers_.size(); ++w) {
        {
            std::lock_guard lock(mutex_);
            if (!state_[w].healthy) continue;
        }
        threads.emplace_back([&, w] {
            const Clock::time_point start = Clock::now();
            StatusOr<std::vector<SeqOutput>> out = workers_[w]->run(batch);
            const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
            std::lock_guard lock(mutex_);
            WorkerState& st = state_[w];
            if (!out.ok()) {
                results[w] = out.status().with_context("worker " + workers_[w]->name());
                st.healthy = false;
                st.error = results[w].to_string();
                return;
            }
            const double c = batch_cost(batch.packed);
            if (measure && seconds > 0 && c / seconds > st.speed()) {  // the fastest run: noise only slows one down
                st.cost_sum = c;
                st.seconds_sum = seconds;
            }
        });
    }
    for (std::thread& t : threads) t.join();
    for (const Status& s : results) BGE_RETURN_IF_ERROR(s);
    return ok_status();
}

void Scheduler::work(size_t w) {
    std::unique_lock lock(mutex_);
    std::vector<std::pair<std::shared_ptr<RequestState>, Status>> dead;
    while (state_[w].healthy) {
        const Clock::time_point now = Clock::now();
        collect_dead(now, dead);
        if (!dead.empty()) {
            lock.unlock();
            for (auto& [request, why] : dead) request->fail(why);
            dead.clear();
            lock.lock();
            continue;
        }
        if (queue_.empty()) {
            if (stopping_) break;
            cv_.wait(lock);
            continue;
        }
        if (!ready(now)) {
            cv_.wait_until(lock, queue_.front().arrived + std::chrono::microseconds(options_.max_wait_us));
            continue;
        }
        const double share = speed_share(w);
        if (share < 1 && defer(w, share, now)) {
            // Woken when work arrives or a worker finishes; the faster workers' progress changes the answer too.
            cv_.wait_for(lock, std::chrono::milliseconds(1));
            continue;
        }
        Batch batch = form_batch(share);
        WorkerState& st = state_[w];
        st.busy = true;
        st.inflight_cost = batch_cost(batch.packed);
        st.inflight_seqs = batch.packed.n_seqs();
        st.busy_since = now;
        const bool more = !queue_.empty();
        lock.unlock();
        if (more) cv_.notify_all();  // for another worker
        const Clock::time_point start = Clock::now();
        std::vector<RequestState*> members;  // each request once
        for (const BatchItem& item : batch.items) {
            if (std::find(members.begin(), members.end(), item.request.get()) != members.end()) continue;
            members.push_back(item.request.get());
            item.request->batch_started(start);
        }
        StatusOr<std::vector<StatusOr<SeqOutput>>> out = run_split(w, batch);
        if (out.ok()) answer(batch, *out, Clock::now());
        lock.lock();
        state_[w].busy = false;
        if (out.ok()) {
            lock.unlock();
            cv_.notify_all();  // a slow worker waiting on this one decides again
            lock.lock();
            continue;
        }
        fail_worker(w, batch, out.status().with_context("worker " + workers_[w]->name()), lock);
    }
}

}  // namespace bge
