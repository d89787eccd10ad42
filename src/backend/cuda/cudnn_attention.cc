#include "backend/cuda/cudnn_attention.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <map>
#include <tuple>
#include <vector>

#include "backend/cuda/cudnn_api.h"
#include "backend/cuda/kernels/kernels.h"

namespace bge::cuda {
namespace {

constexpr size_t kMinVersion = 91500;  // SDPA_FWD with per-sequence lengths

// Graph tensor ids (variant-pack order).
enum Uid : int64_t { kQ = 1, kK, kV, kO, kScale, kSeqQ, kSeqKv, kQkvOffsets, kOutOffsets };

int64_t next_pow2(int64_t v) {
    int64_t p = 1;
    while (p < v) p *= 2;
    return p;
}

// One execution plan for a bucket; its descriptors are destroyed in reverse order of creation.
struct Plan {
    const CudnnApi* api = nullptr;
    std::vector<cudnnBackendDescriptor_t> descriptors;
    cudnnBackendDescriptor_t plan = nullptr;
    int64_t workspace_bytes = 0;
    cudnnStatus_t status = CUDNN_STATUS_SUCCESS;  // the first failure while building

    ~Plan() {
        for (auto d = descriptors.rbegin(); d != descriptors.rend(); ++d) api->destroy_descriptor(*d);
    }
    cudnnBackendDescriptor_t create(cudnnBackendDescriptorType_t type) {
        cudnnBackendDescriptor_t d = nullptr;
        if (status == CUDNN_STATUS_SUCCESS) status = api->create_descriptor(type, &d);
        if (d != nullptr) descriptors.push_back(d);
        return d;
    }
    void set(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
             int64_t count, const void* values) {
        if (status == CUDNN_STATUS_SUCCESS) status = api->set_attribute(d, name, type, count, values);
    }
    void link(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name, cudnnBackendDescriptor_t value) {
        set(d, name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &value);
    }
    void finalize(cudnnBackendDescriptor_t d) {
        if (status == CUDNN_STATUS_SUCCESS) status = api->finalize(d);
    }
    cudnnBackendDescriptor_t tensor(Uid uid, cudnnDataType_t type, std::array<int64_t, 4> dims,
                                    std::array<int64_t, 4> strides, bool by_value = false,
                                    cudnnBackendDescriptor_t ragged = nullptr) {
        cudnnBackendDescriptor_t d = create(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
        const int64_t id = uid, alignment = 16;
        const bool is_virtual = false;
        set(d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &id);
        set(d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type);
        set(d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims.data());
        set(d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides.data());
        set(d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment);
        set(d, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual);
        set(d, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &by_value);
        if (ragged != nullptr) link(d, CUDNN_ATTR_TENSOR_RAGGED_OFFSET_DESC, ragged);
        finalize(d);
        return d;
    }
};

}  // namespace

struct CudnnAttention::Impl {
    CudnnApi api;
    cudnnHandle_t handle = nullptr;
    cudaStream_t stream = nullptr;
    int32_t* layout = nullptr;  // I32 device: seq lens [kMax], qkv offsets [kMax + 1], out offsets [kMax + 1]
    void* workspace = nullptr;
    int64_t workspace_bytes = 0;
    // (dtype, heads, head_dim, sequences, length, uniform) -> plan, or null where cuDNN declined the shape.
    std::map<std::tuple<int, int, int, int64_t, int64_t, bool>, std::unique_ptr<Plan>> plans;

    ~Impl() {
        if (stream != nullptr) cudaStreamSynchronize(stream);
        plans.clear();
        if (workspace != nullptr) cudaFree(workspace);
        if (layout != nullptr) cudaFree(layout);
        if (handle != nullptr) api.destroy(handle);
    }

