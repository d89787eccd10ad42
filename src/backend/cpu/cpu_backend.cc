#include "backend/cpu/cpu_backend.h"

#include <omp.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <utility>

#include "backend/cpu/cpu_attention.h"
#include "backend/cpu/cpu_linear.h"
#include "backend/cpu/cpu_memory.h"
#include "backend/cpu/cpu_norm.h"
#include "core/check.h"
#include "core/memory.h"

namespace bge {
namespace {

class CpuBackend final : public Backend {
 public:
    CpuBackend(int n_threads, CpuPrecision precision, dnnl::engine engine)
        : n_threads_(n_threads > 0 ? n_threads : omp_get_num_procs()),
          precision_(precision),
          engine_(std::move(engine)),
          bf16_(cpu::gemm_type_supported(engine_, cpu::GemmType::kBF16)),
          linear_(engine_, n_threads_),
          bf16_attention_(precision_ == CpuPrecision::kF32 ? std::string() : cpu::bf16_attention_kernel(engine_)),
          attention_(bf16_attention_.empty() ? std::nullopt : std::optional<dnnl::engine>(engine_)) {}

    std::string name() const override { return "cpu"; }
    std::string device_description() const override {
        return "CPU, " + std::to_string(n_threads_) + " OpenMP threads per op";
    }
    DeviceMemoryInfo memory_info() const override { return {0, 0, static_cast<int64_t>(allocated_->load())}; }
    DType activation_dtype() const override { return DType::kF32; }
    bool grows_workspace() const override { return true; }

    StatusOr<HostTensor> alloc_host(DType dtype, int64_t rows, int64_t cols) override {
        return alloc(dtype, rows, cols);  // the CPU's memory is the host's
    }
    StatusOr<DeviceTensor> alloc(DType dtype, int64_t rows, int64_t cols) override {
        linear_.forget_prepared();  // the memory may be a freed tensor's
        BGE_ASSIGN_OR_RETURN(const uint64_t bytes, tensor_bytes(dtype, rows, cols));
        const std::string what = tensor_description(dtype, rows, cols);
        // Linux overcommits: refuse what can never be backed instead of being killed while touching it.
        const uint64_t held = allocated_->load();
        if (bytes > physical_ || held > physical_ - bytes) {
            return resource_exhausted("out of memory: " + what + " needs " + format_bytes(bytes) + " (" +
                                      std::to_string(bytes) + " bytes); " + format_bytes(held) +
                                      " already allocated of this machine's " + format_bytes(physical_));
        }
        void* p = cpu::aligned_alloc_or_null(static_cast<size_t>(bytes));
        if (p == nullptr) return out_of_memory(what, bytes);
        *allocated_ += bytes;
        // The counter outlives the backend when a tensor does.
        DeviceMemory memory(p, [counter = allocated_, bytes](void* q) {
            std::free(q);
            *counter -= bytes;
        });
        return DeviceTensor{std::move(memory), Tensor{p, dtype, rows, cols}};
    }
    void copy_to_device(const void* host, const Tensor& dst) override {
        linear_.forget_prepared();
        if (dst.bytes() > 0) std::memcpy(dst.data, host, dst.bytes());
    }
    void copy_to_host(const Tensor& src, void* host) override {
        if (src.bytes() > 0) std::memcpy(host, src.data, src.bytes());
    }
    StatusOr<DeviceTensor> upload(const float* host, int64_t rows, int64_t cols, DType dtype) override {
        BGE_CHECK(dtype == DType::kF32);  // every CPU op works on fp32
        BGE_ASSIGN_OR_RETURN(DeviceTensor t, alloc(dtype, rows, cols));
        copy_to_device(host, t.view);
        return t;
    }
    Status synchronize() override { return ok_status(); }  // every op has finished when it returns

