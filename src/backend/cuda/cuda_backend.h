// The CUDA backend: F32, F16 or BF16 activations on one GPU, cuBLASLt GEMMs, own kernels (kernels/).
// This header needs no CUDA headers; only files of backend/cuda include them.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace bge {

// A backend on GPU `device` computing in `dtype` (F32, F16 or BF16). kUnavailable-style errors
// (kFailedPrecondition) when there is no such GPU or the driver does not answer.
// Environment: BGE_CUDA_GENERIC=1 forces the portable attention kernel instead of the tensor-core ones;
// BGE_CUDA_ATTENTION chooses among those and cuDNN (cuda_backend.cc).
StatusOr<std::unique_ptr<Backend>> make_cuda_backend(int device, DType dtype);

// GPUs the driver shows this process (CUDA_VISIBLE_DEVICES applies); 0 without a driver or GPU.
int cuda_device_count();

}  // namespace bge
