#include "model/heads.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/memory.h"
#include "model/vector_math.h"
#include "model/weight_reader.h"
#include "tokenizer/xlmr_tokenizer.h"

namespace bge {
namespace {

// FlagEmbedding drops these from the lexical weights.
bool is_special(int32_t id) {
    return id == XlmrTokenizer::kBos || id == XlmrTokenizer::kPad || id == XlmrTokenizer::kEos ||
           id == XlmrTokenizer::kUnk;
}

}  // namespace

StatusOr<std::unique_ptr<M3Heads>> M3Heads::load(const io::TensorMap* sparse, const io::TensorMap* colbert, int hidden,
                                                 Backend& backend) {
    std::unique_ptr<M3Heads> heads(new M3Heads(backend, hidden));
    if (sparse) {
        WeightReader r(*sparse, "");
        BGE_ASSIGN_OR_RETURN(F32Data weight, r.read("weight", {1, hidden}));
        heads->sparse_weight_ = weight.to_vector();
        BGE_ASSIGN_OR_RETURN(F32Data bias, r.read("bias", {1}));
        heads->sparse_bias_ = bias.data()[0];
    }
    if (colbert) {
        auto it = colbert->find("weight");
        if (it == colbert->end()) return not_found("tensor 'weight' is missing from colbert_linear.pt");
        if (it->second.shape.size() != 2 || it->second.shape[0] < 1) {
            return invalid_argument("tensor 'weight' in colbert_linear.pt: expected shape [dim, " +
                                    std::to_string(hidden) + "], found " + it->second.shape_string());
        }
        const int64_t dim = it->second.shape[0];
        WeightReader r(*colbert, "");
        BGE_ASSIGN_OR_RETURN(F32Data w, r.read("weight", {dim, hidden}));
        BGE_ASSIGN_OR_RETURN(F32Data b, r.read("bias", {dim}));
        heads->colbert_ = backend.make_linear(w.data(), b.data(), dim, hidden);
    }
    return heads;
}

StatusOr<M3Heads::Workspace> M3Heads::make_workspace(int64_t max_tokens) const {
    Workspace ws;
    BGE_RETURN_IF_ERROR(
        resize_or_error(ws.hidden, static_cast<size_t>(max_tokens * hidden_), "the sparse head's input"));
    if (colbert_) {
        BGE_ASSIGN_OR_RETURN(ws.colbert, backend_.alloc(backend_.activation_dtype(), max_tokens, colbert_dim()));
        BGE_RETURN_IF_ERROR(resize_or_error(ws.colbert_host, static_cast<size_t>(max_tokens * colbert_dim()),
                                            "the ColBERT head's output"));
    }
    return ws;
}

void M3Heads::compute(const PackedBatch& batch, const Tensor& hidden, const EmbedOptions& options, Workspace& ws,
                      std::vector<Embedding>& out) const {
    const int64_t n = batch.n_tokens();
    if (options.sparse) backend_.copy_to_host(hidden, ws.hidden.data());
    if (options.dense) copy_cls_rows(backend_, batch, hidden, ws.cls);
    if (options.colbert) {
        const Tensor colbert = ws.colbert.view.row_slice(0, n);  // [n, colbert_dim]
        backend_.linear(hidden, *colbert_, Activation::kNone, colbert);
        backend_.copy_to_host(colbert, ws.colbert_host.data());
    }
    out.resize(batch.n_seqs());
    for (int32_t s = 0; s < batch.n_seqs(); ++s) {
        Embedding& e = out[s];
        const int32_t begin = batch.seq_begin(s);
        const int32_t len = batch.seq_length(s);
        e.n_tokens = len;
        if (options.dense) {
            const float* cls = ws.cls.data() + static_cast<int64_t>(s) * hidden_;
            e.dense.assign(cls, cls + hidden_);
            l2_normalize(e.dense.data(), hidden_);
        }
        if (options.sparse) {
            // relu(w·h_t + b), the max over a token id's occurrences, kept where > 0.
            std::map<int32_t, float> weights;
            for (int32_t t = begin; t < begin + len; ++t) {
                const int32_t id = batch.input_ids[t];
                if (is_special(id)) continue;
                const auto w = static_cast<float>(
                    dot(sparse_weight_.data(), ws.hidden.data() + static_cast<int64_t>(t) * hidden_, hidden_) +
                    sparse_bias_);
                // A non-finite value (relu(-inf) included) is kept, and stays, so that the output check reports it.
                if (w <= 0 && std::isfinite(w)) continue;
                auto [it, inserted] = weights.emplace(id, w);
                if (!inserted && std::isfinite(it->second) && (!std::isfinite(w) || w > it->second)) it->second = w;
            }
            e.sparse.clear();
            for (const auto& [id, w] : weights) e.sparse.push_back({id, w});
        }
        if (options.colbert) {
            // Tokens 1..len-1: <s> dropped, the final </s> kept (FlagEmbedding's colbert_vecs[:n-1]).
            const int dim = colbert_dim();
            e.colbert_dim = dim;
            const float* first = ws.colbert_host.data() + static_cast<int64_t>(begin + 1) * dim;
            e.colbert.assign(first, first + static_cast<int64_t>(len - 1) * dim);
            for (int32_t r = 0; r + 1 < len; ++r) l2_normalize(e.colbert.data() + static_cast<int64_t>(r) * dim, dim);
        }
    }
}

StatusOr<std::unique_ptr<ClassifierHead>> ClassifierHead::load(const io::TensorMap& tensors, int hidden) {
    auto head = std::make_unique<ClassifierHead>();
    head->hidden_ = hidden;
    WeightReader r(tensors, "classifier.");
    BGE_ASSIGN_OR_RETURN(F32Data dense_w, r.read("dense.weight", {hidden, hidden}));
    BGE_ASSIGN_OR_RETURN(F32Data dense_b, r.read("dense.bias", {hidden}));
    BGE_ASSIGN_OR_RETURN(F32Data out_w, r.read("out_proj.weight", {1, hidden}));
    BGE_ASSIGN_OR_RETURN(F32Data out_b, r.read("out_proj.bias", {1}));
    head->dense_w_ = dense_w.to_vector();
    head->dense_b_ = dense_b.to_vector();
    head->out_w_ = out_w.to_vector();
    head->out_b_ = out_b.data()[0];
    return head;
}

std::vector<float> ClassifierHead::logits(const float* cls_rows, int32_t n_seqs) const {
    std::vector<float> result(n_seqs);
    std::vector<float> pooled(hidden_);  // F32 [hidden]
    for (int32_t s = 0; s < n_seqs; ++s) {
        const float* cls = cls_rows + static_cast<int64_t>(s) * hidden_;
        for (int i = 0; i < hidden_; ++i) {
            pooled[i] = static_cast<float>(
                std::tanh(dot(dense_w_.data() + static_cast<int64_t>(i) * hidden_, cls, hidden_) + dense_b_[i]));
        }
        result[s] = static_cast<float>(dot(out_w_.data(), pooled.data(), hidden_) + out_b_);
    }
    return result;
}

void copy_cls_rows(Backend& backend, const PackedBatch& batch, const Tensor& hidden, std::vector<float>& out) {
    out.resize(static_cast<size_t>(batch.n_seqs()) * hidden.cols);
    for (int32_t s = 0; s < batch.n_seqs(); ++s) {
        backend.copy_to_host(hidden.row_slice(batch.seq_begin(s), 1),
                             out.data() + static_cast<int64_t>(s) * hidden.cols);
    }
}

}  // namespace bge
