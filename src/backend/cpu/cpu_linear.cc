#include "backend/cpu/cpu_linear.h"

#include <oneapi/dnnl/dnnl_debug.h>

#include <cstdio>
#include <cstdlib>
#include <functional>

#include "core/check.h"

namespace bge::cpu {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

// Row count used to ask oneDNN for its preferred weight layout. The layout depends on the
// weight shape only (checked for M = 1..9000 with oneDNN 2.6), and every per-M primitive
// is created with this exact layout, so a different preference would cost speed, not correctness.
constexpr int64_t kReferenceRows = 512;
// Distinct (shape, M) primitives kept; the cache is cleared when full (oneDNN keeps its own cache).
constexpr size_t kMaxCachedPrimitives = 512;

[[noreturn]] void die(const char* what, const char* detail) {
    std::fprintf(stderr, "bge cpu backend: %s failed: %s\n", what, detail);
    std::abort();
}

}  // namespace

std::unique_ptr<CpuLinearWeight> make_cpu_linear(const dnnl::engine& engine, const float* w, const float* b,
                                                 int64_t out, int64_t in) {
    BGE_CHECK(w != nullptr && out > 0 && in > 0);
    auto lw = std::make_unique<CpuLinearWeight>();
    lw->in_features = in;
    lw->out_features = out;
    try {
        const dnnl::memory::desc any_weights({in, out}, dt::f32, tag::any);
        const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc({{kReferenceRows, in}, dt::f32, tag::ab}, any_weights,
                                                                 {{kReferenceRows, out}, dt::f32, tag::ab}),
                                              engine);
        // W [out, in] row-major is Wᵀ [in, out] in column-major order (tag ba).
        dnnl::memory user({{in, out}, dt::f32, tag::ba}, engine, const_cast<float*>(w));
        lw->weights = dnnl::memory(pd.weights_desc(), engine);
        dnnl::stream stream(engine);
        dnnl::reorder(user, lw->weights).execute(stream, user, lw->weights);
        stream.wait();
    } catch (const dnnl::error& e) {
        die("weight reorder", e.what());
    }
    if (b != nullptr) lw->bias.assign(b, b + out);
    return lw;
}

size_t LinearRunner::KeyHash::operator()(const Key& key) const {
    size_t h = std::hash<int64_t>()(key.m);
    for (int64_t v : {key.k, key.n, static_cast<int64_t>(key.bias), static_cast<int64_t>(key.act)}) {
        h = h * 1000003u ^ std::hash<int64_t>()(v);
    }
    return h;
}

LinearRunner::Entry& LinearRunner::entry_for(const Key& key, const dnnl::memory::desc& weights_desc) {
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    if (cache_.size() >= kMaxCachedPrimitives) cache_.clear();
    try {
        dnnl::post_ops ops;
        if (key.act == Activation::kGelu) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_gelu_erf, 0.f, 0.f);
        if (key.act == Activation::kTanh) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_tanh, 0.f, 0.f);
        dnnl::primitive_attr attr;
        attr.set_post_ops(ops);
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);

        const dnnl::memory::desc src_md({key.m, key.k}, dt::f32, tag::ab);
        const dnnl::memory::desc dst_md({key.m, key.n}, dt::f32, tag::ab);
        const dnnl::memory::desc bias_md({1, key.n}, dt::f32, tag::ab);
        const auto desc = key.bias ? dnnl::matmul::desc(src_md, weights_desc, bias_md, dst_md)
                                   : dnnl::matmul::desc(src_md, weights_desc, dst_md);
        const dnnl::matmul::primitive_desc pd(desc, attr, engine_);

        Entry e;
        e.primitive = dnnl::matmul(pd);
        e.src = dnnl::memory(src_md, engine_, DNNL_MEMORY_NONE);
        e.weights = dnnl::memory(weights_desc, engine_, DNNL_MEMORY_NONE);
        e.dst = dnnl::memory(dst_md, engine_, DNNL_MEMORY_NONE);
        e.scratchpad = dnnl::memory(pd.scratchpad_desc(), engine_, DNNL_MEMORY_NONE);
        e.args = {{DNNL_ARG_SRC, e.src.get()},
                  {DNNL_ARG_WEIGHTS, e.weights.get()},
                  {DNNL_ARG_DST, e.dst.get()},
                  {DNNL_ARG_SCRATCHPAD, e.scratchpad.get()}};
        if (key.bias) {
            e.bias = dnnl::memory(bias_md, engine_, DNNL_MEMORY_NONE);
            e.args.push_back({DNNL_ARG_BIAS, e.bias.get()});
        }
        scratchpad_.reserve(pd.scratchpad_desc().get_size());
        return cache_.emplace(key, std::move(e)).first->second;
    } catch (const dnnl::error& e) {
        die("matmul primitive creation", e.what());
    }
}

void LinearRunner::run(const Tensor& x, const CpuLinearWeight& w, Activation act, const Tensor& y) {
    BGE_CHECK(x.dtype == DType::kF32 && y.dtype == DType::kF32);
    BGE_CHECK(x.cols == w.in_features && y.cols == w.out_features && x.rows == y.rows);
    if (x.rows == 0) return;
    const Key key{x.rows, w.in_features, w.out_features, !w.bias.empty(), act};
    Entry& e = entry_for(key, w.weights.get_desc());
    try {
        e.src.set_data_handle(x.data);
        e.weights.set_data_handle(w.weights.get_data_handle());
        e.dst.set_data_handle(y.data);
        e.scratchpad.set_data_handle(scratchpad_.data());
        if (key.bias) e.bias.set_data_handle(const_cast<float*>(w.bias.data()));
    } catch (const dnnl::error& err) {
        die("matmul argument binding", err.what());
    }
    const dnnl_status_t status =
        dnnl_primitive_execute(e.primitive.get(), stream_.get(), static_cast<int>(e.args.size()), e.args.data());
    if (status != dnnl_success) die("matmul execution", dnnl_status2str(status));
    if (dnnl_stream_wait(stream_.get()) != dnnl_success) die("matmul execution", "stream wait");
}

}  // namespace bge::cpu
