// Exact (erf) GELU and tanh in place, and row gathers with dtype conversion.
#include <algorithm>
#include <cstdint>

#include "backend/cuda/kernels/kernels.h"
#include "backend/cuda/kernels/type_traits.cuh"

namespace bge::cuda {
namespace {

constexpr int kThreads = 256;

// torch.nn.functional.gelu (approximate='none'): x * Φ(x) = 0.5 x (1 + erf(x / √2)).
struct Gelu {
    __device__ float operator()(float v) const { return 0.5f * v * (1.f + erff(v * 0.70710678118654752f)); }
};
struct Tanh {
    __device__ float operator()(float v) const { return tanhf(v); }
};

// x [n] = f(x) in place, 16 bytes per thread and step (the loads that reach the memory bandwidth); the n % kVec
// elements past the last full vector (all of them where x is not 16-byte aligned) one by one.
template <typename T, typename F>
__global__ void activation_kernel(T* x, int64_t n, bool aligned, F f) {
    constexpr int kVec = 16 / sizeof(T);
    const int64_t n_vec = aligned ? n / kVec : 0;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
    auto* v = reinterpret_cast<uint4*>(x);
    for (int64_t i = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; i < n_vec; i += stride) {
        uint4 bits = v[i];
        T* e = reinterpret_cast<T*>(&bits);
#pragma unroll
        for (int k = 0; k < kVec; ++k) e[k] = from_float<T>(f(to_float(e[k])));
        v[i] = bits;
    }
    for (int64_t i = n_vec * kVec + blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; i < n; i += stride) {
        x[i] = from_float<T>(f(to_float(x[i])));
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
    const bool aligned = reinterpret_cast<uintptr_t>(x) % 16 == 0;
    dispatch_float(dtype, [&]<typename T>() {
        constexpr int kVec = 16 / sizeof(T);
        const int64_t threads = std::max<int64_t>((n + kVec - 1) / kVec, 1);
        const auto blocks = static_cast<unsigned>(std::min<int64_t>((threads + kThreads - 1) / kThreads, 8 * 1024));
        if (activation == 1) {
            activation_kernel<<<blocks, kThreads, 0, stream>>>(static_cast<T*>(x), n, aligned, Gelu{});
        } else {
            activation_kernel<<<blocks, kThreads, 0, stream>>>(static_cast<T*>(x), n, aligned, Tanh{});
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
