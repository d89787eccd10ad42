// Linear layers on cuBLASLt: y [n, out] = x [n, in] · Wᵀ + b with the bias fused in the GEMM's epilogue.
// cuBLASLt's GELU epilogue is the tanh approximation, so exact GELU and tanh run as a kernel after it.
// Descriptors and the heuristic's algorithm are made once per shape and cached.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <unordered_map>

#include "backend/backend.h"

namespace bge::cuda {

class CudaLinearWeight : public LinearWeight {
 public:
    DeviceTensor weight;    // [out, in] in the compute dtype
    DeviceTensor bias;      // [1, out] in the compute dtype (empty: no bias)
    DeviceTensor bias_f32;  // F32 [1, out], for F32 outputs
};

// The GEMM workspace the backend gives cuBLASLt (its split-K and stream-K scratch) and asks heuristics to fit.
inline constexpr size_t kLinearWorkspaceBytes = 32u << 20;

// cuBLASLt's description of row-major y [n, out] = x [n, in] · Wᵀ (+ b fused in the epilogue when `bias`), W [out, in]
// row-major, fp32 accumulation: column-major yᵀ = W xᵀ with A = W (transposed), B = x, C = y. The bias pointer is set
// per call (CUBLASLT_MATMUL_DESC_BIAS_POINTER). The backend's linear and bench/cuda_gemm_bench.cc both use it.
struct LinearDescriptors {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;  // W, x, y
};
// Makes *d; on failure returns the error and leaves nothing to destroy.
Status describe_linear(int64_t n, int64_t in, int64_t out, DType x_dtype, DType y_dtype, bool bias,
                       LinearDescriptors* d);
// Destroys what describe_linear made (every field may be null) and resets the fields.
void destroy_linear_descriptors(LinearDescriptors& d);

class LinearRunner {
 public:
    LinearRunner() = default;
    ~LinearRunner();
    LinearRunner(const LinearRunner&) = delete;
    LinearRunner& operator=(const LinearRunner&) = delete;

    // Creates the handle and the GEMM workspace (device memory; before any forward).
    Status init(cudaStream_t stream);
    // Queues y = x · Wᵀ + b. A cuBLASLt failure is returned (the caller makes it sticky).
    Status run(const Tensor& x, const CudaLinearWeight& w, const Tensor& y);

 private:
    struct Key {
        int64_t n, in, out;
        DType x_dtype, y_dtype;
        bool bias;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        size_t operator()(const Key& k) const;
    };
    struct Plan {
        LinearDescriptors lt;
        cublasLtMatmulAlgo_t algo{};
    };
    StatusOr<Plan*> plan_for(const Key& key);

    cudaStream_t stream_ = nullptr;
    cublasLtHandle_t handle_ = nullptr;
    void* workspace_ = nullptr;
    size_t workspace_bytes_ = 0;
    std::unordered_map<Key, Plan, KeyHash> plans_;
};

}  // namespace bge::cuda
