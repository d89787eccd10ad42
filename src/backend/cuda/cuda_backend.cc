#include "backend/cuda/cuda_backend.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backend/cuda/cuda_linear.h"
#ifdef BGE_HAVE_CUDNN
#include "backend/cuda/cudnn_attention.h"
#endif
#include "backend/cuda/kernels/kernels.h"
#include "core/check.h"
#include "core/memory.h"

namespace bge {
namespace {

Status cuda_status(cudaError_t e, const std::string& what) {
    return internal_error(what + ": CUDA error " + std::to_string(static_cast<int>(e)) + " (" + cudaGetErrorString(e) +
                          ")");
}

// fp32 host data -> `dtype` host bytes (round to nearest even).
std::vector<uint16_t> to_half_bits(const float* src, size_t n, DType dtype) {
    std::vector<uint16_t> out(n);
    for (size_t i = 0; i < n; ++i) {
        if (dtype == DType::kF16) {
            const __half h = __float2half_rn(src[i]);
            std::memcpy(&out[i], &h, 2);
        } else {
            const __nv_bfloat16 b = __float2bfloat16_rn(src[i]);
            std::memcpy(&out[i], &b, 2);
        }
    }
    return out;
}

class CudaBackend final : public Backend {
 public:
    CudaBackend(int device, DType dtype) : device_(device), dtype_(dtype) {}
    ~CudaBackend() override {
        cudaSetDevice(device_);
        if (stream_) cudaStreamSynchronize(stream_);
        linear_.reset();
        cudnn_ = nullptr;
        if (stream_) cudaStreamDestroy(stream_);
    }

    Status init() {
        int count = 0;
        if (cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess) {
            cudaGetLastError();
            return failed_precondition("cuda:" + std::to_string(device_) + ": no usable CUDA driver or GPU (" +
                                       cudaGetErrorString(e) + ")");
        }
        if (device_ >= count) {
            return failed_precondition("cuda:" + std::to_string(device_) + ": only " + std::to_string(count) +
                                       " CUDA device(s) visible");
        }
        if (cudaError_t e = cudaSetDevice(device_); e != cudaSuccess) return cuda_status(e, name());
        if (cudaError_t e = cudaGetDeviceProperties(&props_, device_); e != cudaSuccess) return cuda_status(e, name());
        if (props_.major < 8) {
            return failed_precondition(name() + " (" + props_.name + ", compute capability " +
                                       std::to_string(props_.major) + "." + std::to_string(props_.minor) +
                                       "): the CUDA backend needs compute capability 8.0 or newer");
        }
        if (cudaError_t e = cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking); e != cudaSuccess) {
            return cuda_status(e, name() + " stream");
        }
        linear_ = std::make_unique<cuda::LinearRunner>();
        BGE_RETURN_IF_ERROR(linear_->init(stream_));
        const char* generic = std::getenv("BGE_CUDA_GENERIC");
        force_generic_ = generic != nullptr && std::strcmp(generic, "1") == 0;
        return init_attention();
    }

    // BGE_CUDA_ATTENTION picks the attention kernels:
    //   auto   where cuDNN >= 9.15 loads, its fused SDPA for batches of one power-of-two length (its plan without
    //          offsets or mask, the fastest there) and, off Hopper, for every batch from kCudnnMinLength tokens;
    //          the own kernel elsewhere (docs/performance.md has the measurements);
    //   flash  the own kernel only: the Hopper one (wgmma, TMA) on compute capability 9.0, mma.sync elsewhere;
    //   mma    the mma.sync kernel (the pre-Hopper path, to test it on Hopper);
    //   wgmma  the Hopper kernel (start-up fails where it cannot run; for tests);
    //   cudnn  cuDNN for every length (start-up fails without it, and a shape it declines is an error; for tests).
    Status init_attention() {
        const char* env = std::getenv("BGE_CUDA_ATTENTION");
        const std::string mode = env != nullptr ? env : "auto";
        if (mode != "auto" && mode != "flash" && mode != "mma" && mode != "wgmma" && mode != "cudnn") {
            return invalid_argument("BGE_CUDA_ATTENTION=" + mode + ": expected auto, flash, mma, wgmma or cudnn");
        }
        cudnn_only_ = mode == "cudnn";
        mma_only_ = mode == "mma";
        sm90_only_ = mode == "wgmma";
#ifdef BGE_CUDA_SM90A
        sm90_ = !force_generic_ && props_.major == 9 && props_.minor == 0;
#endif
        if (sm90_only_ && !sm90_) {
            return failed_precondition(name() +
                                       ": BGE_CUDA_ATTENTION=wgmma needs compute capability 9.0, a build with " +
                                       "sm_90a and BGE_CUDA_GENERIC unset");
        }
        if (mma_only_) sm90_ = false;
        const std::string own = force_generic_ ? "generic kernels (BGE_CUDA_GENERIC=1)"
                                : sm90_        ? "own Hopper kernel (wgmma, TMA)"
                                               : "own mma.sync kernel";
        if ((mode != "auto" && mode != "cudnn") || force_generic_) {
            attention_note_ = own;
            return ok_status();
        }
        std::string why = "built without cuDNN headers";
#ifdef BGE_HAVE_CUDNN
        cudnn_ = cuda::CudnnAttention::open(stream_, &why);
#endif
        if (cudnn_ == nullptr && cudnn_only_) {
            return failed_precondition(name() + ": BGE_CUDA_ATTENTION=cudnn but cuDNN cannot be used: " + why);
        }
        attention_note_ = cudnn_ == nullptr ? own + " (no cuDNN: " + why + ")"
                          : cudnn_only_     ? cudnn_description()
                                            : cudnn_description() + ", " + own + " below";
        return ok_status();
    }

