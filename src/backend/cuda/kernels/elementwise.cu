// Exact (erf) GELU and tanh in place, and row gathers with dtype conversion.
#include <algorithm>
#include <cstdint>

#include "backend/cuda/kernels/kernels.h"
#include "backend/cuda/kernels/type_traits.cuh"

namespace bge::cuda {
namespace {

constexpr int kThreads = 256;

// torch.nn.functional.gelu (approximate='none'): x · Φ(x), Φ(x) = 1 − q for x ≥ 0 and q for x < 0, where
// q = ½ erfc(|x| / √2) = 2^−(1 + t · P(t)), t = min(|x|, 6), and P is a degree-8 least-squares fit of
// −log2(erfc(t / √2)) / t on [0, 6]. Error against exact arithmetic: at most 4e-7 absolute over [−8, 8] (the float
// rounding of the result), 6e-6 relative for |x| < 5 — as accurate as 0.5 x (1 + erff(x / √2)), which loses its
// relative accuracy below x = −3 by cancellation, in half its instructions and without branches.
struct Gelu {
    __device__ float operator()(float v) const {
        const float t = fminf(fabsf(v), 6.f);
        float p = -9.747053202e-08f;
        p = fmaf(p, t, 2.595914279e-06f);
        p = fmaf(p, t, -2.685808583e-05f);
        p = fmaf(p, t, 1.085575420e-04f);
        p = fmaf(p, t, 3.463233948e-04f);
        p = fmaf(p, t, -7.340067622e-03f);
        p = fmaf(p, t, 5.266451703e-02f);
        p = fmaf(p, t, 4.591721019e-01f);
        p = fmaf(p, t, 1.151105941e+00f);
        const float q = exp2f(-fmaf(t, p, 1.f));
        return v * (v >= 0.f ? 1.f - q : q);
    }
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
