// The compute interface the model is written against. One implementation per device
// (backend/cpu with oneDNN; backend/cuda with cuBLASLt and own kernels). Model code never sees device APIs.
//
// Conventions: activations are row-major 2-D views in the backend's activation dtype (F32 on the CPU;
// F32, F16 or BF16 on a GPU); a linear layer stores PyTorch's weight layout W [out, in] and computes
// y = act(x · Wᵀ + b). Batches are packed (DESIGN.md): `cu_seqlens` holds n_seqs + 1 token offsets, no
// padding rows exist.
//
// Ordering and errors: a device backend queues every op on its one stream and returns at once; ops never
// allocate or synchronize. A failure inside an op (a device fault) is recorded and sticks: later ops do
// nothing and synchronize() returns it. copy_to_host() waits for the queued work.
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

// Host memory made by Backend::alloc_host for copies to and from the device; its view's data is a host pointer.
using HostTensor = DeviceTensor;

enum class Activation { kNone, kGelu /* exact erf GELU */, kTanh };

// The encoder layer's linear maps by place, for backends whose GEMM precision differs per layer.
enum class EncoderLinear { kQkv, kAttentionOut, kFfnIn, kFfnOut };

// The LayerNorm whose output a linear map reads (Q/K/V: the embeddings' or the previous layer's output LayerNorm;
// FFN up: the attention output LayerNorm): its F32 gamma and beta, [in] each, both empty for any other input.
// Such an input is x = n * gamma + beta per token with n of about unit scale in every channel, so a few large
// gamma or beta channels (the outliers of trained models) dominate every token's range.
struct InputNorm {
    std::span<const float> gamma, beta;
    bool empty() const { return gamma.empty(); }
};

// Where a packed batch's sequences start: the host offsets (for launch planning) and the same offsets in
// device memory (for kernels), both [n_seqs + 1].
struct SeqLayout {
    std::span<const int32_t> cu_seqlens;  // host
    Tensor cu_seqlens_device;             // I32 [n_seqs + 1, 1]
    int32_t max_seqlen = 0;
};

// A linear layer's parameters, prepared once in the backend's preferred layout.
class LinearWeight {
 public:
    virtual ~LinearWeight() = default;
    int64_t in_features = 0;
    int64_t out_features = 0;
};

// The residual add and LayerNorm that close a post-LN encoder sub-layer: y = LayerNorm(y + residual) over y's rows.
// `next` is a hint, or null: the map that reads y right after, i.e. the next op is linear() or feed_forward() with
// `next` on y or on row slices of it, and y is not changed before. A backend may then convert y's rows into that
// map's input precision while they are in cache (the CPU's bf16 and u8 GEMM inputs). It never changes a result; a
// wrong hint costs only time.
struct AddNorm {
    Tensor residual;     // [n, hidden] in the activation dtype
    Tensor gamma, beta;  // F32 [1, hidden]
    float eps = 0.f;
    const LinearWeight* next = nullptr;
};

struct DeviceMemoryInfo {
    int64_t total_bytes = 0;  // the device's memory (0 where unknown)
    int64_t free_bytes = 0;
    int64_t allocated_bytes = 0;  // held by this backend through alloc/upload/make_linear
};

class Backend {
 public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;  // "cpu", "cuda:0"
    // The device in words ("NVIDIA H200, 132 SMs, compute capability 9.0").
    virtual std::string device_description() const = 0;
    virtual DeviceMemoryInfo memory_info() const = 0;
    // Element type of activations and of weights uploaded for compute.
    virtual DType activation_dtype() const = 0;

    // Workspace policy: whether workspaces may be reallocated between forwards to grow with the batches that
    // come (host memory: a large token budget costs only what is used). Where not, they are allocated once at
    // load for the whole budget, and a budget the device cannot hold is refused then.
    virtual bool grows_workspace() const = 0;

    // Memory. A size that overflows or that the device cannot hold is kResourceExhausted naming the bytes;
    // an ok result is never null.
    virtual StatusOr<DeviceTensor> alloc(DType dtype, int64_t rows, int64_t cols) = 0;
    // Host memory that copies run from and into at full speed (page-locked on a GPU: copies from it are
    // asynchronous); plain memory on the CPU. Same errors as alloc.
    virtual StatusOr<HostTensor> alloc_host(DType dtype, int64_t rows, int64_t cols) = 0;
    // dst.bytes() bytes. From alloc_host memory the copy may still be running when this returns: leave the host
    // bytes unchanged until the next copy_to_host or synchronize.
    virtual void copy_to_device(const void* host, const Tensor& dst) = 0;
    // Waits for the queued work, then copies src.bytes() bytes. Check synchronize() before using them.
    virtual void copy_to_host(const Tensor& src, void* host) = 0;
    // Uploads fp32 host data [rows, cols] as a tensor of `dtype` (F32 or the activation dtype).
    virtual StatusOr<DeviceTensor> upload(const float* host, int64_t rows, int64_t cols, DType dtype) = 0;
    // Waits for the queued work; the first error of any op since the backend was made (it sticks).
    virtual Status synchronize() = 0;

