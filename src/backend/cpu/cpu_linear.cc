#include "backend/cpu/cpu_linear.h"

#include <omp.h>

#include <algorithm>
#include <functional>

#include "backend/cpu/cpu_activation.h"
#include "backend/cpu/cpu_norm.h"
#include "backend/cpu/cpu_onednn.h"
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

// Element types of the matmul's source, weights and destination for each GEMM type.
dt src_type(GemmType t) {
    return t == GemmType::kF32 ? dt::f32 : t == GemmType::kBF16 ? dt::bf16 : dt::u8;
}
dt weight_type(GemmType t) {
    return t == GemmType::kF32 ? dt::f32 : t == GemmType::kBF16 ? dt::bf16 : dt::s8;
}
dt dst_type(GemmType t) {
    return t == GemmType::kInt8 ? dt::s32 : dt::f32;
}

dnnl::matmul::primitive_desc reference_pd(const dnnl::engine& engine, GemmType type, int64_t out, int64_t in) {
    const dnnl::memory::desc any_weights({in, out}, weight_type(type), tag::any);
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc({{kReferenceRows, in}, src_type(type), tag::ab}, any_weights,
                                                           {{kReferenceRows, out}, dst_type(type), tag::ab}),
                                        engine);
}

// The layout the weights are kept in: the matmul's preference, except that where it prefers the plain row-major
// Wᵀ (oneDNN's gemm:jit, below AVX-512), f32 keeps W's own [out, in] rows: the sgemm then packs Wᵀ transposed,
// 1.75x faster at 128 rows on AVX2 (one core, [128,1024]x[1024,4096]: 34 -> 60 GFLOP/s), equal from 1024 rows.
dnnl::memory::desc weights_layout(const dnnl::matmul::primitive_desc& pd, const dnnl::memory::desc& user_desc) {
    const dnnl::memory::desc preferred = pd.weights_desc();
    const dnnl::memory::desc row_major(preferred.dims(), preferred.data_type(), tag::ab);
    return preferred.data_type() == dt::f32 && preferred == row_major ? user_desc : preferred;
}

dnnl::algorithm eltwise_for(Activation act) {
    return act == Activation::kGelu ? dnnl::algorithm::eltwise_gelu_erf : dnnl::algorithm::eltwise_tanh;
}

}  // namespace

const char* gemm_type_name(GemmType t) {
    return t == GemmType::kF32 ? "f32" : t == GemmType::kBF16 ? "bf16" : "int8";
}

bool gemm_type_supported(const dnnl::engine& engine, GemmType type) {
    try {
        reference_pd(engine, type, 64, 64);
        return true;
    } catch (const dnnl::error&) {
        return false;
    }
}

int32_t s8_max_code() {
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    const bool vnni = isa == dnnl_cpu_isa_avx512_core_vnni || isa == dnnl_cpu_isa_avx512_core_bf16 ||
                      isa == dnnl_cpu_isa_avx512_core_amx || isa == dnnl_cpu_isa_avx2_vnni;
    return vnni ? 127 : 63;
}

