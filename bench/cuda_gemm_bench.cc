// The encoder's four GEMMs at 512 x 32 tokens (fp16, y [n, out] = x [n, in] · Wᵀ + b) on the engines the CUDA
// backend could use: each of cuBLASLt's first kCandidates heuristic algorithms (the backend runs the first), and
// cuDNN's graph API (libcudnn.so.9 opened at run time) with every engine configuration its heuristics offer, for the
// plain matmul and, for FFN-up, with the bias and the exact (erf) GELU fused into it. Answers whether timing the
// candidates or fusing the GELU through a library would beat the backend's cuBLASLt GEMM + own GELU pass.
// Usage: bge_cuda_gemm_bench [--tokens N] [--reps R]. Prints one line per engine: ms (CUDA events, mean of R calls
// after 3 warm-ups), TFLOP/s, and the largest error against a double-precision reference on 64 sampled outputs.
#include <cublasLt.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/cuda_linear.h"
#include "backend/cuda/cudnn_api.h"

namespace {

constexpr int kCandidates = 8;
constexpr size_t kWorkspaceBytes = 256u << 20;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "bge_cuda_gemm_bench: %s\n", what.c_str());
    std::exit(1);
}
void cuda_ok(cudaError_t e, const char* what) {
    if (e != cudaSuccess) die(std::string(what) + ": " + cudaGetErrorString(e));
}

struct Shape {
    const char* name;
    int64_t in, out;
};

// Device operands of one shape, with host copies for the reference.
struct Operands {
    int64_t n, in, out;
    std::vector<__half> x, w, b;
    void *dx = nullptr, *dw = nullptr, *db = nullptr, *dy = nullptr;
    Operands(int64_t n_, const Shape& s, std::mt19937& rng) : n(n_), in(s.in), out(s.out) {
        std::uniform_real_distribution<float> u(-1.f, 1.f);
        x.resize(n * in);
        w.resize(out * in);
        b.resize(out);
        for (auto& v : x) v = __float2half(u(rng));
        for (auto& v : w) v = __float2half(0.03f * u(rng));
        for (auto& v : b) v = __float2half(0.5f * u(rng));
        const auto upload = [](void** d, const std::vector<__half>& h) {
            cuda_ok(cudaMalloc(d, h.size() * sizeof(__half)), "cudaMalloc");
            cuda_ok(cudaMemcpy(*d, h.data(), h.size() * sizeof(__half), cudaMemcpyHostToDevice), "upload");
        };
        upload(&dx, x);
        upload(&dw, w);
        upload(&db, b);
        cuda_ok(cudaMalloc(&dy, n * out * sizeof(__half)), "cudaMalloc");
    }
    ~Operands() {
        for (void* p : {dx, dw, db, dy}) cudaFree(p);
    }
    // Largest |y - reference| over 64 sampled outputs; the reference is x · Wᵀ (+ b, then GELU) in double.
    double max_error(bool bias, bool gelu) const {
        std::vector<__half> y(n * out);
        cuda_ok(cudaMemcpy(y.data(), dy, y.size() * sizeof(__half), cudaMemcpyDeviceToHost), "download");
        double err = 0;
        for (int64_t s = 0; s < 64; ++s) {
            const int64_t r = s * 7919 % n, c = s * 104729 % out;
            double acc = bias ? __half2float(b[c]) : 0.0;
            for (int64_t k = 0; k < in; ++k) acc += double(__half2float(x[r * in + k])) * __half2float(w[c * in + k]);
            if (gelu) acc = 0.5 * acc * (1 + std::erf(acc / std::sqrt(2.0)));
            err = std::max(err, std::fabs(acc - __half2float(y[r * out + c])));
        }
        return err;
    }
};