    // w: fp32 [out, in] row-major; b: fp32 [out] or nullptr. Stored in the activation dtype.
    virtual StatusOr<std::unique_ptr<LinearWeight>> make_linear(const float* w, const float* b, int64_t out,
                                                                int64_t in) = 0;

    // make_linear for one of an encoder layer's maps; a backend may store and compute it in another precision.
    // `norm` (empty or [in] each) is a hint for quantizing the map's input (the CPU's int8 balances per-channel
    // scales between activations and weights by it); the map computed stays x · Wᵀ + b up to rounding, and a
    // wrong hint may cost accuracy, never correctness. Backends that compute in floating point ignore it.
    virtual StatusOr<std::unique_ptr<LinearWeight>> make_encoder_linear(EncoderLinear which, const float* w,
                                                                        const float* b, int64_t out, int64_t in,
                                                                        InputNorm norm) {
        (void)which;
        (void)norm;
        return make_linear(w, b, out, in);
    }
    // What the linear layers compute in, for `bge info`: the activation dtype's name unless the backend says more.
    virtual std::string compute_dtype() const { return dtype_name(activation_dtype()); }
    // The GEMM kernels chosen for the layers made so far, for `bge info`; empty where the backend does not say.
    virtual std::string gemm_kernels() const { return {}; }
    // What attention's GEMMs run on, for `bge info`; empty where the backend does not say.
    virtual std::string attention_kernel() const { return {}; }

    // y [n, out] = act(x [n, in] · Wᵀ + b). x is in the activation dtype; y in it or in F32. No overlap.
    virtual void linear(const Tensor& x, const LinearWeight& w, Activation act, const Tensor& y) = 0;

    // y [n, out] = LayerNorm(x [n, in] · Wᵀ + b + norm.residual): linear() then add_layer_norm(), which a backend
    // may fuse (the CPU adds the residual and normalizes each row in the GEMM's epilogue). No overlap.
    virtual void linear_add_norm(const Tensor& x, const LinearWeight& w, const AddNorm& norm, const Tensor& y) {
        linear(x, w, Activation::kNone, y);
        add_layer_norm(y, norm.residual, norm.gamma, norm.beta, norm.eps);
    }

    // The encoder's feed-forward sub-layer: y [n, hidden] = LayerNorm(gelu(x [n, hidden] · W_upᵀ + b_up) · W_downᵀ +
    // b_down + norm.residual), with mid [n, intermediate] (activation dtype) as scratch for the inner activations.
    // A backend may fuse the steps (the CPU hands the inner activations to the second GEMM in its input precision
    // without a pass over memory, and normalizes in the second GEMM's epilogue); the result is that of two
    // linear() calls and add_layer_norm(). No overlap.
    virtual void feed_forward(const Tensor& x, const LinearWeight& up, const LinearWeight& down, const Tensor& mid,
                              const AddNorm& norm, const Tensor& y) {
        linear(x, up, Activation::kGelu, mid);
        linear(mid, down, Activation::kNone, y);
        add_layer_norm(y, norm.residual, norm.gamma, norm.beta, norm.eps);
    }

    // out [m, cols] = x [rows[i]] for i < m, converted to out.dtype (F32 or the activation dtype).
    // rows: I32 device tensor [m, 1], each < x.rows (checked by the caller).
    virtual void gather_rows(const Tensor& x, const Tensor& rows, const Tensor& out) = 0;

    // out [n, hidden] = LayerNorm(word[ids[i]] + position[position_ids[i]] + token_type[0]).
    // ids/position_ids: I32 device tensors [n, 1]; word: [vocab, hidden]; position: [max_pos, hidden];
    // token_type: [1, hidden] (activation dtype); gamma, beta: F32 [1, hidden]. Ids are checked by the caller.
    virtual void embed(const Tensor& ids, const Tensor& position_ids, const Tensor& word, const Tensor& position,
                       const Tensor& token_type, const Tensor& gamma, const Tensor& beta, float eps,
                       const Tensor& out) = 0;

    // x [n, hidden] = LayerNorm(x + residual) with F32 gamma, beta [1, hidden], in place on x.
    virtual void add_layer_norm(const Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta,
                                float eps) = 0;

    // Multi-head self-attention per sequence of a packed batch, no mask beyond sequence bounds.
    // qkv [n_tokens, 3 * hidden] holds Q | K | V, each [n_tokens, n_heads * head_dim], n_tokens the layout's last
    // offset (every row belongs to a sequence); out [n_tokens, hidden] = softmax(Q Kᵀ / sqrt(head_dim)) V per head.
    // Memory stays bounded for any length: scores are never materialized as [L, L].
    virtual void attention(const Tensor& qkv, const SeqLayout& layout, int n_heads, const Tensor& out) = 0;
};

}  // namespace bge
