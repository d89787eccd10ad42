// Exact (erf) GELU and tanh in place, and row gathers with dtype conversion.
#include <algorithm>

#include "backend/cuda/kernels/kernels.h"
#include "backend/cuda/kernels/type_traits.cuh"

namespace bge::cuda {
namespace {

constexpr int kThreads = 256;

// torch.nn.functional.gelu (approximate='none'): x * Φ(x) = 0.5 x (1 + erf(x / √2)).
template <typename T>
__global__ void gelu_kernel(T* x, int64_t n) {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * kThreads) {
        const float v = to_float(x[i]);
        x[i] = from_float<T>(0.5f * v * (1.f + erff(v * 0.70710678118654752f)));
    }
}

template <typename T>
__global__ void tanh_kernel(T* x, int64_t n) {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * kThreads) {
        x[i] = from_float<T>(tanhf(to_float(x[i])));
    }
}

template <typename In, typename Out>
__global__ void gather_rows_kernel(const In* x, const int32_t* rows, Out* out, int64_t cols) {
    const In* src = x + static_cast<int64_t>(rows[blockIdx.x]) * cols;
    Out* dst = out + static_cast<int64_t>(blockIdx.x) * cols;
    for (int64_t c = threadIdx.x; c < cols; c += kThreads) dst[c] = from_float<Out>(to_float(src[c]));
}

}  // namespace

void launch_activation(DType dtype, int activation, void* x, int64_t n, cudaStream_t stream) {
    if (n == 0) return;
    const auto blocks = static_cast<unsigned>(std::min<int64_t>((n + kThreads - 1) / kThreads, 65536));
    dispatch_float(dtype, [&]<typename T>() {
        if (activation == 1) {
            gelu_kernel<T><<<blocks, kThreads, 0, stream>>>(static_cast<T*>(x), n);
        } else {
            tanh_kernel<T><<<blocks, kThreads, 0, stream>>>(static_cast<T*>(x), n);
        }
    });
}

void launch_gather_rows(DType x_dtype, const void* x, const int32_t* rows, DType out_dtype, void* out, int64_t m,
                        int64_t cols, cudaStream_t stream) {
    if (m == 0) return;
    dispatch_float(x_dtype, [&]<typename In>() {
        dispatch_float(out_dtype, [&]<typename Out>() {
            gather_rows_kernel<In, Out><<<static_cast<unsigned>(m), kThreads, 0, stream>>>(
                static_cast<const In*>(x), rows, static_cast<Out*>(out), cols);
        });
    });
}

}  // namespace bge::cuda
