// Loads and stores of F32/F16/BF16 elements through float, shared by the kernels.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace bge::cuda {

__device__ __forceinline__ float to_float(float x) {
    return x;
}
__device__ __forceinline__ float to_float(__half x) {
    return __half2float(x);
}
__device__ __forceinline__ float to_float(__nv_bfloat16 x) {
    return __bfloat162float(x);
}

template <typename T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) {
    return x;
}
template <>
__device__ __forceinline__ __half from_float<__half>(float x) {
    return __float2half_rn(x);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
    return __float2bfloat16_rn(x);
}

// Calls f.template operator()<T>() with T the element type of `dtype` (F32, F16, BF16).
template <typename F>
void dispatch_float(bge::DType dtype, F&& f) {
    switch (dtype) {
        case bge::DType::kF16:
            f.template operator()<__half>();
            break;
        case bge::DType::kBF16:
            f.template operator()<__nv_bfloat16>();
            break;
        default:
            f.template operator()<float>();
            break;
    }
}

}  // namespace bge::cuda