    StatusOr<std::unique_ptr<LinearWeight>> make_linear(const float* w, const float* b, int64_t out,
                                                        int64_t in) override {
        return make(w, b, out, in, cpu::GemmType::kF32);
    }
    StatusOr<std::unique_ptr<LinearWeight>> make_encoder_linear(EncoderLinear which, const float* w, const float* b,
                                                                int64_t out, int64_t in, InputNorm norm) override {
        (void)which;  // every map in one precision
        return make(w, b, out, in, gemm_type(in), norm);
    }
    std::string compute_dtype() const override {
        switch (precision_) {
            case CpuPrecision::kF32:
                return "F32";
            case CpuPrecision::kBF16:
                return bf16_ ? "BF16" : "F32 (bf16 asked; oneDNN has no bf16 matmul below AVX-512)";
            case CpuPrecision::kInt8:
                return "INT8";
        }
        return "?";
    }
    std::string gemm_kernels() const override {
        std::string out;
        for (const auto& [kernel, count] : kernels_) {
            out += (out.empty() ? "" : ", ") + std::to_string(count) + " x " + kernel;
        }
        return out;
    }
    std::string attention_kernel() const override {
        return bf16_attention_.empty() ? "f32 sgemm"
                                       : "bf16 " + bf16_attention_ + " (f32 sgemm below " +
                                             std::to_string(cpu::kBf16AttentionMinLength) + " tokens)";
    }
    void linear(const Tensor& x, const LinearWeight& w, Activation act, const Tensor& y) override {
        use_threads();
        linear_.run(x, cpu_weight(w), act, y);
    }
    void linear_add_norm(const Tensor& x, const LinearWeight& w, const AddNorm& norm, const Tensor& y) override {
        use_threads();
        const cpu::RowNorm rows = row_norm(norm, y);
        linear_.run(x, cpu_weight(w), Activation::kNone, y, {&rows, next_weight(norm)});
    }
    void feed_forward(const Tensor& x, const LinearWeight& up, const LinearWeight& down, const Tensor& mid,
                      const AddNorm& norm, const Tensor& y) override {
        use_threads();
        const cpu::RowNorm rows = row_norm(norm, y);
        linear_.run_pair(x, cpu_weight(up), Activation::kGelu, cpu_weight(down), mid, y, {&rows, next_weight(norm)});
    }
    void gather_rows(const Tensor& x, const Tensor& rows, const Tensor& out) override {
        BGE_CHECK(x.dtype == DType::kF32 && out.dtype == DType::kF32 && rows.dtype == DType::kI32);
        BGE_CHECK(out.cols == x.cols && rows.rows == out.rows);
        linear_.forget_prepared();
        const auto* index = static_cast<const int32_t*>(rows.data);
        for (int64_t i = 0; i < out.rows; ++i) {
            BGE_CHECK(index[i] >= 0 && index[i] < x.rows);
            std::memcpy(out.row_slice(i, 1).data, x.row_slice(index[i], 1).data, x.row_slice(0, 1).bytes());
        }
    }
    void embed(const Tensor& ids, const Tensor& position_ids, const Tensor& word, const Tensor& position,
               const Tensor& token_type, const Tensor& gamma, const Tensor& beta, float eps,
               const Tensor& out) override {
        linear_.forget_prepared();
        cpu::embed(ids, position_ids, word, position, token_type, gamma, beta, eps, out, n_threads_);
    }
    void add_layer_norm(const Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta,
                        float eps) override {
        linear_.forget_prepared();
        cpu::add_layer_norm(x, residual, gamma, beta, eps, n_threads_);
    }
    void attention(const Tensor& qkv, const SeqLayout& layout, int n_heads, const Tensor& out) override {
        linear_.forget_prepared();
        attention_.run(qkv, layout.cu_seqlens, n_heads, out, n_threads_);
    }

 private:
    // oneDNN (OpenMP build) sizes its parallel regions by the calling thread's OpenMP setting.
    void use_threads() const { omp_set_num_threads(n_threads_); }
    static const cpu::CpuLinearWeight& cpu_weight(const LinearWeight& w) {
        const auto* cw = dynamic_cast<const cpu::CpuLinearWeight*>(&w);
        BGE_CHECK(cw != nullptr);  // made by a CPU backend
        return *cw;
    }
    static const cpu::CpuLinearWeight* next_weight(const AddNorm& norm) {
        return norm.next != nullptr ? &cpu_weight(*norm.next) : nullptr;
    }
    // norm's tensors as host pointers, checked against the output y they finish.
    static cpu::RowNorm row_norm(const AddNorm& norm, const Tensor& y) {
        const auto is_row = [&](const Tensor& t) { return t.dtype == DType::kF32 && t.rows == 1 && t.cols == y.cols; };
        BGE_CHECK(norm.residual.dtype == DType::kF32 && norm.residual.rows == y.rows && norm.residual.cols == y.cols);
        BGE_CHECK(is_row(norm.gamma) && is_row(norm.beta));
        return {static_cast<const float*>(norm.residual.data), static_cast<const float*>(norm.gamma.data),
                static_cast<const float*>(norm.beta.data), norm.eps};
    }

