// Output heads on top of the encoder's last hidden state: BGE-M3's dense / sparse / ColBERT
// (FlagEmbedding's BGEM3 model) and the reranker's classifier (RobertaClassificationHead).
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "backend/backend.h"
#include "bge/engine.h"
#include "io/tensor_file.h"
#include "model/packed_batch.h"

namespace bge {

class M3Heads {
 public:
    // sparse: tensors of sparse_linear.pt (weight [1, hidden], bias [1]); colbert: colbert_linear.pt
    // (weight [dim, hidden], bias [dim]). Either may be absent (nullptr).
    static StatusOr<std::unique_ptr<M3Heads>> load(const io::TensorMap* sparse, const io::TensorMap* colbert,
                                                   int hidden, Backend& backend);

    bool has_sparse() const { return !sparse_weight_.empty(); }
    bool has_colbert() const { return colbert_ != nullptr; }
    int colbert_dim() const { return colbert_ ? static_cast<int>(colbert_->out_features) : 0; }

    struct Workspace {
        DeviceTensor colbert;             // [max_tokens, colbert_dim] on the device
        std::vector<float> hidden;        // F32 [max_tokens, hidden] host copy of the last hidden state (sparse)
        std::vector<float> cls;           // F32 [n_seqs, hidden] host copy of each sequence's <s> row (dense)
        std::vector<float> colbert_host;  // F32 [max_tokens, colbert_dim]
    };
    // Allocation failure is kResourceExhausted naming the bytes.
    StatusOr<Workspace> make_workspace(int64_t max_tokens) const;

    // Fills out[s] for every sequence s of `batch` from `hidden` [n_tokens, hidden] (device).
    void compute(const PackedBatch& batch, const Tensor& hidden, const EmbedOptions& options, Workspace& ws,
                 std::vector<Embedding>& out) const;

 private:
    M3Heads(Backend& backend, int hidden) : backend_(backend), hidden_(hidden) {}
    Backend& backend_;
    int hidden_;
    std::vector<float> sparse_weight_;  // F32 [hidden]
    float sparse_bias_ = 0;
    std::unique_ptr<LinearWeight> colbert_;  // [dim, hidden]
};

class ClassifierHead {
 public:
    // RobertaClassificationHead: classifier.dense [hidden, hidden], classifier.out_proj [1, hidden].
    static StatusOr<std::unique_ptr<ClassifierHead>> load(const io::TensorMap& tensors, int hidden);
    // logit of each sequence: out_proj(tanh(dense(h[CLS]))). `cls` is a host F32 [n_seqs, hidden].
    std::vector<float> logits(const float* cls, int32_t n_seqs) const;

 private:
    int hidden_ = 0;
    std::vector<float> dense_w_, dense_b_;  // [hidden, hidden], [hidden]
    std::vector<float> out_w_;              // [hidden]
    float out_b_ = 0;
};

// Copies the <s> row of every sequence of `batch` from `hidden` [n_tokens, hidden] (device) to `out`
// F32 [n_seqs, hidden] on the host.
void copy_cls_rows(Backend& backend, const PackedBatch& batch, const Tensor& hidden, std::vector<float>& out);

}  // namespace bge