    std::string name() const override {
        return "cuda:" + std::to_string(device_);
    }
    std::string device_description() const override {
        return std::string(props_.name) + ", " + std::to_string(props_.multiProcessorCount) +
               " SMs, compute capability " + std::to_string(props_.major) + "." + std::to_string(props_.minor) +
               ", attention: " + attention_note_;
    }
    DeviceMemoryInfo memory_info() const override {
        size_t free = 0, total = 0;
        cudaSetDevice(device_);
        if (cudaMemGetInfo(&free, &total) != cudaSuccess) cudaGetLastError();
        return {static_cast<int64_t>(total), static_cast<int64_t>(free), allocated_bytes_};
    }
    DType activation_dtype() const override {
        return dtype_;
    }
    bool grows_workspace() const override {
        return false;
    }  // no allocation once forwards run

    StatusOr<DeviceTensor> alloc(DType dtype, int64_t rows, int64_t cols) override {
        BGE_ASSIGN_OR_RETURN(const uint64_t bytes, tensor_bytes(dtype, rows, cols));
        void* p = nullptr;
        cudaSetDevice(device_);
        if (bytes > 0 && cudaMalloc(&p, bytes) != cudaSuccess) {
            cudaGetLastError();  // out of memory is not sticky
            const DeviceMemoryInfo m = memory_info();
            return resource_exhausted(name() + ": allocating " + std::to_string(bytes) +
                                      " bytes of device memory failed (" + std::to_string(m.free_bytes) + " free of " +
                                      std::to_string(m.total_bytes) + ")");
        }
        allocated_bytes_ += static_cast<int64_t>(bytes);
        const int device = device_;
        return DeviceTensor{DeviceMemory(p,
                                         [device](void* q) {
                                             if (q == nullptr) return;
                                             cudaSetDevice(device);
                                             cudaFree(q);
                                         }),
                            Tensor{p, dtype, rows, cols}};
    }
    StatusOr<HostTensor> alloc_host(DType dtype, int64_t rows, int64_t cols) override {
        BGE_ASSIGN_OR_RETURN(const uint64_t bytes, tensor_bytes(dtype, rows, cols));
        void* p = nullptr;
        cudaSetDevice(device_);
        if (bytes > 0 && cudaHostAlloc(&p, bytes, cudaHostAllocDefault) != cudaSuccess) {
            cudaGetLastError();
            return resource_exhausted(name() + ": allocating " + std::to_string(bytes) +
                                      " bytes of page-locked host memory failed");
        }
        return HostTensor{DeviceMemory(p,
                                       [](void* q) {
                                           if (q != nullptr) cudaFreeHost(q);
                                       }),
                          Tensor{p, dtype, rows, cols}};
    }
    void copy_to_device(const void* host, const Tensor& dst) override {
        bind();
        if (dst.bytes() == 0 || failed()) return;
        record(cudaMemcpyAsync(dst.data, host, dst.bytes(), cudaMemcpyHostToDevice, stream_), "copy to device");
    }
    void copy_to_host(const Tensor& src, void* host) override {
        bind();
        if (src.bytes() == 0 || failed()) return;
        record(cudaMemcpyAsync(host, src.data, src.bytes(), cudaMemcpyDeviceToHost, stream_), "copy to host");
        record(cudaStreamSynchronize(stream_), "copy to host");
    }
    StatusOr<DeviceTensor> upload(const float* host, int64_t rows, int64_t cols, DType dtype) override {
        bind();
        BGE_CHECK(dtype == DType::kF32 || dtype == dtype_);
        BGE_ASSIGN_OR_RETURN(DeviceTensor t, alloc(dtype, rows, cols));
        const size_t n = static_cast<size_t>(rows * cols);
        cudaError_t e = cudaSuccess;
        if (dtype == DType::kF32) {
            e = cudaMemcpy(t.view.data, host, t.view.bytes(), cudaMemcpyHostToDevice);
        } else {
            const std::vector<uint16_t> bits = to_half_bits(host, n, dtype);
            e = cudaMemcpy(t.view.data, bits.data(), t.view.bytes(), cudaMemcpyHostToDevice);
        }
        if (e != cudaSuccess) return cuda_status(e, name() + " upload");
        return t;
    }
    Status synchronize() override {
        bind();
        if (!failed()) record(cudaStreamSynchronize(stream_), "synchronize");
        return error_;
    }

