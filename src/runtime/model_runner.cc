#include "runtime/model_runner.h"

#include <algorithm>
#include <cmath>
#include <new>
#include <numeric>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "backend/cpu/cpu_backend.h"
#include "core/check.h"
#include "io/model_dir.h"
#include "model/output_check.h"
#include "model/weight_reader.h"
#include "runtime/device.h"

namespace bge {

namespace {

// Host containers (std::vector, std::map) report exhaustion by throwing; no exception leaves the engine.
template <typename F>
auto catching_bad_alloc(const std::string& what, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const std::bad_alloc&) {
        return resource_exhausted("out of memory " + what);
    } catch (const std::length_error&) {
        return resource_exhausted("out of memory " + what);
    }
}

// Names the input of a call of several; a call of one needs no index.
Status for_input(const Status& s, const char* noun, size_t i, size_t n) {
    return n > 1 ? s.with_context(noun + (" " + std::to_string(i))) : s;
}

// Tokenizes inputs [0, n) of `bytes` bytes in all with encode(i) -> StatusOr<ids>, in contiguous chunks on up to 16
// threads, one per 4 KiB of text at most (tokenizing was a third of a batched GPU call on one thread). The error
// of the lowest failing input wins, as a sequential loop would report it.
size_t total_bytes(std::span<const std::string> texts) {
    size_t n = 0;
    for (const std::string& t : texts) n += t.size();
    return n;
}
size_t total_bytes(std::span<const TextPair> pairs) {
    size_t n = 0;
    for (const TextPair& p : pairs) n += p.query.size() + p.passage.size();
    return n;
}

template <typename Encode>
StatusOr<std::vector<std::vector<int32_t>>> encode_all(size_t n, size_t bytes, const char* noun, Encode&& encode) {
    std::vector<std::vector<int32_t>> out(n);
    const size_t n_threads = std::min<size_t>(
        {std::max(1u, std::thread::hardware_concurrency()), 16, n, std::max<size_t>(1, bytes / (4 << 10))});
    std::vector<Status> errors(std::max<size_t>(n_threads, 1));
    std::vector<size_t> error_at(errors.size(), n);
    const auto work = [&](size_t t) {
        const size_t begin = n * t / n_threads, end = n * (t + 1) / n_threads;
        try {
            for (size_t i = begin; i < end; ++i) {
                auto ids = encode(i);
                if (!ids.ok()) {
                    errors[t] = for_input(ids.status(), noun, i, n);
                    error_at[t] = i;
                    return;
                }
                out[i] = std::move(ids).value();
            }
        } catch (const std::bad_alloc&) {
            errors[t] = resource_exhausted(std::string("out of memory tokenizing the ") + noun + "s");
            error_at[t] = begin;
        }
    };
    std::vector<std::thread> threads;
    for (size_t t = 1; t < n_threads; ++t) {
        try {
            threads.emplace_back(work, t);
        } catch (const std::system_error&) {  // no thread to be had: this one does the chunk
            work(t);
        }
    }
    if (n_threads > 0) work(0);
    for (std::thread& t : threads) t.join();
    for (size_t t = 0; t < errors.size(); ++t) {
        if (error_at[t] < n) return errors[t];
    }
    return out;
}

}  // namespace

StatusOr<std::unique_ptr<ModelRunner>> ModelRunner::open(const std::string& dir, const EngineOptions& options,
                                                         ModelKind expected) {
    std::unique_ptr<ModelRunner> runner(new ModelRunner());
    BGE_RETURN_IF_ERROR(
        catching_bad_alloc("loading " + dir, [&]() -> Status { return runner->load(dir, options, expected); }));
    return runner;
}

