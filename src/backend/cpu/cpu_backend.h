// The CPU backend: fp32 activations, oneDNN matmuls, OpenMP-parallel ops.
#pragma once

#include <memory>
#include <string>

#include "backend/backend.h"

namespace bge {

// What the encoder's GEMMs compute in; activations stay F32 between ops, LayerNorm, softmax and attention run in
// F32, and the output heads' GEMMs are F32 in every mode.
//   kF32:  every GEMM f32.
//   kBF16: the encoder's GEMMs bf16 with f32 accumulation (AVX512-BF16 or AMX; emulated on plain AVX-512;
//          f32 where oneDNN has no bf16 matmul, i.e. below AVX-512).
//   kInt8: the encoder's GEMMs int8 (u8 activations per token, s8 weights per output channel, VNNI or AMX where
//          present). The maps that read LayerNorm outputs (Q/K/V, FFN up), whose per-channel gains (outliers in
//          trained models) would ruin a per-token scale, are smoothed by the LayerNorm's gamma and beta
//          (make_encoder_linear's InputNorm; cpu_quantize.h, Smoothing).
enum class CpuPrecision { kF32, kBF16, kInt8 };

// n_threads: OpenMP threads per op; 0 = all cores. One backend serves one thread at a time
// (it owns per-op scratch); tensors it allocates are plain host memory.
std::unique_ptr<Backend> make_cpu_backend(int n_threads, CpuPrecision precision = CpuPrecision::kF32);

// The instruction sets the CPU backend runs with, chosen at run time on this machine: oneDNN's
// (which ONEDNN_MAX_CPU_ISA can lower) and the level of our own vectorized loops, e.g.
// "oneDNN avx512_core_bf16, loops x86-64-v4".
std::string cpu_isa_in_use();

}  // namespace bge