// Mean ms of `reps` calls of `call` on `stream` after three warm-ups; negative where a call fails.
double time_ms(cudaStream_t stream, int reps, const std::function<bool()>& call) {
    for (int i = 0; i < 3; ++i) {
        if (!call()) return -1;
    }
    cudaEvent_t start, stop;
    cudaEventCreate(&start);
    cudaEventCreate(&stop);
    cudaEventRecord(start, stream);
    for (int i = 0; i < reps; ++i) call();
    cudaEventRecord(stop, stream);
    cuda_ok(cudaEventSynchronize(stop), "timing");
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    return ms / reps;
}

void report(const Operands& o, const std::string& engine, double ms, bool bias, bool gelu) {
    if (ms < 0) {
        std::printf("%-44s failed\n", engine.c_str());
        return;
    }
    std::printf("%-44s %8.4f ms %7.1f TFLOP/s  max err %.2e\n", engine.c_str(), ms,
                2.0 * o.n * o.in * o.out / (ms * 1e-3) / 1e12, o.max_error(bias, gelu));
}

// cuBLASLt with the bias epilogue, on the backend's own descriptors and workspace size (cuda_linear.h).
void bench_cublaslt(cublasLtHandle_t lt, cudaStream_t stream, void* workspace, const Operands& o, int reps,
                    const char* name) {
    using bge::cuda::kLinearWorkspaceBytes;
    bge::cuda::LinearDescriptors d;
    const bge::Status made = bge::cuda::describe_linear(o.n, o.in, o.out, bge::DType::kF16, bge::DType::kF16, true, &d);
    if (!made.ok()) die(made.message());
    cublasLtMatmulDescSetAttribute(d.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &o.db, sizeof o.db);
    cublasLtMatmulPreference_t pref;
    cublasLtMatmulPreferenceCreate(&pref);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &kLinearWorkspaceBytes,
                                         sizeof kLinearWorkspaceBytes);
    cublasLtMatmulHeuristicResult_t results[kCandidates];
    int found = 0;
    cublasLtMatmulAlgoGetHeuristic(lt, d.desc, d.a, d.b, d.c, d.c, pref, kCandidates, results, &found);
    const float alpha = 1.f, beta = 0.f;
    for (int i = 0; i < found; ++i) {
        const double ms = time_ms(stream, reps, [&] {
            return cublasLtMatmul(lt, d.desc, &alpha, o.dw, d.a, o.dx, d.b, &beta, o.dy, d.c, o.dy, d.c,
                                  &results[i].algo, workspace, kLinearWorkspaceBytes, stream) == CUBLAS_STATUS_SUCCESS;
        });
        report(o, std::string(name) + " cuBLASLt+bias candidate " + std::to_string(i), ms, true, false);
    }
    cublasLtMatmulPreferenceDestroy(pref);
    bge::cuda::destroy_linear_descriptors(d);
}

// Descriptor building on the graph API that remembers the first failure.
struct Cudnn {
    bge::cuda::CudnnApi api;
    cudnnHandle_t handle = nullptr;
    std::vector<cudnnBackendDescriptor_t> made;
    bool ok = true;