Status ModelRunner::load(const std::string& dir, const EngineOptions& options, ModelKind expected) {
    BGE_ASSIGN_OR_RETURN(io::ModelFiles files, io::find_model_files(dir));
    BGE_ASSIGN_OR_RETURN(std::string config_text, io::read_text_file(files.config_json));
    BGE_ASSIGN_OR_RETURN(config_, parse_config(config_text, files.config_json));
    if (config_.kind != expected) {
        auto article = [](ModelKind k) { return k == ModelKind::kEmbedder ? "an embedder" : "a reranker"; };
        return failed_precondition(dir + " holds " + article(config_.kind) + " (" + config_.architecture + "), not " +
                                   article(expected));
    }
    BGE_ASSIGN_OR_RETURN(tokenizer_, Tokenizer::open(dir));
    if (options.n_threads < 0 || options.n_threads > EngineOptions::kMaxThreads) {
        return invalid_argument("n_threads " + std::to_string(options.n_threads) + " is not in [0, " +
                                std::to_string(EngineOptions::kMaxThreads) + "]");
    }
    if (options.max_batch_tokens < 1) return invalid_argument("max_batch_tokens must be >= 1");
    BGE_ASSIGN_OR_RETURN(backend_, make_backend(options));

    BGE_ASSIGN_OR_RETURN(io::TensorMap tensors, io::read_weight_files(files.weight_files));
    const std::string prefix = encoder_prefix(tensors);
    const WeightReader reader(tensors, prefix);
    BGE_ASSIGN_OR_RETURN(DType stored, reader.dtype_of("embeddings.word_embeddings.weight"));
    BGE_ASSIGN_OR_RETURN(encoder_, XlmrEncoder::load(config_, reader, *backend_));

    info_.files = {files.config_json, files.sentencepiece_model};
    if (!files.tokenizer_config_json.empty()) info_.files.push_back(files.tokenizer_config_json);
    info_.files.insert(info_.files.end(), files.weight_files.begin(), files.weight_files.end());
    if (config_.kind == ModelKind::kEmbedder) {
        io::TensorMap sparse, colbert;
        if (!files.sparse_linear.empty()) {
            BGE_ASSIGN_OR_RETURN(sparse, io::read_tensor_file(files.sparse_linear));
            info_.files.push_back(files.sparse_linear);
        }
        if (!files.colbert_linear.empty()) {
            BGE_ASSIGN_OR_RETURN(colbert, io::read_tensor_file(files.colbert_linear));
            info_.files.push_back(files.colbert_linear);
        }
        auto heads = M3Heads::load(files.sparse_linear.empty() ? nullptr : &sparse,
                                   files.colbert_linear.empty() ? nullptr : &colbert, config_.hidden_size, *backend_);
        if (!heads.ok()) return heads.status().with_context(files.sparse_linear + " / " + files.colbert_linear);
        m3_heads_ = std::move(heads).value();
    } else {
        BGE_ASSIGN_OR_RETURN(classifier_, ClassifierHead::load(tensors, config_.hidden_size, *backend_));
    }

    // Every valid input fits in one batch. The CPU's workspace grows to the batches that come, starting with
    // room for one input of the longest length; a device backend's holds the whole budget from the start.
    max_tokens_ = std::max<int64_t>(options.max_batch_tokens, config_.max_input_length());
    BGE_RETURN_IF_ERROR(backend_->grows_workspace() ? reserve_workspace(config_.max_input_length())
                                                    : reserve_full_budget());

    info_.dir = dir;
    info_.kind = model_kind_name(config_.kind);
    info_.architecture = config_.architecture;
    info_.hidden_size = config_.hidden_size;
    info_.num_hidden_layers = config_.num_hidden_layers;
    info_.num_attention_heads = config_.num_attention_heads;
    info_.intermediate_size = config_.intermediate_size;
    info_.vocab_size = config_.vocab_size;
    info_.max_length = tokenizer_->default_max_length();
    info_.weights_dtype = dtype_name(stored);
    info_.compute_dtype = backend_->compute_dtype();
    info_.gemm_kernels = backend_->gemm_kernels();
    info_.attention_kernel = backend_->attention_kernel();
    info_.backend = backend_->name();
    if (info_.backend == "cpu") info_.cpu_isa = cpu_isa_in_use();
    info_.device = backend_->device_description();
    const DeviceMemoryInfo memory = backend_->memory_info();
    info_.device_memory_total_bytes = memory.total_bytes;
    info_.device_memory_free_bytes = memory.free_bytes;
    info_.model_memory_bytes = memory.allocated_bytes;
    info_.has_sparse = m3_heads_ && m3_heads_->has_sparse();
    info_.has_colbert = m3_heads_ && m3_heads_->has_colbert();
    info_.colbert_dim = m3_heads_ ? m3_heads_->colbert_dim() : 0;
    return ok_status();
}

StatusOr<ModelRunner::Workspaces> ModelRunner::make_workspaces(int64_t tokens) const {
    Workspaces ws;
    ws.tokens = tokens;
    BGE_ASSIGN_OR_RETURN(ws.encoder, encoder_->make_workspace(tokens));
    if (m3_heads_) {
        BGE_ASSIGN_OR_RETURN(ws.heads, m3_heads_->make_workspace(tokens));
    }
    if (classifier_) {
        BGE_ASSIGN_OR_RETURN(ws.classifier, classifier_->make_workspace(tokens));
    }
    return ws;
}