std::unique_ptr<CpuLinearWeight> make_cpu_linear(const dnnl::engine& engine, const float* w, const float* b,
                                                 int64_t out, int64_t in, GemmType type, InputNorm norm) {
    BGE_CHECK(w != nullptr && out > 0 && in > 0);
    BGE_CHECK(type != GemmType::kInt8 || in < 66000);
    auto lw = std::make_unique<CpuLinearWeight>();
    lw->in_features = in;
    lw->out_features = out;
    lw->type = type;
    // The weights in the GEMM's element type, still PyTorch's [out, in] row-major.
    std::vector<uint16_t> bf16;
    std::vector<int8_t> s8;
    const void* user_data = w;
    if (type == GemmType::kBF16) {
        bf16.resize(static_cast<size_t>(out * in));
        to_bf16(w, out * in, bf16.data());
        user_data = bf16.data();
    } else if (type == GemmType::kInt8) {
        // The weights and bias quantized: W and b, or a smoothed layer's W' and b'.
        const float* wq = w;
        Smoothing smoothing;
        if (!norm.empty()) {
            smoothing = smooth_linear(w, b, out, in, norm.gamma, norm.beta);
            lw->in_mul = std::move(smoothing.mul);
            lw->in_add = std::move(smoothing.add);
            lw->bias = std::move(smoothing.bias);
            lw->exact = std::move(smoothing.exact);
            lw->exact_weights = std::move(smoothing.exact_weights);
            wq = smoothing.weights.data();
        }
        const int32_t max_code = s8_max_code();
        s8.resize(static_cast<size_t>(out * in));
        lw->scales.resize(out);
        lw->sums.resize(out);
        for (int64_t o = 0; o < out; ++o)
            lw->scales[o] = quantize_row_s8(wq + o * in, in, max_code, &s8[o * in], &lw->sums[o]);
        user_data = s8.data();
    }
    try {
        const auto pd = reference_pd(engine, type, out, in);
        // W [out, in] row-major is Wᵀ [in, out] in column-major order (tag ba).
        const dnnl::memory::desc user_desc({in, out}, weight_type(type), tag::ba);
        dnnl::memory user(user_desc, engine, const_cast<void*>(user_data));
        lw->weights = dnnl::memory(weights_layout(pd, user_desc), engine);
        dnnl::stream stream(engine);
        dnnl::reorder(user, lw->weights).execute(stream, user, lw->weights);
        stream.wait();
        lw->kernel = pd.impl_info_str();
    } catch (const dnnl::error& e) {
        onednn_failed("weight reorder", e.what());
    }
    if (b != nullptr && lw->bias.empty()) lw->bias.assign(b, b + out);  // a smoothed layer has its b' already
    return lw;
}

size_t LinearRunner::KeyHash::operator()(const Key& key) const {
    size_t h = std::hash<int64_t>()(key.m);
    for (int64_t v : {key.k, key.n, static_cast<int64_t>(key.type), static_cast<int64_t>(key.bias),
                      static_cast<int64_t>(key.act), static_cast<int64_t>(key.bf16_dst)}) {
        h = h * 1000003u ^ std::hash<int64_t>()(v);
    }
    return h;
}

LinearRunner::Entry& LinearRunner::entry_for(const Key& key, const dnnl::memory::desc& weights_desc) {
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    if (cache_.size() >= kMaxCachedPrimitives) cache_.clear();
    try {
        dnnl::post_ops ops;
        if (key.act != Activation::kNone) ops.append_eltwise(1.f, eltwise_for(key.act), 0.f, 0.f);
        dnnl::primitive_attr attr;
        attr.set_post_ops(ops);
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);

        const dnnl::memory::desc src_md({key.m, key.k}, src_type(key.type), tag::ab);
        const dnnl::memory::desc dst_md({key.m, key.n}, key.bf16_dst ? dt::bf16 : dst_type(key.type), tag::ab);
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
        onednn_failed("matmul primitive creation", e.what());
    }
}

LinearRunner::Key LinearRunner::key_for(int64_t m, const CpuLinearWeight& w, Activation act, bool bf16_dst) {
    // INT8 sums are dequantized before the bias and the activation, so those run in finish_rows.
    const bool int8 = w.type == GemmType::kInt8;
    return {m,       w.in_features, w.out_features, w.type, !int8 && !w.bias.empty(), int8 ? Activation::kNone : act,
            bf16_dst};
}

void LinearRunner::matmul(const Key& key, const CpuLinearWeight& w, void* src, void* dst) {
    Entry& e = entry_for(key, w.weights.get_desc());
    try {
        e.src.set_data_handle(src);
        e.weights.set_data_handle(w.weights.get_data_handle());
        e.dst.set_data_handle(dst);
        e.scratchpad.set_data_handle(scratchpad_.data());
        if (e.bias) e.bias.set_data_handle(const_cast<float*>(w.bias.data()));
    } catch (const dnnl::error& err) {
        onednn_failed("matmul argument binding", err.what());
    }
    execute_or_die(e.primitive, stream_, e.args, "matmul execution");
}

