// The CPU backend: fp32 activations, oneDNN matmuls, OpenMP-parallel ops.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace bge {

// n_threads: OpenMP threads per op; 0 = all cores. One backend serves one thread at a time
// (it owns per-op scratch); tensors it allocates are plain host memory.
std::unique_ptr<Backend> make_cpu_backend(int n_threads);

}  // namespace bge