    // The GEMM type of an encoder map with `in` inputs under precision_ (see CpuPrecision).
    cpu::GemmType gemm_type(int64_t in) const {
        const cpu::GemmType wide = bf16_ ? cpu::GemmType::kBF16 : cpu::GemmType::kF32;
        switch (precision_) {
            case CpuPrecision::kF32:
                return cpu::GemmType::kF32;
            case CpuPrecision::kBF16:
                return wide;
            case CpuPrecision::kInt8:
                return in < 66000 ? cpu::GemmType::kInt8 : wide;
        }
        return cpu::GemmType::kF32;
    }
    StatusOr<std::unique_ptr<LinearWeight>> make(const float* w, const float* b, int64_t out, int64_t in,
                                                 cpu::GemmType type, InputNorm norm = {}) {
        use_threads();
        linear_.forget_prepared();  // the new weight may sit where a freed one was
        auto lw = cpu::make_cpu_linear(engine_, w, b, out, in, type, norm);
        const bool smoothed = !lw->in_mul.empty();
        ++kernels_[std::string(cpu::gemm_type_name(type)) + (smoothed ? " smoothed " : " ") + lw->kernel];
        return std::unique_ptr<LinearWeight>(std::move(lw));
    }

    int n_threads_;
    CpuPrecision precision_;
    uint64_t physical_ = physical_memory_bytes();
    std::shared_ptr<std::atomic<uint64_t>> allocated_ = std::make_shared<std::atomic<uint64_t>>(0);  // by alloc()
    dnnl::engine engine_;
    bool bf16_;  // oneDNN has a bf16 matmul here
    cpu::LinearRunner linear_;
    std::map<std::string, int>
        kernels_;  // "int8 brg:avx512_core_vnni", "int8 smoothed gemm:jit" -> layers made with it
    // bf16 and int8 run attention's GEMMs in bf16 where oneDNN has a fast bf16 matmul: its kernel, else empty.
    std::string bf16_attention_;
    cpu::AttentionRunner attention_;
};

const char* onednn_isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
        case dnnl_cpu_isa_sse41:
            return "sse41";
        case dnnl_cpu_isa_avx:
            return "avx";
        case dnnl_cpu_isa_avx2:
            return "avx2";
        case dnnl_cpu_isa_avx2_vnni:
            return "avx2_vnni";
        case dnnl_cpu_isa_avx512_mic:
            return "avx512_mic";
        case dnnl_cpu_isa_avx512_mic_4ops:
            return "avx512_mic_4ops";
        case dnnl_cpu_isa_avx512_core:
            return "avx512_core";
        case dnnl_cpu_isa_avx512_core_vnni:
            return "avx512_core_vnni";
        case dnnl_cpu_isa_avx512_core_bf16:
            return "avx512_core_bf16";
        case dnnl_cpu_isa_avx512_core_amx:
            return "avx512_core_amx";
        default:
            return "baseline";
    }
}

}  // namespace

std::string cpu_isa_in_use() {
    // The same test as the target_clones dispatch of BGE_VECTOR_CLONES (cpu_vector.h) (x86-64-v4 needs AVX-512
    // F/BW/DQ/VL/CD).
    __builtin_cpu_init();
    const char* loops = __builtin_cpu_supports("x86-64-v4")   ? "x86-64-v4"
                        : __builtin_cpu_supports("x86-64-v3") ? "x86-64-v3"
                                                              : "x86-64";
    return std::string("oneDNN ") + onednn_isa_name(dnnl_get_effective_cpu_isa()) + ", loops " + loops;
}

std::unique_ptr<Backend> make_cpu_backend(int n_threads, CpuPrecision precision) {
    try {
        return std::make_unique<CpuBackend>(n_threads, precision, dnnl::engine(dnnl::engine::kind::cpu, 0));
    } catch (const dnnl::error& e) {
        std::fprintf(stderr, "bge cpu backend: oneDNN CPU engine creation failed: %s\n", e.what());
        std::abort();
    }
}

}  // namespace bge