void* LinearRunner::reserve_source(const CpuLinearWeight& w, int64_t m, Converted& into) {
    const int64_t k = w.in_features;
    if (w.type == GemmType::kBF16) return into.data.reserve(sizeof(uint16_t) * m * k);
    if (into.rows.size() < static_cast<size_t>(m)) into.rows.resize(m);
    return into.data.reserve(static_cast<size_t>(m * k));
}

void LinearRunner::convert_row(const float* x, const CpuLinearWeight& w, int64_t r, void* dst, Converted& into) {
    const int64_t k = w.in_features;
    if (w.type == GemmType::kBF16) {
        to_bf16(x, k, static_cast<uint16_t*>(dst) + r * k);
        return;
    }
    const float* mul = w.in_mul.empty() ? nullptr : w.in_mul.data();
    const float* add = w.in_add.empty() ? nullptr : w.in_add.data();
    into.rows[r] = quantize_row_u8(x, k, kU8MaxCode, static_cast<uint8_t*>(dst) + r * k, mul, add);
}

LinearRunner::Source LinearRunner::prepare_source(const Tensor& x, const CpuLinearWeight& w, Converted& into) {
    if (w.type == GemmType::kF32) return {x.data, nullptr};
    const int64_t k = w.in_features;
    const bool int8 = w.type == GemmType::kInt8;
    if (prepared_.w == &w) {
        const uintptr_t at = reinterpret_cast<uintptr_t>(x.data);
        const uintptr_t row_bytes = sizeof(float) * k;
        if (at >= prepared_.base && (at - prepared_.base) % row_bytes == 0 &&
            static_cast<int64_t>((at - prepared_.base) / row_bytes) + x.rows <= prepared_.rows) {
            const auto first = static_cast<int64_t>((at - prepared_.base) / row_bytes);
            Converted& c = prepared_data_[prepared_.slot];
            const size_t element = int8 ? sizeof(uint8_t) : sizeof(uint16_t);
            return {static_cast<char*>(c.data.data()) + first * k * element, int8 ? c.rows.data() + first : nullptr};
        }
    }
    const auto* xf = static_cast<const float*>(x.data);
    void* dst = reserve_source(w, x.rows, into);
#pragma omp parallel for num_threads(n_threads_) schedule(static)
    for (int64_t r = 0; r < x.rows; ++r) convert_row(xf + r * x.cols, w, r, dst, into);
    return {dst, int8 ? into.rows.data() : nullptr};
}

void LinearRunner::forget_prepared_if_written(const Tensor& t) {
    if (prepared_.w == nullptr) return;
    const uintptr_t begin = reinterpret_cast<uintptr_t>(t.data);
    const uintptr_t prepared_end = prepared_.base + sizeof(float) * prepared_.rows * prepared_.w->in_features;
    if (begin < prepared_end && prepared_.base < begin + t.bytes()) forget_prepared();
}

void LinearRunner::finish_rows(const Tensor& x, const CpuLinearWeight& w, const RowQuant* rows, Activation act,
                               const Tensor& y, bool keep_y, const RowNorm* norm, const CpuLinearWeight* next,
                               Converted* next_source) {
    const int64_t n = y.cols;
    const bool int8 = w.type == GemmType::kInt8;
    BGE_CHECK(keep_y || (int8 && norm == nullptr));
    BGE_CHECK(next == nullptr || next->type != GemmType::kF32);
    auto* out = static_cast<char*>(y.data);  // F32 or S32 [y.rows, n]
    const float* bias = w.bias.empty() ? nullptr : w.bias.data();
    const auto* xf = static_cast<const float*>(x.data);
    void* next_data = next != nullptr ? reserve_source(*next, y.rows, *next_source) : nullptr;
    auto* thread_rows = keep_y ? nullptr : static_cast<float*>(row_buffers_.reserve(sizeof(float) * n * n_threads_));
#pragma omp parallel for num_threads(n_threads_) schedule(static)
    for (int64_t r = 0; r < y.rows; ++r) {
        void* sums = out + r * n * 4;
        float* row = keep_y ? static_cast<float*>(sums) : thread_rows + omp_get_thread_num() * n;
        if (int8) {
            dequantize_row(sums, row, n, rows[r], w.scales.data(), w.sums.data(), bias);
            if (!w.exact.empty()) add_exact_channels(row, n, xf + r * x.cols, w.exact, w.exact_weights.data());
            apply_activation(row, n, act);
        }
        if (norm != nullptr) add_layer_norm_row(row, norm->residual + r * n, norm->gamma, norm->beta, n, norm->eps);
        if (next != nullptr) convert_row(row, *next, r, next_data, *next_source);
    }
}

