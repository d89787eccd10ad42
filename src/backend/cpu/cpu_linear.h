// Linear layers on oneDNN matmul: weights are reordered once into the layout the matmul
// primitive prefers (f32 on gemm:jit: W's own [out, in] rows, faster at few rows); primitives
// are created per row count M and cached.
//
// Three GEMM types (each layer has one):
//   F32:  f32 x, f32 W, bias and activation fused as post-ops.
//   BF16: x rounded to bf16 per call, bf16 W, f32 accumulation and output, bias and activation fused.
//   INT8: x quantized per token to u8 (asymmetric, dynamic), W s8 per output channel (symmetric), exact s32
//         accumulation; our epilogue dequantizes, adds the bias and applies the activation (cpu_activation.h).
//         Integer sums make a row's result independent of the batch it is in, bitwise. A layer made with an
//         InputNorm is smoothed (cpu_quantize.h, Smoothing): its W' is quantized, and the quantization pass maps
//         x to x' on the way.
#pragma once

#include <cstdint>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_memory.h"
#include "backend/cpu/cpu_quantize.h"

namespace bge::cpu {

enum class GemmType { kF32, kBF16, kInt8 };
const char* gemm_type_name(GemmType t);  // "f32", "bf16", "int8"

// Whether oneDNN has a matmul for `type` on this CPU at its effective ISA (bf16 needs AVX-512; f32 and int8
// run everywhere).
bool gemm_type_supported(const dnnl::engine& engine, GemmType type);

// The int8 GEMM's codes: u8 activations in [0, kU8MaxCode], s8 weights in [-s8_max_code(), s8_max_code()]:
// 127 where oneDNN's int8 kernels use VNNI or AMX (exact s32 products), 63 otherwise: without VNNI they add u8·s8
// pairs in s16 (vpmaddubsw), which 255 · 127 · 2 overflows and 255 · 63 · 2 does not. The bit goes from the
// weights, whose scales are per output channel, rather than from the activations, whose per-token scale spans
// every channel (bench/cpu_peer_bench.py's realistic model at AVX2, every map int8: dense cos 0.99975 against
// 0.99849 with 7-bit activations and 8-bit weights).
inline constexpr int32_t kU8MaxCode = 255;
int32_t s8_max_code();

class CpuLinearWeight : public LinearWeight {
 public:
    GemmType type = GemmType::kF32;
    dnnl::memory weights;     // [in, out] logical (Wᵀ) in `type`'s element type, in the layout make_cpu_linear chose
    std::vector<float> bias;  // F32 [out], empty when the layer has no bias
    std::vector<float> scales;  // INT8: F32 [out], W[o, :] ~ scales[o] * q[o, :]
    std::vector<int32_t> sums;  // INT8: [out] Σ_k q[o, k]
    // INT8 smoothed (else empty): x'[k] = x[k] * in_mul[k] + in_add[k], [in] each, and the exact channels.
    std::vector<float> in_mul, in_add;
    std::vector<int32_t> exact;        // channels added in F32 by the epilogue
    std::vector<float> exact_weights;  // [exact.size(), out]
    std::string kernel;                // oneDNN's implementation name for this shape, e.g. "brg:avx512_core_vnni"
};

// `type` must be supported (gemm_type_supported); INT8 needs in < 66000 (exact s32 sums). `norm` (empty or [in]
// each) smooths an INT8 layer; other types ignore it.
std::unique_ptr<CpuLinearWeight> make_cpu_linear(const dnnl::engine& engine, const float* w, const float* b,
                                                 int64_t out, int64_t in, GemmType type, InputNorm norm = {});

// The residual add and LayerNorm that finish a map's output rows: Backend's AddNorm on F32 host data.
struct RowNorm {
    const float* residual = nullptr;  // [n, out]
    const float* gamma = nullptr;     // [out]
    const float* beta = nullptr;      // [out]
    float eps = 0.f;
};

// What run() and run_pair() do to their output y after the GEMMs, row by row while it is in cache: y =
// LayerNorm(y + residual) where `norm` is set; with `next` (a BF16 or INT8 map reading y; an F32 one is ignored)
// each finished row is also converted into next's GEMM input, which the calls that read rows of y with next then
// use instead of converting y again, until forget_prepared().
struct Finish {
    const RowNorm* norm = nullptr;
    const CpuLinearWeight* next = nullptr;
};

// Runs linear layers; owns the primitive cache, the oneDNN scratchpad and the converted inputs. Not thread-safe.
class LinearRunner {
 public:
    LinearRunner(const dnnl::engine& engine, int n_threads) : engine_(engine), stream_(engine), n_threads_(n_threads) {}
    // y [n, out] = act(x [n, in] · Wᵀ + b), then `finish`; x and y F32.
    void run(const Tensor& x, const CpuLinearWeight& w, Activation act, const Tensor& y, Finish finish = {});
    // y [n, out₂] = h · W₂ᵀ + b₂ with h = act(x [n, in₁] · W₁ᵀ + b₁) [n, out₁], then `finish`: run() twice (mid F32
    // [n, out₁] is scratch), except that h reaches the second GEMM in the form it reads without another pass over
    // memory: after an INT8 first map each row of h is dequantized, activated and quantized for the second while it
    // is in cache (mid then holds the s32 sums, not h); BF16 -> BF16 has the first GEMM write h in bf16. Same
    // results as run() twice.
    void run_pair(const Tensor& x, const CpuLinearWeight& first, Activation act, const CpuLinearWeight& second,
                  const Tensor& mid, const Tensor& y, Finish finish = {});
    // Drops the input a Finish::next prepared. Call it before anything but run()/run_pair() writes memory: a
    // prepared input is reused while its F32 rows are taken to be unchanged (the CPU backend calls this from every
    // other op).
    void forget_prepared() { prepared_ = {}; }

