// Helpers of the CUDA tests: a CUDA backend or a clean skip, and device tensors read back as F32.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/cuda_backend.h"
#include "backend_test_util.h"

namespace bge::test {

// A CUDA backend on GPU 0, or null when this machine has none (the test then skips).
inline std::unique_ptr<Backend> cuda_backend_or_null(DType dtype) {
    auto backend = make_cuda_backend(0, dtype);
    return backend.ok() ? std::move(backend).value() : nullptr;
}

#define BGE_CUDA_BACKEND_OR_SKIP(var, dtype)             \
    auto var = ::bge::test::cuda_backend_or_null(dtype); \
    if (!var) GTEST_SKIP() << "no CUDA device: " << make_cuda_backend(0, dtype).status().to_string()

// Any float tensor (F32, F16, BF16) of `backend` as F32 host values.
inline std::vector<float> to_host_f32(Backend& backend, const Tensor& t) {
    const size_t n = static_cast<size_t>(t.rows * t.cols);
    std::vector<float> out(n);
    if (t.dtype == DType::kF32) {
        backend.copy_to_host(t, out.data());
    } else {
        std::vector<uint16_t> bits(n);
        backend.copy_to_host(t, bits.data());
        convert_to_f32(t.dtype, bits.data(), n, out.data());
    }
    return out;
}

// ‖got − want‖ / ‖want‖; infinity when a value is not finite.
inline double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
    double diff = 0, norm = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        if (!std::isfinite(got[i])) return INFINITY;
        diff += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
        norm += static_cast<double>(want[i]) * want[i];
    }
    return std::sqrt(diff / norm);
}

// Relative-error bound of an op whose inputs are rounded to `dtype` (F32: float rounding only).
inline double op_tolerance(DType dtype) {
    switch (dtype) {
        case DType::kF16:
            return 3e-3;
        case DType::kBF16:
            return 2e-2;
        default:
            return 1e-5;
    }
}

}  // namespace bge::test
