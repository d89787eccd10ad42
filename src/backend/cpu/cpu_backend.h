// The CPU backend: fp32 activations, oneDNN matmuls, OpenMP-parallel ops.
#pragma once

#include <memory>
#include <string>

#include "backend/backend.h"

namespace bge {

// n_threads: OpenMP threads per op; 0 = all cores. One backend serves one thread at a time
// (it owns per-op scratch); tensors it allocates are plain host memory.
std::unique_ptr<Backend> make_cpu_backend(int n_threads);

// The instruction sets the CPU backend runs with, chosen at run time on this machine: oneDNN's
// (which ONEDNN_MAX_CPU_ISA can lower) and the level of our own vectorized loops, e.g.
// "oneDNN avx512_core_bf16, loops x86-64-v4".
std::string cpu_isa_in_use();

}  // namespace bge
