// Linear layers on oneDNN matmul: weights are reordered once into the layout the matmul
// primitive prefers; primitives are created per row count M and cached.
#pragma once

#include <cstdint>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_memory.h"

namespace bge::cpu {

class CpuLinearWeight : public LinearWeight {
 public:
    dnnl::memory weights;     // F32 [in, out] logical (Wᵀ), in the primitive's preferred blocked layout
    std::vector<float> bias;  // F32 [out], empty when the layer has no bias
};

std::unique_ptr<CpuLinearWeight> make_cpu_linear(const dnnl::engine& engine, const float* w, const float* b,
                                                 int64_t out, int64_t in);

// Runs linear layers; owns the primitive cache and the oneDNN scratchpad. Not thread-safe.
class LinearRunner {
 public:
    explicit LinearRunner(const dnnl::engine& engine) : engine_(engine), stream_(engine) {}
    // y [n, out] = act(x [n, in] · Wᵀ + b).
    void run(const Tensor& x, const CpuLinearWeight& w, Activation act, const Tensor& y);

 private:
    struct Key {
        int64_t m, k, n;
        bool bias;
        Activation act;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        size_t operator()(const Key& key) const;
    };
    // A primitive with its argument memories; handles are pointed at the caller's buffers per call.
    struct Entry {
        dnnl::matmul primitive;
        dnnl::memory src, weights, bias, dst, scratchpad;
        std::vector<dnnl_exec_arg_t> args;  // built once; the C API avoids a map per call
    };
    Entry& entry_for(const Key& key, const dnnl::memory::desc& weights_desc);

    dnnl::engine engine_;
    dnnl::stream stream_;
    std::unordered_map<Key, Entry, KeyHash> cache_;
    ScratchBuffer scratchpad_;  // shared by all primitives; grows on a cache miss only
};

}  // namespace bge::cpu
