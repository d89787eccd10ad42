// bge::Engine: tokenizer pool -> one scheduler per model -> workers (DESIGN.md "Serving path").
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <thread>

#include "bge/engine.h"
#include "core/check.h"
#include "core/metrics.h"
#include "runtime/device.h"
#include "runtime/model_runner.h"
#include "runtime/scheduler.h"
#include "runtime/tokenizer_pool.h"
#include "tokenizer/xlmr_tokenizer.h"

namespace bge {
namespace {

struct ServedModel {
    bool reranker = false;
    std::vector<ModelRunner*> runners;  // one per worker, owned by the scheduler's workers
    ModelRunner* runner = nullptr;      // the first: tokenizer, info and checks
    std::unique_ptr<Scheduler> scheduler;
    int max_length = 0;  // a request's default and cap
};

// `<s> ids </s>`, cut to max_length (truncate: the head kept, or the tail) or refused.
StatusOr<std::vector<int32_t>> wrap_ids(const std::vector<int32_t>& ids, int max_length, bool truncate, bool keep_tail,
                                        int vocab_size) {
    if (ids.empty()) return invalid_argument("empty token id list");
    for (int32_t id : ids) {
        if (id < 0 || id >= vocab_size) {
            return invalid_argument("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                    std::to_string(vocab_size) + ")");
        }
    }
    size_t keep = ids.size();
    if (keep + 2 > static_cast<size_t>(max_length)) {
        if (!truncate) {
            return out_of_range("input has " + std::to_string(ids.size() + 2) + " tokens, more than the limit of " +
                                std::to_string(max_length) + " (truncation is off)");
        }
        keep = static_cast<size_t>(max_length) - 2;
    }
    std::vector<int32_t> out;
    out.reserve(keep + 2);
    out.push_back(XlmrTokenizer::kBos);
    const auto first = ids.begin() + static_cast<std::ptrdiff_t>(keep_tail ? ids.size() - keep : 0);
    out.insert(out.end(), first, first + static_cast<std::ptrdiff_t>(keep));
    out.push_back(XlmrTokenizer::kEos);
    return out;
}

// BGE_TEST_FAIL_WORKER=I@N: {I, N}; {-1, 0} when unset.
StatusOr<std::pair<int, int64_t>> injected_failure() {
    const char* env = std::getenv("BGE_TEST_FAIL_WORKER");
    if (env == nullptr || *env == '\0') return std::pair<int, int64_t>{-1, 0};
    const std::string_view v(env);
    const size_t at = v.find('@');
    int worker = -1;
    int64_t batch = 0;
    const bool ok = at != std::string_view::npos &&
                    std::from_chars(v.data(), v.data() + at, worker).ptr == v.data() + at &&
                    std::from_chars(v.data() + at + 1, v.data() + v.size(), batch).ptr == v.data() + v.size() &&
                    worker >= 0 && batch >= 1;
    if (!ok)
        return invalid_argument("BGE_TEST_FAIL_WORKER='" + std::string(v) + "' is not WORKER@BATCH (0-based, >= 1)");
    return std::pair<int, int64_t>{worker, batch};
}

// One runner per device, loaded at once.
StatusOr<std::vector<std::unique_ptr<ModelRunner>>> open_runners(const std::string& dir, const EngineOptions& options,
                                                                 ModelKind kind) {
    BGE_ASSIGN_OR_RETURN(std::vector<std::string> devices, expand_devices(options.device));
    BGE_ASSIGN_OR_RETURN(std::vector<std::string> dtypes, expand_dtypes(options.dtype, devices.size()));
    std::vector<StatusOr<std::unique_ptr<ModelRunner>>> opened;
    for (size_t i = 0; i < devices.size(); ++i) opened.emplace_back(internal_error("not loaded"));
    std::vector<std::thread> threads;
    for (size_t i = 0; i < devices.size(); ++i) {
        threads.emplace_back([&, i] {
            EngineOptions one = options;
            one.device = devices[i];
            one.dtype = dtypes[i];
            opened[i] = ModelRunner::open(dir, one, kind);
        });
    }
    for (std::thread& t : threads) t.join();
    std::vector<std::unique_ptr<ModelRunner>> runners;
    for (size_t i = 0; i < devices.size(); ++i) {
        if (!opened[i].ok()) {
            return devices.size() == 1 ? opened[i].status() : opened[i].status().with_context("device " + devices[i]);
        }
        runners.push_back(std::move(opened[i]).value());
    }
    return runners;
}

// The request's own limit, capped by the served limit.
int effective_length(int asked, int cap) {
    return asked > 0 ? std::min(asked, cap) : cap;
}

}  // namespace

struct Engine::Impl {
    ServeOptions options;
    BatchMetrics batch_metrics;
    Histogram queue_seconds{"bge_queue_seconds", "Time from tokenized to the first forward pass, per request",
                            Histogram::latency_bounds()};
    Histogram tokenize_seconds{"bge_tokenize_seconds", "Time to tokenize a request's inputs",
                               Histogram::latency_bounds()};
    CounterFamily requests{"bge_engine_requests_total", "Requests answered by the engine, by model and outcome"};
    std::unique_ptr<ServedModel> embedder, reranker;
    std::unique_ptr<TokenizerPool> pool;
    std::atomic<bool> draining{false};
    std::mutex drain_mutex;