Status ModelRunner::reserve_workspace(int64_t n_tokens) {
    if (n_tokens <= ws_.tokens) return ok_status();
    // A device backend's ws_ holds max_tokens_ from load on: it never grows once forwards run.
    BGE_CHECK(backend_->grows_workspace() || ws_.tokens == 0);
    // Doubling bounds the number of regrowths; the old workspace goes first, to lower the peak.
    const int64_t tokens = std::min(max_tokens_, std::max(n_tokens, 2 * ws_.tokens));
    ws_ = {};
    auto ws = make_workspaces(tokens);
    if (!ws.ok()) return ws.status().with_context("the workspace for batches of " + std::to_string(tokens) + " tokens");
    ws_ = std::move(ws).value();
    return ok_status();
}

Status ModelRunner::reserve_full_budget() {
    const Status full = reserve_workspace(max_tokens_);
    if (full.code() != StatusCode::kResourceExhausted) return full;
    // The largest budget that fits now. The workspaces grow linearly with their token count, so two small
    // probes give bytes per token, and the device's free memory (with a 10% margin) the budget; trying budget
    // after budget instead would allocate most of the device on every try.
    const int64_t longest = config_.max_input_length();
    auto held_for = [&](int64_t tokens) -> StatusOr<int64_t> {
        const int64_t before = backend_->memory_info().allocated_bytes;
        BGE_ASSIGN_OR_RETURN(Workspaces probe, make_workspaces(tokens));
        return backend_->memory_info().allocated_bytes - before;
    };
    auto one = held_for(longest);
    auto two = held_for(2 * longest);
    int64_t fits = longest - 1;  // below one input of the longest length: nothing useful fits
    if (one.ok() && two.ok() && *two > *one) {
        const int64_t per_token = (*two - *one + longest - 1) / longest;
        const int64_t fixed = std::max<int64_t>(0, *one - per_token * longest);
        const int64_t usable = backend_->memory_info().free_bytes / 10 * 9 - fixed;
        fits = std::min(max_tokens_ - 1, std::max(fits, usable / per_token));
    }
    if (fits < longest) {
        return resource_exhausted(full.message() + "; not even one input of the longest length (" +
                                  std::to_string(longest) + " tokens) fits");
    }
    return resource_exhausted(full.message() + "; batches of up to " + std::to_string(fits) +
                              " tokens fit (max_batch_tokens " + std::to_string(fits) + ")");
}

template <typename Run>
Status ModelRunner::for_each_batch(const std::vector<std::vector<int32_t>>& sequences, Run&& run) {
    std::vector<size_t> order(sequences.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return sequences[a].size() > sequences[b].size(); });
    size_t i = 0;
    while (i < order.size()) {
        PackedBatch batch;
        std::vector<size_t> members;
        while (i < order.size() && batch.n_tokens() + static_cast<int64_t>(sequences[order[i]].size()) <= max_tokens_) {
            batch.add(sequences[order[i]]);
            members.push_back(order[i]);
            ++i;
        }
        BGE_RETURN_IF_ERROR(run(batch, members));
    }
    return ok_status();
}

Status ModelRunner::check_outputs(const EmbedOptions& options) const {
    if (!options.dense && !options.sparse && !options.colbert) {
        return invalid_argument("no output asked for (dense, sparse, colbert)");
    }
    if (options.sparse && !m3_heads_->has_sparse()) {
        return failed_precondition(info_.dir + " has no sparse_linear.pt: sparse output is not available");
    }
    if (options.colbert && !m3_heads_->has_colbert()) {
        return failed_precondition(info_.dir + " has no colbert_linear.pt: colbert output is not available");
    }
    return ok_status();
}

StatusOr<std::vector<Embedding>> ModelRunner::embed_batch(const PackedBatch& batch, const EmbedOptions& options) {
    return catching_bad_alloc(
        "embedding a batch of " + std::to_string(batch.n_tokens()) + " tokens",
        [&]() -> StatusOr<std::vector<Embedding>> {
            std::vector<Embedding> out;
            std::lock_guard lock(mutex_);
            BGE_RETURN_IF_ERROR(reserve_workspace(batch.n_tokens()));
            const Tensor hidden = encoder_->forward(batch, ws_.encoder);  // [n_tokens, hidden]
            // I32 [n_seqs, 1]
            const Tensor seq_starts = ws_.encoder.cu_seqlens.view.row_slice(0, batch.n_seqs());
            BGE_RETURN_IF_ERROR(m3_heads_->compute(batch, hidden, seq_starts, options, ws_.heads, out));
            return out;
        });
}

