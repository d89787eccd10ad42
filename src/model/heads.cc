#include "model/heads.h"

#include <cmath>
#include <map>

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

StatusOr<std::unique_ptr<LinearWeight>> read_linear(const io::TensorMap& tensors, const std::string& prefix,
                                                    int64_t out, int64_t in, Backend& backend) {
    WeightReader r(tensors, prefix);
    BGE_ASSIGN_OR_RETURN(F32Data w, r.read("weight", {out, in}));
    BGE_ASSIGN_OR_RETURN(F32Data b, r.read("bias", {out}));
    return backend.make_linear(w.data(), b.data(), out, in);
}

}  // namespace

StatusOr<std::unique_ptr<M3Heads>> M3Heads::load(const io::TensorMap* sparse, const io::TensorMap* colbert, int hidden,
                                                 Backend& backend) {
    std::unique_ptr<M3Heads> heads(new M3Heads(backend, hidden));
    if (sparse) {
        BGE_ASSIGN_OR_RETURN(heads->sparse_, read_linear(*sparse, "", 1, hidden, backend));
    }
    if (colbert) {
        auto it = colbert->find("weight");
        if (it == colbert->end()) return not_found("tensor 'weight' is missing from colbert_linear.pt");
        if (it->second.shape.size() != 2 || it->second.shape[0] < 1) {
            return invalid_argument("tensor 'weight' in colbert_linear.pt: expected shape [dim, " +
                                    std::to_string(hidden) + "], found " + it->second.shape_string());
        }
        BGE_ASSIGN_OR_RETURN(heads->colbert_, read_linear(*colbert, "", it->second.shape[0], hidden, backend));
    }
    return heads;
}

StatusOr<M3Heads::Workspace> M3Heads::make_workspace(int64_t max_tokens) const {
    Workspace ws;
    BGE_ASSIGN_OR_RETURN(ws.cls, backend_.alloc(DType::kF32, max_tokens, hidden_));
    BGE_ASSIGN_OR_RETURN(ws.cls_host, backend_.alloc_host(DType::kF32, max_tokens, hidden_));
    if (sparse_) {
        BGE_ASSIGN_OR_RETURN(ws.sparse, backend_.alloc(DType::kF32, max_tokens, 1));
        BGE_ASSIGN_OR_RETURN(ws.sparse_host, backend_.alloc_host(DType::kF32, max_tokens, 1));
    }
    if (colbert_) {
        BGE_ASSIGN_OR_RETURN(ws.colbert, backend_.alloc(DType::kF32, max_tokens, colbert_dim()));
        BGE_ASSIGN_OR_RETURN(ws.colbert_host, backend_.alloc_host(DType::kF32, max_tokens, colbert_dim()));
    }
    return ws;
}