 private:
    struct Key {
        int64_t m, k, n;
        GemmType type;
        bool bias;       // fused into the matmul (not INT8's: its epilogue adds it)
        Activation act;  // fused into the matmul (kNone for INT8)
        bool bf16_dst;   // BF16: the matmul writes bf16 instead of F32
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
    // A GEMM input converted from F32: BF16 or U8 [m, k], and for U8 each row's quantization.
    struct Converted {
        ScratchBuffer data;
        std::vector<RowQuant> rows;
    };
    // A matmul's source: x itself (F32) or its conversion, with each row's quantization for U8 (else null).
    struct Source {
        void* data;
        const RowQuant* rows;
    };
    // What a Finish::next left: w's GEMM input for rows [0, rows) of the F32 tensor at `base`, in prepared_data_[slot].
    struct Prepared {
        const CpuLinearWeight* w = nullptr;
        uintptr_t base = 0;
        int64_t rows = 0;
        int slot = 0;
    };
    static Key key_for(int64_t m, const CpuLinearWeight& w, Activation act, bool bf16_dst);
    Entry& entry_for(const Key& key, const dnnl::memory::desc& weights_desc);
    void matmul(const Key& key, const CpuLinearWeight& w, void* src, void* dst);
    // w's GEMM input (BF16 or U8 [m, w.in_features]) in `into`, and for U8 room for each row's quantization.
    static void* reserve_source(const CpuLinearWeight& w, int64_t m, Converted& into);
    // Row r of w's GEMM input from x [w.in_features] F32, into dst = reserve_source(w, ...) (BF16, INT8).
    static void convert_row(const float* x, const CpuLinearWeight& w, int64_t r, void* dst, Converted& into);
    // The matmul's source for x: x itself (F32), the prepared input where it covers x's rows for w, or x converted
    // into `into` (BF16, INT8).
    Source prepare_source(const Tensor& x, const CpuLinearWeight& w, Converted& into);
    // Drops the prepared input if t's memory overlaps its F32 rows (t is being written).
    void forget_prepared_if_written(const Tensor& t);
    // Row by row, in place on y: INT8's s32 sums become act(dequantized + bias + exact channels of x) with `rows`
    // x's quantization (other types leave the GEMM finished); then y = LayerNorm(y + residual) where `norm` is set;
    // with `next` each row is also converted into *next_source as next's GEMM reads it. keep_y false (INT8 with
    // `next`, no norm): y's F32 rows are not wanted, each is made in the thread's own buffer and y is only read.
    void finish_rows(const Tensor& x, const CpuLinearWeight& w, const RowQuant* rows, Activation act, const Tensor& y,
                     bool keep_y, const RowNorm* norm, const CpuLinearWeight* next, Converted* next_source);
    // finish_rows for a call's output y, with `finish` (the prepared input it leaves recorded in prepared_).
    void finish_output(const Tensor& x, const CpuLinearWeight& w, const RowQuant* rows, Activation act,
                       const Tensor& y, Finish finish);

    dnnl::engine engine_;
    dnnl::stream stream_;
    int n_threads_;
    std::unordered_map<Key, Entry, KeyHash> cache_;
    ScratchBuffer scratchpad_;  // shared by all primitives; grows on a cache miss only
    Converted source_;          // the input of run() or of run_pair's first map
    Converted intermediate_;    // run_pair's h as its second map reads it
    ScratchBuffer row_buffers_;  // F32 [n_threads, out]: finish_rows' rows when only the next map's input is kept
    // Inputs left by Finish::next; two, so that a call reading one (its source) writes the other.
    Converted prepared_data_[2];
    Prepared prepared_;
};

}  // namespace bge::cpu