    bool load(cudaStream_t stream) {
        std::string why;
        ok = api.load(&why) && api.create(&handle) == CUDNN_STATUS_SUCCESS &&
             api.set_stream(handle, stream) == CUDNN_STATUS_SUCCESS;
        if (!ok) std::printf("cuDNN: %s\n", why.empty() ? "no handle" : why.c_str());
        return ok;
    }
    void release() {
        for (auto d = made.rbegin(); d != made.rend(); ++d) api.destroy_descriptor(*d);
        made.clear();
        ok = true;
    }
    cudnnBackendDescriptor_t make(cudnnBackendDescriptorType_t type) {
        cudnnBackendDescriptor_t d = nullptr;
        ok = ok && api.create_descriptor(type, &d) == CUDNN_STATUS_SUCCESS;
        if (d != nullptr) made.push_back(d);
        return d;
    }
    void set(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
             int64_t count, const void* values) {
        ok = ok && api.set_attribute(d, name, type, count, values) == CUDNN_STATUS_SUCCESS;
    }
    void link(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name, cudnnBackendDescriptor_t value) {
        set(d, name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &value);
    }
    void done(cudnnBackendDescriptor_t d) { ok = ok && api.finalize(d) == CUDNN_STATUS_SUCCESS; }
    cudnnBackendDescriptor_t tensor(int64_t uid, cudnnDataType_t type, int64_t rows, int64_t cols, int64_t row_stride,
                                    int64_t col_stride, bool is_virtual) {
        auto d = make(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
        const int64_t dims[3] = {1, rows, cols}, strides[3] = {rows * cols, row_stride, col_stride}, alignment = 16;
        set(d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
        set(d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type);
        set(d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 3, dims);
        set(d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 3, strides);
        set(d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment);
        set(d, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual);
        done(d);
        return d;
    }
    cudnnBackendDescriptor_t pointwise(cudnnPointwiseMode_t mode, cudnnBackendDescriptor_t x,
                                       cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t y) {
        auto pw = make(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
        const cudnnDataType_t precision = CUDNN_DATA_FLOAT;
        set(pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode);
        set(pw, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &precision);
        done(pw);
        auto op = make(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
        link(op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw);
        link(op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x);
        if (b != nullptr) link(op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, b);
        link(op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y);
        done(op);
        return op;
    }
};

// cuDNN's matmul y = x · Wᵀ (fused: gelu(x · Wᵀ + b), f32 in between), every engine config of heuristic mode A.
void bench_cudnn(Cudnn& dnn, cudaStream_t stream, void* workspace, const Operands& o, int reps, const char* name,
                 bool fused) {
    enum : int64_t { kX = 1, kW, kBias, kY, kAcc, kBiased };
    auto x = dnn.tensor(kX, CUDNN_DATA_HALF, o.n, o.in, o.in, 1, false);
    auto w = dnn.tensor(kW, CUDNN_DATA_HALF, o.in, o.out, 1, o.in, false);  // Wᵀ [in, out] over W's rows
    auto y = dnn.tensor(kY, CUDNN_DATA_HALF, o.n, o.out, o.out, 1, false);
    auto acc = fused ? dnn.tensor(kAcc, CUDNN_DATA_FLOAT, o.n, o.out, o.out, 1, true) : y;
    auto matmul = dnn.make(CUDNN_BACKEND_MATMUL_DESCRIPTOR);
    const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
    dnn.set(matmul, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute);
    dnn.done(matmul);
    auto op = dnn.make(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR);
    dnn.link(op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, x);
    dnn.link(op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, w);
    dnn.link(op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, acc);
    dnn.link(op, CUDNN_ATTR_OPERATION_MATMUL_DESC, matmul);
    dnn.done(op);
    std::vector<cudnnBackendDescriptor_t> ops{op};
    if (fused) {
        auto bias = dnn.tensor(kBias, CUDNN_DATA_HALF, 1, o.out, o.out, 1, false);
        auto biased = dnn.tensor(kBiased, CUDNN_DATA_FLOAT, o.n, o.out, o.out, 1, true);
        ops.push_back(dnn.pointwise(CUDNN_POINTWISE_ADD, acc, bias, biased));
        ops.push_back(dnn.pointwise(CUDNN_POINTWISE_GELU_FWD, biased, nullptr, y));
    }
    auto graph = dnn.make(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
    dnn.set(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, static_cast<int64_t>(ops.size()),
            ops.data());
    dnn.set(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &dnn.handle);
    dnn.done(graph);
    auto heuristics = dnn.make(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    const cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
    dnn.link(heuristics, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph);
    dnn.set(heuristics, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
    dnn.done(heuristics);
    int64_t n_configs = 0;
    dnn.ok = dnn.ok && dnn.api.get_attribute(heuristics, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                         &n_configs, nullptr) == CUDNN_STATUS_SUCCESS;
    std::vector<cudnnBackendDescriptor_t> configs(static_cast<size_t>(n_configs));
    for (auto& c : configs) c = dnn.make(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    dnn.ok = dnn.ok && dnn.api.get_attribute(heuristics, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                         n_configs, &n_configs, configs.data()) == CUDNN_STATUS_SUCCESS;
    const std::string label = std::string(name) + (fused ? " cuDNN +bias+GELU config " : " cuDNN config ");
    if (!dnn.ok) std::printf("%-44s no graph\n", label.c_str());
    int64_t uids[3] = {kX, kW, kY};
    void* pointers[3] = {o.dx, o.dw, o.dy};
    int64_t uids_fused[4] = {kX, kW, kY, kBias};
    void* pointers_fused[4] = {o.dx, o.dw, o.dy, o.db};
    for (int64_t i = 0; dnn.ok && i < n_configs; ++i) {
        auto plan = dnn.make(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
        dnn.link(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, configs[i]);
        dnn.set(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &dnn.handle);
        int64_t workspace_bytes = 0;
        if (!dnn.ok || dnn.api.finalize(plan) != CUDNN_STATUS_SUCCESS ||
            dnn.api.get_attribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, nullptr,
                              &workspace_bytes) != CUDNN_STATUS_SUCCESS ||
            workspace_bytes > static_cast<int64_t>(kWorkspaceBytes)) {
            continue;  // a config without a plan here
        }
        auto pack = dnn.make(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
        dnn.set(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, fused ? 4 : 3,
                fused ? uids_fused : uids);
        dnn.set(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, fused ? 4 : 3,
                fused ? pointers_fused : pointers);
        dnn.set(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
        dnn.done(pack);
        const double ms =
            time_ms(stream, reps, [&] { return dnn.ok && dnn.api.execute(dnn.handle, plan, pack) == CUDNN_STATUS_SUCCESS; });
        report(o, label + std::to_string(i), ms, fused, fused);
    }
    dnn.release();
}

}  // namespace

int main(int argc, char** argv) {
    int64_t tokens = 512 * 32;
    int reps = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--tokens") == 0) tokens = std::max<int64_t>(1, std::atoll(argv[i + 1]));
        if (std::strcmp(argv[i], "--reps") == 0) reps = std::max(1, std::atoi(argv[i + 1]));
    }
    cudaStream_t stream;
    cuda_ok(cudaStreamCreate(&stream), "cudaStreamCreate");
    void* workspace = nullptr;
    cuda_ok(cudaMalloc(&workspace, kWorkspaceBytes), "cudaMalloc");
    cublasLtHandle_t lt;
    if (cublasLtCreate(&lt) != CUBLAS_STATUS_SUCCESS) die("cublasLtCreate failed");
    Cudnn dnn;
    const bool have_cudnn = dnn.load(stream);
    if (!have_cudnn) std::printf("cuBLASLt only\n");
    std::mt19937 rng(1);
    for (const Shape& s : {Shape{"QKV", 1024, 3072}, Shape{"attention-out", 1024, 1024}, Shape{"FFN-up", 1024, 4096},
                           Shape{"FFN-down", 4096, 1024}}) {
        const Operands o(tokens, s, rng);
        std::printf("== %s [%lld, %lld] x [%lld, %lld]\n", s.name, static_cast<long long>(tokens),
                    static_cast<long long>(s.in), static_cast<long long>(s.in), static_cast<long long>(s.out));
        bench_cublaslt(lt, stream, workspace, o, reps, s.name);
        if (!have_cudnn) continue;
        bench_cudnn(dnn, stream, workspace, o, reps, s.name, false);
        if (std::strcmp(s.name, "FFN-up") == 0) bench_cudnn(dnn, stream, workspace, o, reps, s.name, true);
    }
    cublasLtDestroy(lt);
    cudaFree(workspace);
    return 0;
}