Status M3Heads::compute(const PackedBatch& batch, const Tensor& hidden, const Tensor& seq_starts,
                        const EmbedOptions& options, Workspace& ws, std::vector<Embedding>& out) const {
    const int64_t n = batch.n_tokens();
    const int32_t n_seqs = batch.n_seqs();
    const int dim = colbert_dim();
    if (options.dense) {
        const Tensor cls = ws.cls.view.row_slice(0, n_seqs);  // F32 [n_seqs, hidden]
        backend_.gather_rows(hidden, seq_starts, cls);
        backend_.copy_to_host(cls, ws.cls_host.view.data);
    }
    if (options.sparse) {
        const Tensor sparse = ws.sparse.view.row_slice(0, n);  // F32 [n, 1]
        backend_.linear(hidden, *sparse_, Activation::kNone, sparse);
        backend_.copy_to_host(sparse, ws.sparse_host.view.data);
    }
    if (options.colbert) {
        const Tensor colbert = ws.colbert.view.row_slice(0, n);  // F32 [n, colbert_dim]
        backend_.linear(hidden, *colbert_, Activation::kNone, colbert);
        backend_.copy_to_host(colbert, ws.colbert_host.view.data);
    }
    BGE_RETURN_IF_ERROR(backend_.synchronize());
    out.resize(n_seqs);
    for (int32_t s = 0; s < n_seqs; ++s) {
        Embedding& e = out[s];
        const int32_t begin = batch.seq_begin(s);
        const int32_t len = batch.seq_length(s);
        e.n_tokens = len;
        if (options.dense) {
            const float* cls = static_cast<const float*>(ws.cls_host.view.data) + static_cast<int64_t>(s) * hidden_;
            e.dense.assign(cls, cls + hidden_);
            e.dense_norm = static_cast<float>(l2_normalize(e.dense.data(), hidden_));
        }
        if (options.sparse) {
            // relu(w·h_t + b), the max over a token id's occurrences, kept where > 0.
            std::map<int32_t, float> weights;
            for (int32_t t = begin; t < begin + len; ++t) {
                const int32_t id = batch.input_ids[t];
                const float w = static_cast<const float*>(ws.sparse_host.view.data)[t];
                // A non-finite value (relu(-inf) included) is kept, and stays, so that the output check reports it.
                if (is_special(id) || (w <= 0 && std::isfinite(w))) continue;
                auto [it, inserted] = weights.emplace(id, w);
                if (!inserted && std::isfinite(it->second) && (!std::isfinite(w) || w > it->second)) it->second = w;
            }
            e.sparse.clear();
            for (const auto& [id, w] : weights) e.sparse.push_back({id, w});
        }
        if (options.colbert) {
            // Tokens 1..len-1: <s> dropped, the final </s> kept (FlagEmbedding's colbert_vecs[:n-1]).
            e.colbert_dim = dim;
            const float* first =
                static_cast<const float*>(ws.colbert_host.view.data) + static_cast<int64_t>(begin + 1) * dim;
            const int64_t count = static_cast<int64_t>(len - 1) * dim;
            e.colbert.assign(first, first + count);
            for (int32_t r = 0; r + 1 < len; ++r) l2_normalize(e.colbert.data() + static_cast<int64_t>(r) * dim, dim);
        }
    }
    return ok_status();
}

StatusOr<std::unique_ptr<ClassifierHead>> ClassifierHead::load(const io::TensorMap& tensors, int hidden,
                                                               Backend& backend) {
    std::unique_ptr<ClassifierHead> head(new ClassifierHead(backend));
    head->hidden_ = hidden;
    BGE_ASSIGN_OR_RETURN(head->dense_, read_linear(tensors, "classifier.dense.", hidden, hidden, backend));
    BGE_ASSIGN_OR_RETURN(head->out_proj_, read_linear(tensors, "classifier.out_proj.", 1, hidden, backend));
    return head;
}

StatusOr<ClassifierHead::Workspace> ClassifierHead::make_workspace(int64_t max_seqs) const {
    Workspace ws;
    BGE_ASSIGN_OR_RETURN(ws.cls, backend_.alloc(backend_.activation_dtype(), max_seqs, hidden_));
    BGE_ASSIGN_OR_RETURN(ws.pooled, backend_.alloc(backend_.activation_dtype(), max_seqs, hidden_));
    BGE_ASSIGN_OR_RETURN(ws.logits, backend_.alloc(DType::kF32, max_seqs, 1));
    BGE_ASSIGN_OR_RETURN(ws.host, backend_.alloc_host(DType::kF32, max_seqs, 1));
    return ws;
}

StatusOr<std::vector<float>> ClassifierHead::logits(const Tensor& hidden, const Tensor& seq_starts,
                                                    Workspace& ws) const {
    const int64_t n_seqs = seq_starts.rows;
    const Tensor cls = ws.cls.view.row_slice(0, n_seqs);        // [n_seqs, hidden]
    const Tensor pooled = ws.pooled.view.row_slice(0, n_seqs);  // [n_seqs, hidden]
    const Tensor logits = ws.logits.view.row_slice(0, n_seqs);  // F32 [n_seqs, 1]
    backend_.gather_rows(hidden, seq_starts, cls);
    backend_.linear(cls, *dense_, Activation::kTanh, pooled);
    backend_.linear(pooled, *out_proj_, Activation::kNone, logits);
    backend_.copy_to_host(logits, ws.host.view.data);
    BGE_RETURN_IF_ERROR(backend_.synchronize());
    const auto* host = static_cast<const float*>(ws.host.view.data);
    return std::vector<float>(host, host + n_seqs);
}

}  // namespace bge