    StatusOr<std::unique_ptr<LinearWeight>> make_linear(const float* w, const float* b, int64_t out,
                                                        int64_t in) override {
        auto lw = std::make_unique<cuda::CudaLinearWeight>();
        lw->in_features = in;
        lw->out_features = out;
        BGE_ASSIGN_OR_RETURN(lw->weight, upload(w, out, in, dtype_));
        if (b != nullptr) {
            BGE_ASSIGN_OR_RETURN(lw->bias, upload(b, 1, out, dtype_));
            BGE_ASSIGN_OR_RETURN(lw->bias_f32, upload(b, 1, out, DType::kF32));
        }
        return std::unique_ptr<LinearWeight>(std::move(lw));
    }
    void linear(const Tensor& x, const LinearWeight& w, Activation act, const Tensor& y) override {
        bind();
        const auto* cw = dynamic_cast<const cuda::CudaLinearWeight*>(&w);
        BGE_CHECK(cw != nullptr);  // made by a CUDA backend
        BGE_CHECK(x.dtype == dtype_ && (y.dtype == dtype_ || y.dtype == DType::kF32));
        BGE_CHECK(x.cols == w.in_features && y.cols == w.out_features && x.rows == y.rows);
        if (failed()) return;
        if (Status s = linear_->run(x, *cw, y); !s.ok()) {
            error_ = s;
            return;
        }
        if (act != Activation::kNone) {
            cuda::launch_activation(y.dtype, act == Activation::kGelu ? 1 : 2, y.data, y.rows * y.cols, stream_);
            check_launch("activation");
        }
    }
    void gather_rows(const Tensor& x, const Tensor& rows, const Tensor& out) override {
        bind();
        BGE_CHECK(rows.dtype == DType::kI32 && rows.rows == out.rows && x.cols == out.cols);
        if (failed()) return;
        cuda::launch_gather_rows(x.dtype, x.data, static_cast<const int32_t*>(rows.data), out.dtype, out.data, out.rows,
                                 out.cols, stream_);
        check_launch("gather_rows");
    }
    void embed(const Tensor& ids, const Tensor& position_ids, const Tensor& word, const Tensor& position,
               const Tensor& token_type, const Tensor& gamma, const Tensor& beta, float eps,
               const Tensor& out) override {
        bind();
        BGE_CHECK(word.dtype == dtype_ && gamma.dtype == DType::kF32 && out.dtype == dtype_);
        if (failed()) return;
        cuda::launch_embed(dtype_, static_cast<const int32_t*>(ids.data),
                           static_cast<const int32_t*>(position_ids.data), word.data, position.data, token_type.data,
                           static_cast<const float*>(gamma.data), static_cast<const float*>(beta.data), eps, out.data,
                           out.rows, out.cols, stream_);
        check_launch("embed");
    }
    void add_layer_norm(const Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta,
                        float eps) override {
        bind();
        BGE_CHECK(x.dtype == dtype_ && residual.dtype == dtype_ && gamma.dtype == DType::kF32);
        if (failed()) return;
        cuda::launch_add_layer_norm(dtype_, x.data, residual.data, static_cast<const float*>(gamma.data),
                                    static_cast<const float*>(beta.data), eps, x.rows, x.cols, stream_);
        check_launch("add_layer_norm");
    }
    void attention(const Tensor& qkv, const SeqLayout& layout, int n_heads, const Tensor& out) override {
        bind();
        BGE_CHECK(qkv.dtype == dtype_ && out.dtype == dtype_ && qkv.cols == 3 * out.cols && qkv.rows == out.rows &&
                  layout.cu_seqlens.back() == qkv.rows);  // kernels read tiles past a sequence up to the last row
        if (failed()) return;
        const int n_seqs = static_cast<int>(layout.cu_seqlens.size()) - 1;
        const int hidden = static_cast<int>(out.cols);
        const auto* cu = static_cast<const int32_t*>(layout.cu_seqlens_device.data);
        if (cudnn_attention(qkv, layout, n_heads, out)) return;
        if (!force_generic_ && dtype_ != DType::kF32 && hidden / n_heads == 64) {
            if (sm90_) {
                record(cuda::launch_flash_attention_sm90(dtype_, qkv.data, cu, out.data, n_seqs, layout.max_seqlen,
                                                         static_cast<int>(qkv.rows), n_heads, hidden, stream_),
                       "attention (wgmma)");
                return;
            }
            cuda::launch_flash_attention(dtype_, qkv.data, cu, out.data, n_seqs, layout.max_seqlen, n_heads, hidden,
                                         stream_);
        } else if (!cuda::launch_generic_attention(dtype_, qkv.data, cu, out.data, n_seqs, layout.max_seqlen, n_heads,
                                                   hidden, stream_)) {
            error_ = unimplemented(name() + " attention: head_dim " + std::to_string(hidden / n_heads) +
                                   " is not supported (8, 16, 32, 64)");
            return;
        }
        check_launch("attention");
    }