void LinearRunner::finish_output(const Tensor& x, const CpuLinearWeight& w, const RowQuant* rows, Activation act,
                                 const Tensor& y, Finish finish) {
    forget_prepared_if_written(y);
    const CpuLinearWeight* next = finish.next != nullptr && finish.next->type != GemmType::kF32 ? finish.next : nullptr;
    BGE_CHECK(next == nullptr || next->in_features == y.cols);
    if (w.type != GemmType::kInt8 && finish.norm == nullptr && next == nullptr) return;
    const int slot = prepared_.slot ^ 1;  // not the one this call may have read
    finish_rows(x, w, rows, act, y, true, finish.norm, next, next != nullptr ? &prepared_data_[slot] : nullptr);
    if (next != nullptr) prepared_ = {next, reinterpret_cast<uintptr_t>(y.data), y.rows, slot};
}

void LinearRunner::run(const Tensor& x, const CpuLinearWeight& w, Activation act, const Tensor& y, Finish finish) {
    BGE_CHECK(x.dtype == DType::kF32 && y.dtype == DType::kF32);
    BGE_CHECK(x.cols == w.in_features && y.cols == w.out_features && x.rows == y.rows);
    if (x.rows == 0) return;
    const Source src = prepare_source(x, w, source_);
    matmul(key_for(x.rows, w, act, false), w, src.data, y.data);
    finish_output(x, w, src.rows, act, y, finish);
}

void LinearRunner::run_pair(const Tensor& x, const CpuLinearWeight& first, Activation act,
                            const CpuLinearWeight& second, const Tensor& mid, const Tensor& y, Finish finish) {
    BGE_CHECK(x.dtype == DType::kF32 && mid.dtype == DType::kF32 && y.dtype == DType::kF32);
    BGE_CHECK(x.cols == first.in_features && mid.cols == first.out_features && y.cols == second.out_features);
    BGE_CHECK(second.in_features == first.out_features && x.rows == mid.rows && x.rows == y.rows);
    if (x.rows == 0) return;
    const bool int8_first = first.type == GemmType::kInt8 && second.type != GemmType::kF32;
    const bool bf16_both = first.type == GemmType::kBF16 && second.type == GemmType::kBF16;
    if (!int8_first && !bf16_both) {
        run(x, first, act, mid);
        run(mid, second, Activation::kNone, y, finish);
        return;
    }
    const Source src = prepare_source(x, first, source_);
    forget_prepared_if_written(mid);
    if (int8_first) {
        matmul(key_for(x.rows, first, act, false), first, src.data, mid.data);
        finish_rows(x, first, src.rows, act, mid, !second.exact.empty(), nullptr, &second, &intermediate_);
    } else {
        // Bias and activation fused, h rounded to bf16 by the first GEMM as to_bf16 would (nearest even).
        matmul(key_for(x.rows, first, act, true), first, src.data,
               intermediate_.data.reserve(sizeof(uint16_t) * mid.rows * mid.cols));
    }
    matmul(key_for(x.rows, second, Activation::kNone, false), second, intermediate_.data.data(), y.data);
    finish_output(mid, second, intermediate_.rows.data(), Activation::kNone, y, finish);
}

}  // namespace bge::cpu
