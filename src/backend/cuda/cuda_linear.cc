#include "backend/cuda/cuda_linear.h"

#include <functional>

namespace bge::cuda {
namespace {

constexpr size_t kWorkspaceBytes = 32u << 20;  // cuBLASLt's split-K and stream-K scratch

cudaDataType_t cuda_type(DType t) {
    switch (t) {
        case DType::kF16:
            return CUDA_R_16F;
        case DType::kBF16:
            return CUDA_R_16BF;
        default:
            return CUDA_R_32F;
    }
}

Status lt_error(cublasStatus_t s, const std::string& what) {
    return internal_error(what + ": cuBLASLt status " + std::to_string(static_cast<int>(s)) + " (" +
                          cublasLtGetStatusString(s) + ")");
}

#define BGE_LT_RETURN_IF_ERROR(expr, what)                                                  \
    do {                                                                                    \
        const cublasStatus_t bge_lt_status_ = (expr);                                       \
        if (bge_lt_status_ != CUBLAS_STATUS_SUCCESS) return lt_error(bge_lt_status_, what); \
    } while (0)

}  // namespace

size_t LinearRunner::KeyHash::operator()(const Key& k) const {
    size_t h = std::hash<int64_t>()(k.n);
    for (int64_t v : {k.in, k.out, static_cast<int64_t>(k.x_dtype), static_cast<int64_t>(k.y_dtype),
                      static_cast<int64_t>(k.bias)}) {
        h = h * 1000003u ^ std::hash<int64_t>()(v);
    }
    return h;
}

LinearRunner::~LinearRunner() {
    for (auto& [key, plan] : plans_) {
        cublasLtMatrixLayoutDestroy(plan.a);
        cublasLtMatrixLayoutDestroy(plan.b);
        cublasLtMatrixLayoutDestroy(plan.c);
        cublasLtMatmulDescDestroy(plan.desc);
    }
    if (workspace_) cudaFree(workspace_);
    if (handle_) cublasLtDestroy(handle_);
}

Status LinearRunner::init(cudaStream_t stream) {
    stream_ = stream;
    BGE_LT_RETURN_IF_ERROR(cublasLtCreate(&handle_), "cublasLtCreate");
    if (cudaMalloc(&workspace_, kWorkspaceBytes) != cudaSuccess) {
        cudaGetLastError();
        workspace_ = nullptr;
        return resource_exhausted("cuBLASLt workspace: allocating " + std::to_string(kWorkspaceBytes) +
                                  " bytes of device memory failed");
    }
    workspace_bytes_ = kWorkspaceBytes;
    return ok_status();
}

// Row-major y [n, out] = x [n, in] · Wᵀ is column-major yᵀ [out, n] = (Wᵀ as col-major [in, out])ᵀ · xᵀ:
// A = W (col-major [in, out], transposed), B = x (col-major [in, n]), C = y (col-major [out, n]).
StatusOr<LinearRunner::Plan*> LinearRunner::plan_for(const Key& key) {
    auto it = plans_.find(key);
    if (it != plans_.end()) return &it->second;
    Plan plan;
    const std::string what = "linear [" + std::to_string(key.n) + ", " + std::to_string(key.in) + "] x [" +
                             std::to_string(key.in) + ", " + std::to_string(key.out) + "]";
    BGE_LT_RETURN_IF_ERROR(cublasLtMatmulDescCreate(&plan.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), what);
    const cublasOperation_t transa = CUBLAS_OP_T, transb = CUBLAS_OP_N;
    BGE_LT_RETURN_IF_ERROR(
        cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, &transa, sizeof transa), what);
    BGE_LT_RETURN_IF_ERROR(
        cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, &transb, sizeof transb), what);
    const cublasLtEpilogue_t epilogue = key.bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    BGE_LT_RETURN_IF_ERROR(
        cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue), what);
    const auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
    BGE_LT_RETURN_IF_ERROR(cublasLtMatrixLayoutCreate(&plan.a, cuda_type(key.x_dtype), u(key.in), u(key.out), key.in),
                           what);
    BGE_LT_RETURN_IF_ERROR(cublasLtMatrixLayoutCreate(&plan.b, cuda_type(key.x_dtype), u(key.in), u(key.n), key.in),
                           what);
    BGE_LT_RETURN_IF_ERROR(cublasLtMatrixLayoutCreate(&plan.c, cuda_type(key.y_dtype), u(key.out), u(key.n), key.out),
                           what);

    cublasLtMatmulPreference_t pref = nullptr;
    BGE_LT_RETURN_IF_ERROR(cublasLtMatmulPreferenceCreate(&pref), what);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes_,
                                         sizeof workspace_bytes_);
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    const cublasStatus_t s =
        cublasLtMatmulAlgoGetHeuristic(handle_, plan.desc, plan.a, plan.b, plan.c, plan.c, pref, 1, &result, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (s != CUBLAS_STATUS_SUCCESS || found == 0) {
        cublasLtMatrixLayoutDestroy(plan.a);
        cublasLtMatrixLayoutDestroy(plan.b);
        cublasLtMatrixLayoutDestroy(plan.c);
        cublasLtMatmulDescDestroy(plan.desc);
        return s != CUBLAS_STATUS_SUCCESS ? lt_error(s, what + " heuristic")
                                          : unimplemented(what + ": cuBLASLt offers no algorithm for it");
    }
    plan.algo = result.algo;
    return &plans_.emplace(key, plan).first->second;
}

Status LinearRunner::run(const Tensor& x, const CudaLinearWeight& w, const Tensor& y) {
    if (x.rows == 0) return ok_status();
    const bool has_bias = w.bias.view.data != nullptr;
    const Key key{x.rows, w.in_features, w.out_features, x.dtype, y.dtype, has_bias};
    BGE_ASSIGN_OR_RETURN(Plan * plan, plan_for(key));
    if (has_bias) {
        const void* bias = y.dtype == DType::kF32 ? w.bias_f32.view.data : w.bias.view.data;
        BGE_LT_RETURN_IF_ERROR(
            cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias),
            "linear bias");
    }
    const float alpha = 1.f, beta = 0.f;
    BGE_LT_RETURN_IF_ERROR(
        cublasLtMatmul(handle_, plan->desc, &alpha, w.weight.view.data, plan->a, x.data, plan->b, &beta, y.data,
                       plan->c, y.data, plan->c, &plan->algo, workspace_, workspace_bytes_, stream_),
        "linear");
    return ok_status();
}

}  // namespace bge::cuda