 private:
    static constexpr int kCudnnMinLength = 256;  // off Hopper, shorter batches run as fast on the own kernel

#ifdef BGE_HAVE_CUDNN
    std::string cudnn_description() const {
        return "cuDNN " + cudnn_->version() + " fused SDPA" +
               (cudnn_only_ ? ""
                : sm90_     ? " for batches of one power-of-two length"
                            : " from " + std::to_string(kCudnnMinLength) + " tokens");
    }
    // Runs the batch through cuDNN where that is the choice; false where the caller runs its own kernel.
    bool cudnn_attention(const Tensor& qkv, const SeqLayout& layout, int n_heads, const Tensor& out) {
        if (cudnn_ == nullptr || dtype_ == DType::kF32 || (out.cols / n_heads) % 8 != 0 || out.cols / n_heads > 128) {
            return false;
        }
        if (!cudnn_only_ && !cuda::CudnnAttention::uniform(layout.cu_seqlens) &&
            (sm90_ || layout.max_seqlen < kCudnnMinLength)) {
            return false;
        }
        StatusOr<bool> ran = cudnn_->run(qkv, layout, n_heads, out);
        if (!ran.ok()) {
            error_ = ran.status();
        } else if (!*ran && cudnn_only_) {
            error_ = unimplemented(name() + " attention: cuDNN has no plan for " +
                                   std::to_string(layout.cu_seqlens.size() - 1) + " sequences of up to " +
                                   std::to_string(layout.max_seqlen) + " tokens");
        } else if (*ran) {
            check_launch("cuDNN attention");
        }
        return !ran.ok() || *ran || cudnn_only_;
    }
#else
    std::string cudnn_description() const {
        return "";
    }
    bool cudnn_attention(const Tensor&, const SeqLayout&, int, const Tensor&) {
        return false;
    }
#endif

    // Makes this backend's GPU current on the calling thread: a serving worker is not the thread that loaded it.
    void bind() const {
        cudaSetDevice(device_);
    }
    bool failed() const {
        return !error_.ok();
    }
    void record(cudaError_t e, const char* what) {
        if (e != cudaSuccess && error_.ok()) error_ = cuda_status(e, name() + " " + what);
    }
    void check_launch(const char* what) {
        record(cudaGetLastError(), what);
    }

    int device_;
    DType dtype_;
    cudaDeviceProp props_{};
    cudaStream_t stream_ = nullptr;
    std::unique_ptr<cuda::LinearRunner> linear_;
    bool force_generic_ = false;
#ifdef BGE_HAVE_CUDNN
    std::unique_ptr<cuda::CudnnAttention> cudnn_;  // null where cuDNN is not used
#else
    std::nullptr_t cudnn_ = nullptr;
#endif
    bool cudnn_only_ = false;
    bool mma_only_ = false;   // BGE_CUDA_ATTENTION=mma
    bool sm90_only_ = false;  // BGE_CUDA_ATTENTION=wgmma
    bool sm90_ = false;       // the own kernel is the Hopper one
    std::string attention_note_;
    int64_t allocated_bytes_ = 0;
    Status error_;  // the first failure; sticks
};

}  // namespace

StatusOr<std::unique_ptr<Backend>> make_cuda_backend(int device, DType dtype) {
    if (dtype != DType::kF32 && dtype != DType::kF16 && dtype != DType::kBF16) {
        return invalid_argument(std::string("cuda backend: dtype ") + dtype_name(dtype) + " is not F32, F16 or BF16");
    }
    auto backend = std::make_unique<CudaBackend>(device, dtype);
    BGE_RETURN_IF_ERROR(backend->init());
    return std::unique_ptr<Backend>(std::move(backend));
}

int cuda_device_count() {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();  // no driver or no GPU: not sticky
        return 0;
    }
    return count;
}

}  // namespace bge
