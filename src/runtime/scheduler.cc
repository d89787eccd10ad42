#include "runtime/scheduler.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <variant>

#include "core/check.h"
#include "model/output_check.h"

namespace bge {

Scheduler::Scheduler(SchedulerOptions options, std::vector<std::unique_ptr<Worker>> workers, BatchMetrics* metrics)
    : options_(options), workers_(std::move(workers)), metrics_(metrics), healthy_(workers_.size(), true) {
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
        const bool any_healthy = std::find(healthy_.begin(), healthy_.end(), true) != healthy_.end();
        if (!stopping_ && any_healthy) {
            for (int i : order) queued_tokens_ += static_cast<int64_t>(request->sequence(i).size());
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

bool Scheduler::healthy() const {
    std::lock_guard lock(mutex_);
    return std::find(healthy_.begin(), healthy_.end(), true) != healthy_.end();
}

int64_t Scheduler::depth() const {
    std::lock_guard lock(mutex_);
    return reserved_;
}

double Scheduler::cost(size_t length) const {
    const double l = static_cast<double>(length);
    return l + options_.attention_weight * l * l;
}

void Scheduler::collect_dead(Clock::time_point now,
                             std::vector<std::pair<std::shared_ptr<RequestState>, Status>>& dead) {
    for (auto it = queue_.begin(); it != queue_.end();) {
        Status why = it->request->check(now);
        if (why.ok()) {
            ++it;
            continue;
        }
        for (int i : it->todo) queued_tokens_ -= static_cast<int64_t>(it->request->sequence(i).size());
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

Batch Scheduler::form_batch() {
    Batch batch;
    double batch_cost = 0;
    const auto fits = [&](size_t length) {
        if (batch.items.empty()) return true;
        return batch.packed.n_tokens() + static_cast<int64_t>(length) <= options_.max_batch_tokens &&
               batch_cost + cost(length) <= options_.max_batch_cost &&
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
                queued_tokens_ -= static_cast<int64_t>(ids.size());
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
        queued_tokens_ += static_cast<int64_t>(item.request->sequence(item.index).size());
        ++queued_seqs_;
    }
    queue_.splice(queue_.begin(), again);
}

void Scheduler::work(size_t w) {
    std::unique_lock lock(mutex_);
    std::vector<std::pair<std::shared_ptr<RequestState>, Status>> dead;
    while (healthy_[w]) {
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
        Batch batch = form_batch();
        const bool more = !queue_.empty();
        lock.unlock();
        if (more) cv_.notify_one();  // for another worker
        const Clock::time_point start = Clock::now();
        std::vector<RequestState*> members;  // each request once
        for (const BatchItem& item : batch.items) {
            if (std::find(members.begin(), members.end(), item.request.get()) != members.end()) continue;
            members.push_back(item.request.get());
            item.request->batch_started(start);
        }
        StatusOr<std::vector<SeqOutput>> out = workers_[w]->run(batch);
        const Clock::time_point end = Clock::now();
        if (out.ok() && out->size() != batch.items.size()) {
            out = internal_error(workers_[w]->name() + " returned " + std::to_string(out->size()) + " outputs for " +
                                 std::to_string(batch.items.size()) + " sequences");
        }
        if (metrics_) {
            metrics_->batch_size.observe(static_cast<double>(batch.items.size()));
            metrics_->batch_tokens.observe(batch.packed.n_tokens());
            metrics_->inference.observe(std::chrono::duration<double>(end - start).count());
            metrics_->batches.add(out.ok() ? "outcome=\"ok\"" : "outcome=\"error\"");
            if (out.ok()) metrics_->tokens.add("", batch.packed.n_tokens());
        }
        if (out.ok()) {
            for (size_t k = 0; k < batch.items.size(); ++k) {
                const BatchItem& item = batch.items[k];
                // A non-finite output fails its request alone: the weights are at fault, not the worker.
                if (Status s = std::visit([](const auto& o) { return check_finite(o); }, (*out)[k]); !s.ok()) {
                    const bool several = item.request->sequences().size() > 1;
                    item.request->fail(several ? s.with_context("input " + std::to_string(item.index)) : s);
                    continue;
                }
                item.request->complete(item.index, std::move((*out)[k]), end);
            }
            lock.lock();
            continue;
        }
        // The worker failed: it takes no more batches; the batch runs once more elsewhere.
        lock.lock();
        healthy_[w] = false;
        const bool other = std::find(healthy_.begin(), healthy_.end(), true) != healthy_.end();
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
        }
        lock.unlock();
        cv_.notify_all();
        const Status why = out.status().with_context("worker " + workers_[w]->name());
        for (auto& request : to_fail) request->fail(why);
        lock.lock();
    }
}

}  // namespace bge
