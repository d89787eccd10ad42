// The compute interface the model is written against. One implementation per device
// (backend/cpu with oneDNN; backend/cuda later). Model code never sees device APIs.
//
// Conventions: activations are row-major 2-D views; a linear layer stores PyTorch's weight
// layout W [out, in] and computes y = act(x · Wᵀ + b). Batches are packed (DESIGN.md):
// `cu_seqlens` holds n_seqs + 1 token offsets, no padding rows exist.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "bge/status.h"
#include "core/dtype.h"

namespace bge {

// A view of device memory: row-major [rows, cols], rows packed (stride == cols).
struct Tensor {
    void* data = nullptr;
    DType dtype = DType::kF32;
    int64_t rows = 0;
    int64_t cols = 0;

    size_t bytes() const { return static_cast<size_t>(rows * cols) * dtype_size(dtype); }
    // Rows [begin, begin + n) of this tensor.
    Tensor row_slice(int64_t begin, int64_t n) const {
        return {static_cast<char*>(data) + begin * cols * static_cast<int64_t>(dtype_size(dtype)), dtype, n, cols};
    }
};

// Owned device memory, released by its deleter.
using DeviceMemory = std::unique_ptr<void, std::function<void(void*)>>;

// A tensor that owns its memory (weights, workspaces).
struct DeviceTensor {
    DeviceMemory memory;
    Tensor view;
};

enum class Activation { kNone, kGelu /* exact erf GELU */, kTanh };

// A linear layer's parameters, prepared once in the backend's preferred layout.
class LinearWeight {
 public:
    virtual ~LinearWeight() = default;
    int64_t in_features = 0;
    int64_t out_features = 0;
};

class Backend {
 public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;
    // Element type of activations (F32 on the CPU).
    virtual DType activation_dtype() const = 0;

    // Memory. A size that overflows or that the device cannot hold is kResourceExhausted naming the bytes;
    // an ok result is never null. upload() and make_linear() size from the weights and abort on exhaustion.
    virtual StatusOr<DeviceTensor> alloc(DType dtype, int64_t rows, int64_t cols) = 0;
    virtual void copy_to_device(const void* host, const Tensor& dst) = 0;  // dst.bytes() bytes
    virtual void copy_to_host(const Tensor& src, void* host) = 0;          // src.bytes() bytes
    // Uploads fp32 host data [rows, cols] as a tensor of `dtype`.
    virtual DeviceTensor upload(const float* host, int64_t rows, int64_t cols, DType dtype) = 0;

    // w: fp32 [out, in] row-major; b: fp32 [out] or nullptr.
    virtual std::unique_ptr<LinearWeight> make_linear(const float* w, const float* b, int64_t out, int64_t in) = 0;

    // y [n, out] = act(x [n, in] · Wᵀ + b). x and y do not overlap.
    virtual void linear(const Tensor& x, const LinearWeight& w, Activation act, const Tensor& y) = 0;

    // out [n, hidden] = LayerNorm(word[ids[i]] + position[position_ids[i]] + token_type[0]).
    // ids/position_ids: I32 device tensors [n, 1]; word: [vocab, hidden]; position: [max_pos, hidden];
    // token_type, gamma, beta: [1, hidden]. Ids are checked by the caller.
    virtual void embed(const Tensor& ids, const Tensor& position_ids, const Tensor& word, const Tensor& position,
                       const Tensor& token_type, const Tensor& gamma, const Tensor& beta, float eps,
                       const Tensor& out) = 0;

    // x [n, hidden] = LayerNorm(x + residual) with gamma, beta [1, hidden], in place on x.
    virtual void add_layer_norm(const Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta,
                                float eps) = 0;

    // Multi-head self-attention per sequence of a packed batch, no mask beyond sequence bounds.
    // qkv [n_tokens, 3 * hidden] holds Q | K | V, each [n_tokens, n_heads * head_dim];
    // out [n_tokens, hidden] = softmax(Q Kᵀ / sqrt(head_dim)) V per head. `cu_seqlens` is host
    // memory. Memory stays bounded for any length: scores are never materialized as [L, L].
    virtual void attention(const Tensor& qkv, std::span<const int32_t> cu_seqlens, int n_heads, const Tensor& out) = 0;
};

}  // namespace bge