    // Q, K, V [b, heads, s, d] at token stride 3·hidden and O at hidden, each sequence starting at its ragged offset
    // and masked to its length. `uniform`: exactly b sequences of exactly s tokens, back to back (no offsets, no
    // mask: the faster kernel for one long input or equal lengths).
    std::unique_ptr<Plan> build(DType dtype, int heads, int d, int64_t b, int64_t s, bool uniform) {
        auto p = std::make_unique<Plan>();
        p->api = &api;
        const cudnnDataType_t io = dtype == DType::kF16 ? CUDNN_DATA_HALF : CUDNN_DATA_BFLOAT16;
        const int64_t hidden = static_cast<int64_t>(heads) * d;
        const std::array<int64_t, 4> unit{1, 1, 1, 1};
        cudnnBackendDescriptor_t qkv_offsets = nullptr, out_offsets = nullptr;
        if (!uniform) {
            qkv_offsets = p->tensor(kQkvOffsets, CUDNN_DATA_INT32, {b + 1, 1, 1, 1}, unit);
            out_offsets = p->tensor(kOutOffsets, CUDNN_DATA_INT32, {b + 1, 1, 1, 1}, unit);
        }
        const std::array<int64_t, 4> dims{b, heads, s, d};
        const std::array<int64_t, 4> qkv_strides{s * 3 * hidden, d, 3 * hidden, 1};
        auto op = p->create(CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR);
        p->link(op, CUDNN_ATTR_OPERATION_SDPA_FWD_QDESC, p->tensor(kQ, io, dims, qkv_strides, false, qkv_offsets));
        p->link(op, CUDNN_ATTR_OPERATION_SDPA_FWD_KDESC, p->tensor(kK, io, dims, qkv_strides, false, qkv_offsets));
        p->link(op, CUDNN_ATTR_OPERATION_SDPA_FWD_VDESC, p->tensor(kV, io, dims, qkv_strides, false, qkv_offsets));
        p->link(op, CUDNN_ATTR_OPERATION_SDPA_FWD_ODESC,
                p->tensor(kO, io, dims, {s * hidden, d, hidden, 1}, false, out_offsets));
        p->link(op, CUDNN_ATTR_OPERATION_SDPA_FWD_SCALEDESC, p->tensor(kScale, CUDNN_DATA_FLOAT, unit, unit, true));
        if (!uniform) {
            p->link(op, CUDNN_ATTR_OPERATION_SDPA_FWD_SEQ_LEN_QDESC,
                    p->tensor(kSeqQ, CUDNN_DATA_INT32, {b, 1, 1, 1}, unit));
            p->link(op, CUDNN_ATTR_OPERATION_SDPA_FWD_SEQ_LEN_KVDESC,
                    p->tensor(kSeqKv, CUDNN_DATA_INT32, {b, 1, 1, 1}, unit));
        }
        p->finalize(op);

        auto graph = p->create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
        p->set(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op);
        p->set(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
        p->finalize(graph);
        auto heuristics = p->create(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
        const cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
        p->link(heuristics, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph);
        p->set(heuristics, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
        p->finalize(heuristics);
        int64_t n_configs = 0;
        if (p->status == CUDNN_STATUS_SUCCESS) {
            p->status = api.get_attribute(heuristics, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                          &n_configs, nullptr);
        }
        std::vector<cudnnBackendDescriptor_t> configs(static_cast<size_t>(std::max<int64_t>(n_configs, 0)));
        for (auto& c : configs) c = p->create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
        if (p->status == CUDNN_STATUS_SUCCESS && n_configs > 0) {
            p->status = api.get_attribute(heuristics, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                          n_configs, &n_configs, configs.data());
        }
        for (int64_t i = 0; i < n_configs && p->status == CUDNN_STATUS_SUCCESS && p->plan == nullptr; ++i) {
            auto candidate = p->create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
            p->link(candidate, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, configs[static_cast<size_t>(i)]);
            if (p->status == CUDNN_STATUS_SUCCESS && api.finalize(candidate) == CUDNN_STATUS_SUCCESS)
                p->plan = candidate;
        }
        if (p->plan == nullptr) return nullptr;
        if (api.get_attribute(p->plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, nullptr,
                              &p->workspace_bytes) != CUDNN_STATUS_SUCCESS) {
            return nullptr;
        }
        if (p->workspace_bytes > workspace_bytes) {  // once per bucket, before any forward uses it
            if (workspace != nullptr) {
                cudaStreamSynchronize(stream);
                cudaFree(workspace);
                workspace = nullptr;
                workspace_bytes = 0;
            }
            if (cudaMalloc(&workspace, static_cast<size_t>(p->workspace_bytes)) != cudaSuccess) {
                cudaGetLastError();
                workspace = nullptr;
                return nullptr;
            }
            workspace_bytes = p->workspace_bytes;
        }
        return p;
    }

    Plan* plan_for(DType dtype, int heads, int d, int64_t b, int64_t s, bool uniform) {
        const auto key = std::make_tuple(static_cast<int>(dtype), heads, d, b, s, uniform);
        auto it = plans.find(key);
        if (it == plans.end()) it = plans.emplace(key, build(dtype, heads, d, b, s, uniform)).first;
        return it->second.get();
    }

    std::string last_error() const {
        char message[512] = {};
        api.last_error(message, sizeof message);
        return message;
    }
};

CudnnAttention::CudnnAttention(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CudnnAttention::~CudnnAttention() = default;

std::unique_ptr<CudnnAttention> CudnnAttention::open(cudaStream_t stream, std::string* why) {
    auto impl = std::make_unique<Impl>();
    impl->stream = stream;
    if (!impl->api.load(why)) return nullptr;
    const size_t version = impl->api.get_version();
    if (version < kMinVersion) {
        *why = "cuDNN " + std::to_string(version) + " is older than 9.15 (no fused SDPA with sequence lengths)";
        return nullptr;
    }
    if (impl->api.create(&impl->handle) != CUDNN_STATUS_SUCCESS) {
        impl->handle = nullptr;
        *why = "cudnnCreate failed: " + impl->last_error();
        return nullptr;
    }
    impl->api.set_stream(impl->handle, stream);
    const size_t layout_bytes = sizeof(int32_t) * (3 * kMaxSeqsPerCall + 2);
    if (cudaMalloc(&impl->layout, layout_bytes) != cudaSuccess) {
        cudaGetLastError();
        impl->layout = nullptr;
        *why = "allocating cuDNN's sequence layout failed";
        return nullptr;
    }
    return std::unique_ptr<CudnnAttention>(new CudnnAttention(std::move(impl)));
}

std::string CudnnAttention::version() const {
    const size_t v = impl_->api.get_version();
    return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
}

bool CudnnAttention::uniform(std::span<const int32_t> cu_seqlens) {
    if (cu_seqlens.size() < 2) return false;
    const int64_t length = cu_seqlens[1] - cu_seqlens[0];
    if (length < 64 || next_pow2(length) != length) return false;
    for (size_t i = 1; i + 1 < cu_seqlens.size(); ++i) {
        if (cu_seqlens[i + 1] - cu_seqlens[i] != length) return false;
    }
    return true;
}

StatusOr<bool> CudnnAttention::run(const Tensor& qkv, const SeqLayout& layout, int n_heads, const Tensor& out) {
    Impl& m = *impl_;
    const int64_t hidden = out.cols;
    const int d = static_cast<int>(hidden / n_heads);
    const size_t esize = dtype_size(qkv.dtype);
    const auto cu = layout.cu_seqlens;
    const int n_seqs = static_cast<int>(cu.size()) - 1;
    // Every chunk's plan first, so that nothing is queued for a call that falls back.
    struct Chunk {
        int first, n;
        Plan* plan;
        bool uniform;
    };
    std::vector<Chunk> chunks;
    for (int first = 0; first < n_seqs; first += kMaxSeqsPerCall) {
        const int n = std::min(kMaxSeqsPerCall, n_seqs - first);
        int64_t longest = 1;
        for (int i = first; i < first + n; ++i) longest = std::max<int64_t>(longest, cu[i + 1] - cu[i]);
        if (static_cast<int64_t>(cu[first + n] - cu[first]) * 3 * hidden > INT32_MAX) return false;
        // Equal power-of-two lengths (one 8192-token input, a batch of 512s): the plan is for exactly n sequences.
        const int64_t bucket = std::max<int64_t>(64, next_pow2(longest));
        const bool uniform = CudnnAttention::uniform(cu.subspan(first, n + 1));
        Plan* plan = m.plan_for(qkv.dtype, n_heads, d, uniform ? n : next_pow2(n), bucket, uniform);
        if (plan == nullptr) return false;
        chunks.push_back({first, n, plan, uniform});
    }
    int32_t* seq_len = m.layout;
    int32_t* qkv_offsets = seq_len + kMaxSeqsPerCall;
    int32_t* out_offsets = qkv_offsets + kMaxSeqsPerCall + 1;
    const auto* cu_device = static_cast<const int32_t*>(layout.cu_seqlens_device.data);
    float scale = 1.f / std::sqrt(static_cast<float>(d));
    for (const Chunk& c : chunks) {
        if (!c.uniform) {
            const int bucket = static_cast<int>(next_pow2(c.n));
            launch_ragged_layout(cu_device, c.first, c.n, bucket, 3 * hidden, hidden, seq_len, qkv_offsets, out_offsets,
                                 m.stream);
            if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) {
                return internal_error(std::string("cuDNN attention layout: ") + cudaGetErrorString(e));
            }
        }
        char* q = static_cast<char*>(qkv.data) + static_cast<size_t>(cu[c.first]) * 3 * hidden * esize;
        char* o = static_cast<char*>(out.data) + static_cast<size_t>(cu[c.first]) * hidden * esize;
        std::array<int64_t, 9> uids{kQ, kK, kV, kO, kScale, kSeqQ, kSeqKv, kQkvOffsets, kOutOffsets};
        std::array<void*, 9> pointers{
            q, q + hidden * esize, q + 2 * hidden * esize, o, &scale, seq_len, seq_len, qkv_offsets, out_offsets};
        const int64_t n_bound = c.uniform ? 5 : 9;  // a uniform plan has no lengths or offsets
        Plan pack_owner;
        pack_owner.api = &m.api;
        auto pack = pack_owner.create(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
        pack_owner.set(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, n_bound, uids.data());
        pack_owner.set(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, n_bound, pointers.data());
        void* workspace = m.workspace;
        pack_owner.set(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
        pack_owner.finalize(pack);
        if (pack_owner.status == CUDNN_STATUS_SUCCESS) pack_owner.status = m.api.execute(m.handle, c.plan->plan, pack);
        if (pack_owner.status != CUDNN_STATUS_SUCCESS) {
            return internal_error("cuDNN attention: status " + std::to_string(static_cast<int>(pack_owner.status)) +
                                  " (" + m.last_error() + ")");
        }
    }
    return true;
}

}  // namespace bge::cuda
