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

// The heads run their GEMMs on the backend in the activation dtype with F32 outputs; only their results come
// back to the host (dense: the <s> rows; sparse: one weight per token; colbert: its vectors).
class M3Heads {
 public:
    // sparse: tensors of sparse_linear.pt (weight [1, hidden], bias [1]); colbert: colbert_linear.pt
    // (weight [dim, hidden], bias [dim]). Either may be absent (nullptr).
    static StatusOr<std::unique_ptr<M3Heads>> load(const io::TensorMap* sparse, const io::TensorMap* colbert,
                                                   int hidden, Backend& backend);

    bool has_sparse() const { return sparse_ != nullptr; }
    bool has_colbert() const { return colbert_ != nullptr; }
    int colbert_dim() const { return colbert_ ? static_cast<int>(colbert_->out_features) : 0; }

    struct Workspace {
        DeviceTensor cls;         // F32 [max_tokens, hidden] each sequence's <s> row
        DeviceTensor sparse;      // F32 [max_tokens, 1] w·h_t + b per token
        DeviceTensor colbert;     // F32 [max_tokens, colbert_dim]
        HostTensor cls_host;      // F32 [max_tokens, hidden]
        HostTensor sparse_host;   // F32 [max_tokens, 1]
        HostTensor colbert_host;  // F32 [max_tokens, colbert_dim]
    };
    // Allocation failure is kResourceExhausted naming the bytes.
    StatusOr<Workspace> make_workspace(int64_t max_tokens) const;

    // Fills out[s] for every sequence s of `batch` from `hidden` [n_tokens, hidden] (device); `seq_starts` is
    // I32 [n_seqs, 1] on the device (cu_seqlens without its last entry). Device errors are errors; non-finite
    // values stay in the outputs for check_finite (model/output_check.h).
    Status compute(const PackedBatch& batch, const Tensor& hidden, const Tensor& seq_starts,
                   const EmbedOptions& options, Workspace& ws, std::vector<Embedding>& out) const;

 private:
    M3Heads(Backend& backend, int hidden) : backend_(backend), hidden_(hidden) {}
    Backend& backend_;
    int hidden_;
    std::unique_ptr<LinearWeight> sparse_;   // [1, hidden]
    std::unique_ptr<LinearWeight> colbert_;  // [dim, hidden]
};

class ClassifierHead {
 public:
    // RobertaClassificationHead: classifier.dense [hidden, hidden], classifier.out_proj [1, hidden].
    static StatusOr<std::unique_ptr<ClassifierHead>> load(const io::TensorMap& tensors, int hidden, Backend& backend);

    struct Workspace {
        DeviceTensor cls;     // [max_seqs, hidden] activation dtype
        DeviceTensor pooled;  // [max_seqs, hidden] tanh(dense(cls))
        DeviceTensor logits;  // F32 [max_seqs, 1]
        HostTensor host;      // F32 [max_seqs, 1]
    };
    // Allocation failure is kResourceExhausted naming the bytes.
    StatusOr<Workspace> make_workspace(int64_t max_seqs) const;

    // logit of each sequence: out_proj(tanh(dense(h[CLS]))), from `hidden` [n_tokens, hidden] (device) and
    // `seq_starts` I32 [n_seqs, 1] (device). Device errors are errors; a non-finite logit is returned as is.
    StatusOr<std::vector<float>> logits(const Tensor& hidden, const Tensor& seq_starts, Workspace& ws) const;

 private:
    explicit ClassifierHead(Backend& backend) : backend_(backend) {}
    Backend& backend_;
    int hidden_ = 0;
    std::unique_ptr<LinearWeight> dense_;     // [hidden, hidden]
    std::unique_ptr<LinearWeight> out_proj_;  // [1, hidden]
};

}  // namespace bge
