#include "runtime/model_runner.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "backend/cpu/cpu_backend.h"
#include "io/model_dir.h"
#include "model/weight_reader.h"
#include "runtime/device.h"

namespace bge {

StatusOr<std::unique_ptr<ModelRunner>> ModelRunner::open(const std::string& dir, const EngineOptions& options,
                                                         ModelKind expected) {
    std::unique_ptr<ModelRunner> runner(new ModelRunner());
    BGE_RETURN_IF_ERROR(runner->load(dir, options, expected));
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
    if (options.n_threads < 0) return invalid_argument("n_threads must be >= 0");
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

    // Every valid input fits in one batch.
    max_tokens_ = std::max<int64_t>(options.max_batch_tokens, config_.max_input_length());
    BGE_ASSIGN_OR_RETURN(encoder_ws_, encoder_->make_workspace(max_tokens_));
    if (m3_heads_) {
        BGE_ASSIGN_OR_RETURN(heads_ws_, m3_heads_->make_workspace(max_tokens_));
    }
    if (classifier_) {
        BGE_ASSIGN_OR_RETURN(classifier_ws_, classifier_->make_workspace(max_tokens_));
    }

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
    info_.compute_dtype = dtype_name(backend_->activation_dtype());
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
    std::vector<Embedding> out;
    std::lock_guard lock(mutex_);
    const Tensor hidden = encoder_->forward(batch, encoder_ws_);                         // [n_tokens, hidden]
    const Tensor seq_starts = encoder_ws_.cu_seqlens.view.row_slice(0, batch.n_seqs());  // I32 [n_seqs, 1]
    BGE_RETURN_IF_ERROR(m3_heads_->compute(batch, hidden, seq_starts, options, heads_ws_, out));
    return out;
}

StatusOr<std::vector<RerankScore>> ModelRunner::rerank_batch(const PackedBatch& batch) {
    std::vector<RerankScore> out(static_cast<size_t>(batch.n_seqs()));
    std::lock_guard lock(mutex_);
    const Tensor hidden = encoder_->forward(batch, encoder_ws_);                         // [n_tokens, hidden]
    const Tensor seq_starts = encoder_ws_.cu_seqlens.view.row_slice(0, batch.n_seqs());  // I32 [n_seqs, 1]
    BGE_ASSIGN_OR_RETURN(const std::vector<float> logits, classifier_->logits(hidden, seq_starts, classifier_ws_));
    for (int32_t k = 0; k < batch.n_seqs(); ++k) {
        out[k].n_tokens = batch.seq_length(k);
        out[k].logit = logits[k];
        out[k].score = static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(logits[k]))));
    }
    return out;
}

StatusOr<std::vector<Embedding>> ModelRunner::embed(std::span<const std::string> texts, const EmbedOptions& options) {
    BGE_RETURN_IF_ERROR(check_outputs(options));
    std::vector<std::vector<int32_t>> sequences(texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
        auto ids = tokenizer_->encode(texts[i], options.max_length);
        if (!ids.ok()) return ids.status().with_context("text " + std::to_string(i));
        sequences[i] = std::move(ids).value();
    }
    std::vector<Embedding> result(texts.size());
    BGE_RETURN_IF_ERROR(for_each_batch(sequences, [&](const PackedBatch& batch, const std::vector<size_t>& members) {
        BGE_ASSIGN_OR_RETURN(std::vector<Embedding> batch_out, embed_batch(batch, options));
        for (size_t k = 0; k < members.size(); ++k) result[members[k]] = std::move(batch_out[k]);
        return ok_status();
    }));
    return result;
}

StatusOr<std::vector<RerankScore>> ModelRunner::rerank(std::span<const TextPair> pairs, int max_length) {
    std::vector<std::vector<int32_t>> sequences(pairs.size());
    for (size_t i = 0; i < pairs.size(); ++i) {
        auto ids = tokenizer_->encode_pair(pairs[i].query, pairs[i].passage, max_length);
        if (!ids.ok()) return ids.status().with_context("pair " + std::to_string(i));
        sequences[i] = std::move(ids).value();
    }
    std::vector<RerankScore> result(pairs.size());
    BGE_RETURN_IF_ERROR(for_each_batch(sequences, [&](const PackedBatch& batch, const std::vector<size_t>& members) {
        BGE_ASSIGN_OR_RETURN(const std::vector<RerankScore> batch_out, rerank_batch(batch));
        for (size_t k = 0; k < members.size(); ++k) result[members[k]] = batch_out[k];
        return ok_status();
    }));
    return result;
}

}  // namespace bge
