// Attention's two GEMMs in bf16 on oneDNN matmul (AMX or AVX512-BF16 kernels where the CPU has them), for one
// thread: primitives are made single-threaded, on first use of each shape, and cached.
#pragma once

#include <cstdint>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/cpu/cpu_memory.h"

namespace bge::cpu {

// The oneDNN implementation of attention's bf16 score GEMM on this CPU ("brg:avx512_core_amx_bf16"); empty where
// oneDNN has no native bf16 matmul (brgemm) here: none, an emulation or its reference kernel, none faster than f32.
std::string bf16_attention_kernel(const dnnl::engine& engine);

// Not thread-safe: one per thread. Every matrix is dense row-major; BF16 ones are bit patterns (uint16_t).
class Bf16AttentionGemms {
 public:
    explicit Bf16AttentionGemms(const dnnl::engine& engine) : engine_(engine), stream_(engine) {}
    // s F32 [rows, cols] = scale · q [rows, d] · kᵀ, with k [cols, d]; q and k BF16.
    void scores(const uint16_t* q, const uint16_t* k, int64_t rows, int64_t cols, int64_t d, float scale, float* s);
    // o F32 [rows, d] = p [rows, cols] · v [cols, d], plus o's own values when `accumulate`; p and v BF16.
    void weighted_sum(const uint16_t* p, const uint16_t* v, int64_t rows, int64_t cols, int64_t d, bool accumulate,
                      float* o);

 private:
    enum class Kind { kScores, kWeightedSum, kWeightedSumAccumulate };
    struct Key {
        Kind kind;
        int64_t rows, cols, d;
        float scale;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        size_t operator()(const Key& key) const;
    };
    struct Entry {
        dnnl::matmul primitive;
        dnnl::memory a, b, c, scratchpad;
        std::vector<dnnl_exec_arg_t> args;
    };
    Entry& entry_for(const Key& key);
    void execute(const Key& key, const void* a, const void* b, void* c);

    dnnl::engine engine_;
    dnnl::stream stream_;
    std::unordered_map<Key, Entry, KeyHash> cache_;
    ScratchBuffer scratchpad_;
};

}  // namespace bge::cpu
