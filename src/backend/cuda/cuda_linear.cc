#include "backend/cuda/cuda_linear.h"

#include <functional>

namespace bge::cuda {
namespace {

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

std::string linear_name(int64_t n, int64_t in, int64_t out) {
    return "linear [" + std::to_string(n) + ", " + std::to_string(in) + "] x [" + std::to_string(in) + ", " +
           std::to_string(out) + "]";
}

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
    for (auto& [key, plan] : plans_) destroy_linear_descriptors(plan.lt);
    if (workspace_) cudaFree(workspace_);
    if (handle_) cublasLtDestroy(handle_);
}

Status LinearRunner::init(cudaStream_t stream) {
    stream_ = stream;
    BGE_LT_RETURN_IF_ERROR(cublasLtCreate(&handle_), "cublasLtCreate");
    if (cudaMalloc(&workspace_, kLinearWorkspaceBytes) != cudaSuccess) {
        cudaGetLastError();
        workspace_ = nullptr;
        return resource_exhausted("cuBLASLt workspace: allocating " + std::to_string(kLinearWorkspaceBytes) +
                                  " bytes of device memory failed");
    }
    workspace_bytes_ = kLinearWorkspaceBytes;
    return ok_status();
}

Status describe_linear(int64_t n, int64_t in, int64_t out, DType x_dtype, DType y_dtype, bool bias,
                       LinearDescriptors* d) {
    LinearDescriptors made;
    const Status s = [&]() -> Status {
        const std::string what = linear_name(n, in, out);
        BGE_LT_RETURN_IF_ERROR(cublasLtMatmulDescCreate(&made.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), what);
        const cublasOperation_t transa = CUBLAS_OP_T, transb = CUBLAS_OP_N;
        BGE_LT_RETURN_IF_ERROR(
            cublasLtMatmulDescSetAttribute(made.desc, CUBLASLT_MATMUL_DESC_TRANSA, &transa, sizeof transa), what);
        BGE_LT_RETURN_IF_ERROR(
            cublasLtMatmulDescSetAttribute(made.desc, CUBLASLT_MATMUL_DESC_TRANSB, &transb, sizeof transb), what);
        const cublasLtEpilogue_t epilogue = bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
        BGE_LT_RETURN_IF_ERROR(
            cublasLtMatmulDescSetAttribute(made.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue), what);
        const auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
        BGE_LT_RETURN_IF_ERROR(cublasLtMatrixLayoutCreate(&made.a, cuda_type(x_dtype), u(in), u(out), in), what);
        BGE_LT_RETURN_IF_ERROR(cublasLtMatrixLayoutCreate(&made.b, cuda_type(x_dtype), u(in), u(n), in), what);
        BGE_LT_RETURN_IF_ERROR(cublasLtMatrixLayoutCreate(&made.c, cuda_type(y_dtype), u(out), u(n), out), what);
        return ok_status();
    }();
    if (!s.ok()) {
        destroy_linear_descriptors(made);
        return s;
    }
    *d = made;
    return s;
}

void destroy_linear_descriptors(LinearDescriptors& d) {
    for (cublasLtMatrixLayout_t* l : {&d.a, &d.b, &d.c}) {
        if (*l != nullptr) cublasLtMatrixLayoutDestroy(*l);
        *l = nullptr;
    }
    if (d.desc != nullptr) cublasLtMatmulDescDestroy(d.desc);
    d.desc = nullptr;
}

StatusOr<LinearRunner::Plan*> LinearRunner::plan_for(const Key& key) {
    auto it = plans_.find(key);
    if (it != plans_.end()) return &it->second;
    Plan plan;
    BGE_RETURN_IF_ERROR(describe_linear(key.n, key.in, key.out, key.x_dtype, key.y_dtype, key.bias, &plan.lt));
    const std::string what = linear_name(key.n, key.in, key.out);
    cublasLtMatmulPreference_t pref = nullptr;
    cublasStatus_t s = cublasLtMatmulPreferenceCreate(&pref);
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    if (s == CUBLAS_STATUS_SUCCESS) {
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes_,
                                             sizeof workspace_bytes_);
        s = cublasLtMatmulAlgoGetHeuristic(handle_, plan.lt.desc, plan.lt.a, plan.lt.b, plan.lt.c, plan.lt.c, pref, 1,
                                           &result, &found);
        cublasLtMatmulPreferenceDestroy(pref);
    }
    if (s != CUBLAS_STATUS_SUCCESS || found == 0) {
        destroy_linear_descriptors(plan.lt);
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
            cublasLtMatmulDescSetAttribute(plan->lt.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias),
            "linear bias");
    }
    const float alpha = 1.f, beta = 0.f;
    BGE_LT_RETURN_IF_ERROR(
        cublasLtMatmul(handle_, plan->lt.desc, &alpha, w.weight.view.data, plan->lt.a, x.data, plan->lt.b, &beta,
                       y.data, plan->lt.c, y.data, plan->lt.c, &plan->algo, workspace_, workspace_bytes_, stream_),
        "linear");
    return ok_status();
}

}  // namespace bge::cuda