    Status add_model(const std::string& dir, ModelKind kind);
    // Reserves room and answers at once if the request cannot be taken.
    template <typename Response, typename Callback>
    std::shared_ptr<RequestState> admit(ServedModel* model, size_t n_inputs, const EmbedOptions& outputs,
                                        RequestControl control, Callback done);
    void record(const ServedModel& model, const Status& status, const RequestStats& stats);
};

Status Engine::Impl::add_model(const std::string& dir, ModelKind kind) {
    BGE_ASSIGN_OR_RETURN(auto failure, injected_failure());
    BGE_ASSIGN_OR_RETURN(std::vector<std::unique_ptr<ModelRunner>> runners, open_runners(dir, options.engine, kind));
    auto model = std::make_unique<ServedModel>();
    model->reranker = kind == ModelKind::kReranker;
    for (const auto& r : runners) model->runners.push_back(r.get());
    model->runner = runners.front().get();
    model->max_length = model->runner->tokenizer().default_max_length();
    if (options.max_input_tokens > 0) model->max_length = std::min(model->max_length, options.max_input_tokens);
    SchedulerOptions s;
    s.max_batch_tokens = options.engine.max_batch_tokens;
    s.max_batch_requests = options.max_batch_requests;
    s.max_wait_us = options.max_wait_us;
    s.max_queue = options.max_queue;
    s.attention_weight = 1.0 / (6.0 * model->runner->info().hidden_size);
    std::vector<std::unique_ptr<Worker>> workers;
    for (size_t i = 0; i < runners.size(); ++i) {
        std::unique_ptr<Worker> w = std::make_unique<ModelWorker>(std::move(runners[i]));
        if (static_cast<int>(i) == failure.first) w = std::make_unique<FailingWorker>(std::move(w), failure.second);
        workers.push_back(std::move(w));
    }
    model->scheduler = std::make_unique<Scheduler>(s, std::move(workers), &batch_metrics);
    (model->reranker ? reranker : embedder) = std::move(model);
    return ok_status();
}

void Engine::Impl::record(const ServedModel& model, const Status& status, const RequestStats& stats) {
    const std::string outcome = status.ok() ? "ok" : status_code_name(status.code());
    requests.add(std::string("model=\"") + (model.reranker ? "reranker" : "embedder") + "\",outcome=\"" + outcome +
                 "\"");
    if (!status.ok()) return;
    tokenize_seconds.observe(static_cast<double>(stats.tokenize_us) * 1e-6);
    queue_seconds.observe(static_cast<double>(stats.queue_us) * 1e-6);
}

template <typename Response, typename Callback>
std::shared_ptr<RequestState> Engine::Impl::admit(ServedModel* model, size_t n_inputs, const EmbedOptions& outputs,
                                                  RequestControl control, Callback done) {
    const char* what = model == reranker.get() ? "reranker" : "embedder";
    if (draining) {
        done(unavailable("the server is shutting down"));
        return nullptr;
    }
    if (n_inputs == 0) {
        done(invalid_argument("the request has no inputs"));
        return nullptr;
    }
    if (static_cast<int64_t>(n_inputs) > options.max_queue) {
        done(out_of_range("the request has " + std::to_string(n_inputs) + " inputs, more than the " + what +
                          " queue holds (max_queue " + std::to_string(options.max_queue) + ")"));
        return nullptr;
    }
    if (!model->scheduler->try_reserve(static_cast<int64_t>(n_inputs))) {
        done(unavailable(std::string("the ") + what + " queue is full (" + std::to_string(model->scheduler->depth()) +
                         " inputs queued, max_queue " + std::to_string(options.max_queue) + "); retry later"));
        return nullptr;
    }
    auto finish = [this, model, n_inputs, outputs, done = std::move(done)](
                      Status status, std::vector<SeqOutput> results, const RequestStats& stats) {
        model->scheduler->release(static_cast<int64_t>(n_inputs));
        record(*model, status, stats);
        if (!status.ok()) {
            done(std::move(status));
            return;
        }
        Response response;
        response.stats = stats;
        if constexpr (std::is_same_v<Response, EmbedResponse>) {
            for (SeqOutput& r : results) {
                Embedding e = std::get<Embedding>(std::move(r));
                // The batch may have computed more than this request asked for.
                if (!outputs.dense) e.dense.clear();
                if (!outputs.sparse) e.sparse.clear();
                if (!outputs.colbert) {
                    e.colbert.clear();
                    e.colbert_dim = 0;
                }
                response.embeddings.push_back(std::move(e));
            }
        } else {
            for (SeqOutput& r : results) response.scores.push_back(std::get<RerankScore>(r));
        }
        done(std::move(response));
    };
    return std::make_shared<RequestState>(outputs, std::move(control), std::move(finish));
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() {
    drain();
}

StatusOr<std::unique_ptr<Engine>> Engine::open(const ServeOptions& options) {
    if (options.embedder_dir.empty() && options.reranker_dir.empty()) {
        return invalid_argument("nothing to serve: give an embedder folder, a reranker folder, or both");
    }
    if (options.max_batch_requests < 1) return invalid_argument("max_batch_requests must be >= 1");
    if (options.max_wait_us < 0) return invalid_argument("max_wait_us must be >= 0");
    if (options.max_queue < 1) return invalid_argument("max_queue must be >= 1");
    if (options.max_input_tokens < 0) return invalid_argument("max_input_tokens must be >= 0");
    if (options.tokenizer_threads < 0) return invalid_argument("tokenizer_threads must be >= 0");
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    if (!options.embedder_dir.empty()) BGE_RETURN_IF_ERROR(impl->add_model(options.embedder_dir, ModelKind::kEmbedder));
    if (!options.reranker_dir.empty()) BGE_RETURN_IF_ERROR(impl->add_model(options.reranker_dir, ModelKind::kReranker));
    int threads = options.tokenizer_threads;
    if (threads == 0) threads = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
    impl->pool = std::make_unique<TokenizerPool>(threads);
    return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

void Engine::submit(EmbedRequest request, EmbedCallback done) {
    ServedModel* model = impl_->embedder.get();
    if (!model) return done(failed_precondition("no embedder is served"));
    if (Status s = model->runner->check_outputs(request.outputs); !s.ok()) return done(s);
    const int max_length = effective_length(request.outputs.max_length, model->max_length);
    const bool truncate = request.control.truncate;
    const bool keep_tail = request.control.keep_tail;
    auto state =
        impl_->admit<EmbedResponse>(model, request.inputs.size(), request.outputs, request.control, std::move(done));
    if (!state) return;
    auto task = [model, state, inputs = std::move(request.inputs), max_length, truncate, keep_tail] {
        const Clock::time_point begin = Clock::now();
        const Tokenizer& tokenizer = model->runner->tokenizer();
        const int vocab = model->runner->info().vocab_size;
        std::vector<std::vector<int32_t>>& sequences = state->sequences();
        sequences.resize(inputs.size());
        for (size_t i = 0; i < inputs.size(); ++i) {
            if (Status live = state->check(Clock::now()); !live.ok()) return state->fail(live);
            const EmbedInput& in = inputs[i];
            StatusOr<std::vector<int32_t>> ids = in.is_ids  ? wrap_ids(in.ids, max_length, truncate, keep_tail, vocab)
                                                 : truncate ? tokenizer.encode(in.text, max_length, keep_tail)
                                                            : tokenizer.encode_untruncated(in.text, max_length);
            if (!ids.ok()) return state->fail(ids.status().with_context("input " + std::to_string(i)));
            sequences[i] = std::move(ids).value();
        }
        state->set_tokenize_time(begin, Clock::now());
        model->scheduler->enqueue(state);
    };
    if (!impl_->pool->post(std::move(task))) state->fail(unavailable("the server is shutting down"));
}

void Engine::submit(RerankRequest request, RerankCallback done) {
    ServedModel* model = impl_->reranker.get();
    if (!model) return done(failed_precondition("no reranker is served"));
    const int max_length = effective_length(request.max_length, model->max_length);
    const bool truncate = request.control.truncate;
    const bool keep_tail = request.control.keep_tail;
    auto state =
        impl_->admit<RerankResponse>(model, request.pairs.size(), EmbedOptions{}, request.control, std::move(done));
    if (!state) return;
    auto task = [model, state, pairs = std::move(request.pairs), max_length, truncate, keep_tail] {
        const Clock::time_point begin = Clock::now();
        const Tokenizer& tokenizer = model->runner->tokenizer();
        std::vector<std::vector<int32_t>>& sequences = state->sequences();
        sequences.resize(pairs.size());
        for (size_t i = 0; i < pairs.size(); ++i) {
            if (Status live = state->check(Clock::now()); !live.ok()) return state->fail(live);
            StatusOr<std::vector<int32_t>> ids =
                truncate ? tokenizer.encode_pair(pairs[i].query, pairs[i].passage, max_length, keep_tail)
                         : tokenizer.encode_pair_untruncated(pairs[i].query, pairs[i].passage, max_length);
            if (!ids.ok()) return state->fail(ids.status().with_context("pair " + std::to_string(i)));
            sequences[i] = std::move(ids).value();
        }
        state->set_tokenize_time(begin, Clock::now());
        model->scheduler->enqueue(state);
    };
    if (!impl_->pool->post(std::move(task))) state->fail(unavailable("the server is shutting down"));
}

std::future<StatusOr<EmbedResponse>> Engine::submit(EmbedRequest request) {
    auto promise = std::make_shared<std::promise<StatusOr<EmbedResponse>>>();
    auto future = promise->get_future();
    submit(std::move(request), [promise](StatusOr<EmbedResponse> r) { promise->set_value(std::move(r)); });
    return future;
}

std::future<StatusOr<RerankResponse>> Engine::submit(RerankRequest request) {
    auto promise = std::make_shared<std::promise<StatusOr<RerankResponse>>>();
    auto future = promise->get_future();
    submit(std::move(request), [promise](StatusOr<RerankResponse> r) { promise->set_value(std::move(r)); });
    return future;
}

Status Engine::warm_up() {
    for (ServedModel* model : {impl_->embedder.get(), impl_->reranker.get()}) {
        if (!model) continue;
        // One forward per length bucket on every worker (oneDNN and cuDNN make their plans on first use of a
        // shape); with several workers, the longest three times more, warm, to seed their speeds.
        const ModelInfo& info = model->runner->info();
        Batch batch;
        batch.outputs = EmbedOptions{true, info.has_sparse, info.has_colbert, 0};
        for (int length : {16, 128, 1024}) {
            const int n = std::min(length, model->max_length);
            std::vector<int32_t> ids(static_cast<size_t>(n), 5);
            ids.front() = XlmrTokenizer::kBos;
            ids.back() = XlmrTokenizer::kEos;
            batch.packed = PackedBatch{};
            batch.packed.add(ids);
            BGE_RETURN_IF_ERROR(model->scheduler->run_on_every_worker(batch, /*measure=*/false));
            if (n < length) break;
        }
        if (model->scheduler->n_workers() > 1) {  // speeds matter only between workers
            for (int run = 0; run < 3; ++run) BGE_RETURN_IF_ERROR(model->scheduler->run_on_every_worker(batch, true));
        }
    }
    return ok_status();
}

void Engine::drain() {
    std::lock_guard lock(impl_->drain_mutex);
    impl_->draining = true;
    impl_->pool->stop();  // every accepted request reaches its scheduler
    for (ServedModel* model : {impl_->embedder.get(), impl_->reranker.get()}) {
        if (model) model->scheduler->stop();
    }
}

bool Engine::has_embedder() const {
    return impl_->embedder != nullptr;
}
bool Engine::has_reranker() const {
    return impl_->reranker != nullptr;
}
const ModelInfo& Engine::embedder_info() const {
    BGE_CHECK(impl_->embedder);
    return impl_->embedder->runner->info();
}
const ModelInfo& Engine::reranker_info() const {
    BGE_CHECK(impl_->reranker);
    return impl_->reranker->runner->info();
}
const Tokenizer& Engine::embedder_tokenizer() const {
    BGE_CHECK(impl_->embedder);
    return impl_->embedder->runner->tokenizer();
}
const Tokenizer& Engine::reranker_tokenizer() const {
    BGE_CHECK(impl_->reranker);
    return impl_->reranker->runner->tokenizer();
}
int Engine::max_length(bool reranker) const {
    const auto& model = reranker ? impl_->reranker : impl_->embedder;
    BGE_CHECK(model);
    return model->max_length;
}
const ServeOptions& Engine::options() const {
    return impl_->options;
}

std::vector<ModelInfo> Engine::worker_infos(bool reranker) const {
    const auto& model = reranker ? impl_->reranker : impl_->embedder;
    BGE_CHECK(model);
    std::vector<ModelInfo> out;
    for (const ModelRunner* r : model->runners) out.push_back(r->info());
    return out;
}

std::vector<WorkerStatus> Engine::workers() const {
    std::vector<WorkerStatus> out;
    for (ServedModel* model : {impl_->embedder.get(), impl_->reranker.get()}) {
        if (!model) continue;
        for (WorkerStatus& w : model->scheduler->workers()) {
            w.model = model->reranker ? "reranker" : "embedder";
            out.push_back(std::move(w));
        }
    }
    return out;
}

bool Engine::degraded() const {
    for (ServedModel* model : {impl_->embedder.get(), impl_->reranker.get()}) {
        if (model && model->scheduler->degraded()) return true;
    }
    return false;
}

bool Engine::healthy() const {
    if (impl_->draining) return false;
    for (ServedModel* model : {impl_->embedder.get(), impl_->reranker.get()}) {
        if (model && !model->scheduler->healthy()) return false;
    }
    return true;
}

int64_t Engine::queue_depth() const {
    int64_t depth = 0;
    for (ServedModel* model : {impl_->embedder.get(), impl_->reranker.get()}) {
        if (model) depth += model->scheduler->depth();
    }
    return depth;
}

std::string Engine::metrics_text() const {
    std::string out;
    append_gauge(out, "bge_queue_depth", "Inputs accepted and not yet answered", static_cast<double>(queue_depth()));
    impl_->requests.append_prometheus(out);
    impl_->tokenize_seconds.append_prometheus(out);
    impl_->queue_seconds.append_prometheus(out);
    impl_->batch_metrics.inference.append_prometheus(out);
    impl_->batch_metrics.batch_size.append_prometheus(out);
    impl_->batch_metrics.batch_tokens.append_prometheus(out);
    impl_->batch_metrics.tokens.append_prometheus(out);
    impl_->batch_metrics.batches.append_prometheus(out);
    const std::vector<WorkerStatus> workers = this->workers();
    const auto family = [&](const char* name, const char* help, const char* type, auto value) {
        std::vector<std::pair<std::string, double>> series;
        for (const WorkerStatus& w : workers) {
            series.emplace_back(
                "model=\"" + w.model + "\",worker=\"" + std::to_string(w.index) + "\",device=\"" + w.device + "\"",
                static_cast<double>(value(w)));
        }
        append_family(out, name, help, type, series);
    };
    family("bge_worker_healthy", "1 while the worker takes batches, 0 once it failed", "gauge",
           [](const WorkerStatus& w) { return w.healthy ? 1 : 0; });
    family("bge_worker_queue_depth", "Sequences handed to the worker and not yet finished", "gauge",
           [](const WorkerStatus& w) { return w.queue_depth; });
    family("bge_worker_batches_total", "Forward passes that succeeded on the worker", "counter",
           [](const WorkerStatus& w) { return w.batches; });
    family("bge_worker_failures_total", "Forward passes that failed on the worker", "counter",
           [](const WorkerStatus& w) { return w.failures; });
    family("bge_worker_tokens_total", "Tokens of the worker's successful forward passes", "counter",
           [](const WorkerStatus& w) { return w.tokens; });
    family("bge_worker_busy_seconds_total", "Time the worker spent in forward passes", "counter",
           [](const WorkerStatus& w) { return w.busy_seconds; });
    out += "# HELP bge_model_info The models served\n# TYPE bge_model_info gauge\n";
    for (ServedModel* model : {impl_->embedder.get(), impl_->reranker.get()}) {
        if (!model) continue;
        const ModelInfo& info = model->runner->info();
        out += "bge_model_info{kind=\"" + info.kind + "\",architecture=\"" + info.architecture + "\",backend=\"" +
               info.backend + "\",dtype=\"" + info.compute_dtype + "\",max_length=\"" +
               std::to_string(model->max_length) + "\"} 1\n";
    }
    return out;
}

}  // namespace bge
