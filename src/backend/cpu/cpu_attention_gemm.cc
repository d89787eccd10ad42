#include "backend/cpu/cpu_attention_gemm.h"

#include <cstring>
#include <functional>

#include "backend/cpu/cpu_onednn.h"

namespace bge::cpu {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

// Shapes kept per thread (a query block and a key chunk each; the cache is cleared when full, oneDNN keeps its own).
constexpr size_t kMaxCachedPrimitives = 256;

// The matmul descriptors of one GEMM: scores a = q [rows, d], b = kᵀ [d, cols] (k's rows, read transposed), c F32
// [rows, cols]; weighted sums a = p [rows, cols], b = v [cols, d], c F32 [rows, d].
struct Descs {
    dnnl::memory::desc a, b, c;
};
Descs descs(bool scores, int64_t rows, int64_t cols, int64_t d) {
    if (scores) return {{{rows, d}, dt::bf16, tag::ab}, {{d, cols}, dt::bf16, tag::ba}, {{rows, cols}, dt::f32, tag::ab}};
    return {{{rows, cols}, dt::bf16, tag::ab}, {{cols, d}, dt::bf16, tag::ab}, {{rows, d}, dt::f32, tag::ab}};
}

}  // namespace

std::string bf16_attention_kernel(const dnnl::engine& engine) {
    try {
        const Descs d = descs(true, 128, 128, 64);
        const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(d.a, d.b, d.c), engine);
        const std::string impl = pd.impl_info_str();
        // brgemm is oneDNN's bf16 matmul on CPUs with bf16 instructions; elsewhere it emulates bf16 (gemm:jit on plain
        // AVX-512) or runs its reference kernel, neither faster than the f32 sgemm.
        return impl.rfind("brg:", 0) == 0 ? impl : std::string();
    } catch (const dnnl::error&) {
        return {};
    }
}

size_t Bf16AttentionGemms::KeyHash::operator()(const Key& key) const {
    size_t h = std::hash<int64_t>()(static_cast<int64_t>(key.kind));
    uint32_t scale_bits;
    std::memcpy(&scale_bits, &key.scale, sizeof scale_bits);
    for (int64_t v : {key.rows, key.cols, key.d, static_cast<int64_t>(scale_bits)}) {
        h = h * 1000003u ^ std::hash<int64_t>()(v);
    }
    return h;
}

Bf16AttentionGemms::Entry& Bf16AttentionGemms::entry_for(const Key& key) {
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    if (cache_.size() >= kMaxCachedPrimitives) cache_.clear();
    try {
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        if (key.kind == Kind::kScores) attr.set_output_scales(0, {key.scale});
        if (key.kind == Kind::kWeightedSumAccumulate) {
            dnnl::post_ops ops;
            ops.append_sum(1.f);
            attr.set_post_ops(ops);
        }
        const Descs d = descs(key.kind == Kind::kScores, key.rows, key.cols, key.d);
        const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(d.a, d.b, d.c), attr, engine_);
        Entry e;
        e.primitive = dnnl::matmul(pd);
        e.a = dnnl::memory(d.a, engine_, DNNL_MEMORY_NONE);
        e.b = dnnl::memory(d.b, engine_, DNNL_MEMORY_NONE);
        e.c = dnnl::memory(d.c, engine_, DNNL_MEMORY_NONE);
        e.scratchpad = dnnl::memory(pd.scratchpad_desc(), engine_, DNNL_MEMORY_NONE);
        e.args = {{DNNL_ARG_SRC, e.a.get()},
                  {DNNL_ARG_WEIGHTS, e.b.get()},
                  {DNNL_ARG_DST, e.c.get()},
                  {DNNL_ARG_SCRATCHPAD, e.scratchpad.get()}};
        scratchpad_.reserve(pd.scratchpad_desc().get_size());
        return cache_.emplace(key, std::move(e)).first->second;
    } catch (const dnnl::error& e) {
        onednn_failed("attention matmul primitive creation", e.what());
    }
}

void Bf16AttentionGemms::execute(const Key& key, const void* a, const void* b, void* c) {
    Entry& e = entry_for(key);
    try {
        e.a.set_data_handle(const_cast<void*>(a));
        e.b.set_data_handle(const_cast<void*>(b));
        e.c.set_data_handle(c);
        e.scratchpad.set_data_handle(scratchpad_.data());
    } catch (const dnnl::error& err) {
        onednn_failed("attention matmul argument binding", err.what());
    }
    execute_or_die(e.primitive, stream_, e.args, "attention matmul execution");
}

void Bf16AttentionGemms::scores(const uint16_t* q, const uint16_t* k, int64_t rows, int64_t cols, int64_t d,
                                float scale, float* s) {
    execute({Kind::kScores, rows, cols, d, scale}, q, k, s);
}

void Bf16AttentionGemms::weighted_sum(const uint16_t* p, const uint16_t* v, int64_t rows, int64_t cols, int64_t d,
                                      bool accumulate, float* o) {
    execute({accumulate ? Kind::kWeightedSumAccumulate : Kind::kWeightedSum, rows, cols, d, 1.f}, p, v, o);
}

}  // namespace bge::cpu
