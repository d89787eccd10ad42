#include "model/xlmr_encoder.h"

#include <algorithm>
#include <string>
#include <utility>

#include "core/check.h"

namespace bge {
namespace {

// Reads `name` with `shape` and uploads it as an activation-dtype tensor of [rows, cols].
StatusOr<DeviceTensor> upload(const WeightReader& w, Backend& backend, const std::string& name,
                              std::vector<int64_t> shape, int64_t rows, int64_t cols) {
    BGE_ASSIGN_OR_RETURN(F32Data data, w.read(name, shape));
    return backend.upload(data.data(), rows, cols, backend.activation_dtype());
}

// LayerNorm parameters stay F32 on every backend (the kernels normalize in F32).
StatusOr<DeviceTensor> upload_vector(const WeightReader& w, Backend& backend, const std::string& name, int64_t n) {
    BGE_ASSIGN_OR_RETURN(F32Data data, w.read(name, {n}));
    return backend.upload(data.data(), 1, n, DType::kF32);
}

// A LayerNorm's parameters on the host: the InputNorm of the maps that read its output.
struct HostNorm {
    F32Data gamma, beta;  // [n] each
    InputNorm view() const { return {{gamma.data(), gamma.size()}, {beta.data(), beta.size()}}; }
};

StatusOr<HostNorm> read_norm(const WeightReader& w, const std::string& name, int64_t n) {
    HostNorm norm;
    BGE_ASSIGN_OR_RETURN(norm.gamma, w.read(name + ".weight", {n}));
    BGE_ASSIGN_OR_RETURN(norm.beta, w.read(name + ".bias", {n}));
    return norm;
}

StatusOr<std::unique_ptr<LinearWeight>> linear(const WeightReader& w, Backend& backend, EncoderLinear which,
                                               const std::string& name, int64_t out, int64_t in, InputNorm norm) {
    BGE_ASSIGN_OR_RETURN(F32Data weight, w.read(name + ".weight", {out, in}));
    BGE_ASSIGN_OR_RETURN(F32Data bias, w.read(name + ".bias", {out}));
    return backend.make_encoder_linear(which, weight.data(), bias.data(), out, in, norm);
}

}  // namespace

StatusOr<std::unique_ptr<XlmrEncoder>> XlmrEncoder::load(const XlmrConfig& config, const WeightReader& weights,
                                                         Backend& backend) {
    std::unique_ptr<XlmrEncoder> e(new XlmrEncoder(config, backend));
    const int64_t h = config.hidden_size;
    BGE_ASSIGN_OR_RETURN(e->word_embeddings_, upload(weights, backend, "embeddings.word_embeddings.weight",
                                                     {config.vocab_size, h}, config.vocab_size, h));
    BGE_ASSIGN_OR_RETURN(e->position_embeddings_,
                         upload(weights, backend, "embeddings.position_embeddings.weight",
                                {config.max_position_embeddings, h}, config.max_position_embeddings, h));
    {
        BGE_ASSIGN_OR_RETURN(F32Data types,
                             weights.read("embeddings.token_type_embeddings.weight", {config.type_vocab_size, h}));
        BGE_ASSIGN_OR_RETURN(e->token_type_embedding_, backend.upload(types.data(), 1, h, backend.activation_dtype()));
    }
    BGE_ASSIGN_OR_RETURN(e->embed_ln_gamma_, upload_vector(weights, backend, "embeddings.LayerNorm.weight", h));
    BGE_ASSIGN_OR_RETURN(e->embed_ln_beta_, upload_vector(weights, backend, "embeddings.LayerNorm.bias", h));
    e->layers_.resize(config.num_hidden_layers);
    for (int i = 0; i < config.num_hidden_layers; ++i) BGE_RETURN_IF_ERROR(e->load_layer(weights, i));
    return e;
}

Status XlmrEncoder::load_layer(const WeightReader& weights, int index) {
    const int64_t h = config_.hidden_size;
    const int64_t ffn = config_.intermediate_size;
    const std::string p = "encoder.layer." + std::to_string(index) + ".";
    Layer& layer = layers_[index];

    // Q, K and V are concatenated into one [3 * hidden, hidden] GEMM. They read the embeddings' LayerNorm (layer
    // 0) or the previous layer's output LayerNorm; FFN up reads this layer's attention output LayerNorm.
    BGE_ASSIGN_OR_RETURN(const HostNorm qkv_norm,
                         read_norm(weights,
                                   index == 0 ? "embeddings.LayerNorm"
                                              : "encoder.layer." + std::to_string(index - 1) + ".output.LayerNorm",
                                   h));
    std::vector<float> qkv_w, qkv_b;
    for (const char* part : {"query", "key", "value"}) {
        const std::string name = p + "attention.self." + part;
        BGE_ASSIGN_OR_RETURN(F32Data w, weights.read(name + ".weight", {h, h}));
        BGE_ASSIGN_OR_RETURN(F32Data b, weights.read(name + ".bias", {h}));
        qkv_w.insert(qkv_w.end(), w.data(), w.data() + w.size());
        qkv_b.insert(qkv_b.end(), b.data(), b.data() + b.size());
    }
    BGE_ASSIGN_OR_RETURN(layer.qkv, backend_.make_encoder_linear(EncoderLinear::kQkv, qkv_w.data(), qkv_b.data(), 3 * h,
                                                                 h, qkv_norm.view()));
    BGE_ASSIGN_OR_RETURN(layer.attn_out, linear(weights, backend_, EncoderLinear::kAttentionOut,
                                                p + "attention.output.dense", h, h, {}));
    BGE_ASSIGN_OR_RETURN(const HostNorm attn_norm, read_norm(weights, p + "attention.output.LayerNorm", h));
    BGE_ASSIGN_OR_RETURN(layer.attn_ln_gamma, backend_.upload(attn_norm.gamma.data(), 1, h, DType::kF32));
    BGE_ASSIGN_OR_RETURN(layer.attn_ln_beta, backend_.upload(attn_norm.beta.data(), 1, h, DType::kF32));
    BGE_ASSIGN_OR_RETURN(layer.ffn_in, linear(weights, backend_, EncoderLinear::kFfnIn, p + "intermediate.dense", ffn,
                                              h, attn_norm.view()));
    BGE_ASSIGN_OR_RETURN(layer.ffn_out,
                         linear(weights, backend_, EncoderLinear::kFfnOut, p + "output.dense", h, ffn, {}));
    BGE_ASSIGN_OR_RETURN(layer.ffn_ln_gamma, upload_vector(weights, backend_, p + "output.LayerNorm.weight", h));
    BGE_ASSIGN_OR_RETURN(layer.ffn_ln_beta, upload_vector(weights, backend_, p + "output.LayerNorm.bias", h));
    return ok_status();
}

StatusOr<EncoderWorkspace> XlmrEncoder::make_workspace(int64_t max_tokens) const {
    const DType t = backend_.activation_dtype();
    const int64_t h = config_.hidden_size;
    EncoderWorkspace ws;
    ws.max_tokens = max_tokens;
    BGE_ASSIGN_OR_RETURN(ws.ids, backend_.alloc(DType::kI32, max_tokens, 1));
    BGE_ASSIGN_OR_RETURN(ws.position_ids, backend_.alloc(DType::kI32, max_tokens, 1));
    BGE_ASSIGN_OR_RETURN(ws.cu_seqlens, backend_.alloc(DType::kI32, max_tokens + 1, 1));
    BGE_ASSIGN_OR_RETURN(ws.x, backend_.alloc(t, max_tokens, h));
    BGE_ASSIGN_OR_RETURN(ws.y, backend_.alloc(t, max_tokens, h));
    BGE_ASSIGN_OR_RETURN(ws.qkv, backend_.alloc(t, max_tokens, 3 * h));
    BGE_ASSIGN_OR_RETURN(ws.context, backend_.alloc(t, max_tokens, h));
    BGE_ASSIGN_OR_RETURN(ws.ffn, backend_.alloc(t, std::min(max_tokens, kFfnChunkTokens), config_.intermediate_size));
    BGE_ASSIGN_OR_RETURN(ws.host_ids, backend_.alloc_host(DType::kI32, max_tokens, 1));
    BGE_ASSIGN_OR_RETURN(ws.host_position_ids, backend_.alloc_host(DType::kI32, max_tokens, 1));
    BGE_ASSIGN_OR_RETURN(ws.host_cu_seqlens, backend_.alloc_host(DType::kI32, max_tokens + 1, 1));
    return ws;
}

Tensor XlmrEncoder::forward(const PackedBatch& batch, EncoderWorkspace& ws) const {
    const int64_t n = batch.n_tokens();
    BGE_CHECK(n > 0 && n <= ws.max_tokens);
    for (int32_t id : batch.input_ids) BGE_CHECK(id >= 0 && id < config_.vocab_size);
    // XLM-R positions count from padding_idx + 1 within each sequence.
    auto* host_positions = static_cast<int32_t*>(ws.host_position_ids.view.data);
    for (int32_t s = 0; s < batch.n_seqs(); ++s) {
        BGE_CHECK(batch.seq_length(s) <= config_.max_input_length());
        for (int32_t i = 0; i < batch.seq_length(s); ++i) {
            host_positions[batch.seq_begin(s) + i] = config_.pad_token_id + 1 + i;
        }
    }
    // The last forward's copies are done (its outputs were copied back), so the staging buffers are free.
    std::copy(batch.input_ids.begin(), batch.input_ids.end(), static_cast<int32_t*>(ws.host_ids.view.data));
    std::copy(batch.cu_seqlens.begin(), batch.cu_seqlens.end(), static_cast<int32_t*>(ws.host_cu_seqlens.view.data));
    const Tensor ids = ws.ids.view.row_slice(0, n);                 // I32 [n, 1]
    const Tensor positions = ws.position_ids.view.row_slice(0, n);  // I32 [n, 1]
    SeqLayout layout{batch.cu_seqlens, ws.cu_seqlens.view.row_slice(0, batch.n_seqs() + 1), 0};
    for (int32_t s = 0; s < batch.n_seqs(); ++s) layout.max_seqlen = std::max(layout.max_seqlen, batch.seq_length(s));
    backend_.copy_to_device(ws.host_ids.view.data, ids);
    backend_.copy_to_device(ws.host_position_ids.view.data, positions);
    backend_.copy_to_device(ws.host_cu_seqlens.view.data, layout.cu_seqlens_device);

    Tensor x = ws.x.view.row_slice(0, n);                    // [n, hidden]
    Tensor y = ws.y.view.row_slice(0, n);                    // [n, hidden]
    const Tensor qkv = ws.qkv.view.row_slice(0, n);          // [n, 3 * hidden]
    const Tensor context = ws.context.view.row_slice(0, n);  // [n, hidden]
    const float eps = config_.layer_norm_eps;

    backend_.embed(ids, positions, word_embeddings_.view, position_embeddings_.view, token_type_embedding_.view,
                   embed_ln_gamma_.view, embed_ln_beta_.view, eps, x);
    // One FFN chunk (every batch up to kFfnChunkTokens) lets its sub-layer hand the next layer's QKV map its input.
    const bool one_ffn_chunk = n <= ws.ffn.view.rows;
    for (size_t i = 0; i < layers_.size(); ++i) {
        const Layer& layer = layers_[i];
        const LinearWeight* next_qkv = one_ffn_chunk && i + 1 < layers_.size() ? layers_[i + 1].qkv.get() : nullptr;
        backend_.linear(x, *layer.qkv, Activation::kNone, qkv);
        backend_.attention(qkv, layout, config_.num_attention_heads, context);
        backend_.linear_add_norm(context, *layer.attn_out,
                                 {x, layer.attn_ln_gamma.view, layer.attn_ln_beta.view, eps, layer.ffn_in.get()}, y);
        std::swap(x, y);
        for (int64_t r = 0; r < n; r += ws.ffn.view.rows) {
            const int64_t rows = std::min(ws.ffn.view.rows, n - r);
            const Tensor ffn = ws.ffn.view.row_slice(0, rows);  // [rows, intermediate]
            const AddNorm norm{x.row_slice(r, rows), layer.ffn_ln_gamma.view, layer.ffn_ln_beta.view, eps, next_qkv};
            backend_.feed_forward(x.row_slice(r, rows), *layer.ffn_in, *layer.ffn_out, ffn, norm, y.row_slice(r, rows));
        }
        std::swap(x, y);
    }
    return x;
}

}  // namespace bge