StatusOr<std::vector<RerankScore>> ModelRunner::rerank_batch(const PackedBatch& batch) {
    return catching_bad_alloc(
        "reranking a batch of " + std::to_string(batch.n_tokens()) + " tokens",
        [&]() -> StatusOr<std::vector<RerankScore>> {
            std::vector<RerankScore> out(static_cast<size_t>(batch.n_seqs()));
            std::lock_guard lock(mutex_);
            BGE_RETURN_IF_ERROR(reserve_workspace(batch.n_tokens()));
            const Tensor hidden = encoder_->forward(batch, ws_.encoder);                         // [n_tokens, hidden]
            const Tensor seq_starts = ws_.encoder.cu_seqlens.view.row_slice(0, batch.n_seqs());  // I32 [n_seqs, 1]
            BGE_ASSIGN_OR_RETURN(const std::vector<float> logits,
                                 classifier_->logits(hidden, seq_starts, ws_.classifier));
            for (int32_t k = 0; k < batch.n_seqs(); ++k) {
                out[k].n_tokens = batch.seq_length(k);
                out[k].logit = logits[k];
                out[k].score = static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(logits[k]))));
            }
            return out;
        });
}

StatusOr<std::vector<Embedding>> ModelRunner::embed(std::span<const std::string> texts, const EmbedOptions& options) {
    return catching_bad_alloc("embedding " + std::to_string(texts.size()) + " texts",
                              [&]() -> StatusOr<std::vector<Embedding>> { return embed_unchecked(texts, options); });
}

StatusOr<std::vector<Embedding>> ModelRunner::embed_unchecked(std::span<const std::string> texts,
                                                              const EmbedOptions& options) {
    BGE_RETURN_IF_ERROR(check_outputs(options));
    BGE_ASSIGN_OR_RETURN(std::vector<std::vector<int32_t>> sequences,
                         encode_all(texts.size(), total_bytes(texts), "text",
                                    [&](size_t i) { return tokenizer_->encode(texts[i], options.max_length); }));
    std::vector<Embedding> result(texts.size());
    BGE_RETURN_IF_ERROR(for_each_batch(sequences, [&](const PackedBatch& batch, const std::vector<size_t>& members) {
        BGE_ASSIGN_OR_RETURN(std::vector<Embedding> batch_out, embed_batch(batch, options));
        for (size_t k = 0; k < members.size(); ++k) {
            if (Status s = check_finite(batch_out[k]); !s.ok()) return for_input(s, "text", members[k], texts.size());
            result[members[k]] = std::move(batch_out[k]);
        }
        return ok_status();
    }));
    return result;
}

StatusOr<std::vector<RerankScore>> ModelRunner::rerank(std::span<const TextPair> pairs, int max_length) {
    return catching_bad_alloc(
        "reranking " + std::to_string(pairs.size()) + " pairs",
        [&]() -> StatusOr<std::vector<RerankScore>> { return rerank_unchecked(pairs, max_length); });
}

StatusOr<std::vector<RerankScore>> ModelRunner::rerank_unchecked(std::span<const TextPair> pairs, int max_length) {
    BGE_ASSIGN_OR_RETURN(std::vector<std::vector<int32_t>> sequences,
                         encode_all(pairs.size(), total_bytes(pairs), "pair", [&](size_t i) {
                             return tokenizer_->encode_pair(pairs[i].query, pairs[i].passage, max_length);
                         }));
    std::vector<RerankScore> result(pairs.size());
    BGE_RETURN_IF_ERROR(for_each_batch(sequences, [&](const PackedBatch& batch, const std::vector<size_t>& members) {
        BGE_ASSIGN_OR_RETURN(const std::vector<RerankScore> batch_out, rerank_batch(batch));
        for (size_t k = 0; k < members.size(); ++k) {
            if (Status s = check_finite(batch_out[k]); !s.ok()) return for_input(s, "pair", members[k], pairs.size());
            result[members[k]] = batch_out[k];
        }
        return ok_status();
    }));
    return result;
}

}  // namespace bge
