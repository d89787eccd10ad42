// Every CUDA op against the CPU backend on the same random inputs, in F32, F16 and BF16 (label "cuda";
// skipped without a GPU). Bounds are relative errors ‖cuda − cpu‖ / ‖cpu‖ (cuda_test_util.h): F32 1e-5,
// F16 3e-3, BF16 2e-2, where a wrong index or a missed tile gives errors of order 1. Outputs are poisoned
// first so that an unwritten element fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "cuda_test_util.h"

namespace bge {
namespace {

class CudaOps : public ::testing::TestWithParam<DType> {
 protected:
    void SetUp() override { cpu_ = make_cpu_backend(2); }
    // A device tensor of `dtype` [rows, cols] filled with NaN.
    DeviceTensor poisoned(Backend& cuda, DType dtype, int64_t rows, int64_t cols) {
        const std::vector<float> nan(static_cast<size_t>(rows * cols), std::numeric_limits<float>::quiet_NaN());
        return test::ok_value(cuda.upload(nan.data(), rows, cols, dtype));
    }
    // `host` rounded to `dtype` and back (what the GPU computes on).
    static std::vector<float> rounded(const std::vector<float>& host, DType dtype, Backend& cuda) {
        DeviceTensor t = test::ok_value(cuda.upload(host.data(), 1, static_cast<int64_t>(host.size()), dtype));
        return test::to_host_f32(cuda, t.view);
    }
    std::unique_ptr<Backend> cpu_;
};

TEST_P(CudaOps, LinearMatchesCpu) {
    const DType dtype = GetParam();
    BGE_CUDA_BACKEND_OR_SKIP(cuda, dtype);
    struct Case {
        int64_t n, in, out;
        bool bias;
        Activation act;
        bool f32_out;
    };
    for (const Case& c :
         {Case{7, 64, 96, true, Activation::kNone, false}, Case{130, 256, 1024, true, Activation::kGelu, false},
          Case{33, 128, 128, true, Activation::kTanh, false}, Case{1, 64, 1, true, Activation::kNone, true},
          Case{300, 256, 128, true, Activation::kNone, true}, Case{5, 32, 48, false, Activation::kNone, false},
          Case{5, 64, 33, true, Activation::kGelu, false}}) {
        SCOPED_TRACE(testing::Message() << "n=" << c.n << " in=" << c.in << " out=" << c.out
                                        << " act=" << static_cast<int>(c.act) << " f32_out=" << c.f32_out);
        const auto w = rounded(test::random_floats(c.out * c.in, 1, -0.1f, 0.1f), dtype, *cuda);
        const auto b = rounded(test::random_floats(c.out, 2), dtype, *cuda);
        const auto x = rounded(test::random_floats(c.n * c.in, 3), dtype, *cuda);
        auto cpu_w = test::ok_value(cpu_->make_linear(w.data(), c.bias ? b.data() : nullptr, c.out, c.in));
        auto cuda_w = test::ok_value(cuda->make_linear(w.data(), c.bias ? b.data() : nullptr, c.out, c.in));
        DeviceTensor cx = test::ok_value(cpu_->upload(x.data(), c.n, c.in, DType::kF32));
        DeviceTensor cy = test::ok_value(cpu_->alloc(DType::kF32, c.n, c.out));
        cpu_->linear(cx.view, *cpu_w, c.act, cy.view);
        DeviceTensor gx = test::ok_value(cuda->upload(x.data(), c.n, c.in, dtype));
        DeviceTensor gy = poisoned(*cuda, c.f32_out ? DType::kF32 : dtype, c.n, c.out);
        cuda->linear(gx.view, *cuda_w, c.act, gy.view);
        const auto got = test::to_host_f32(*cuda, gy.view);
        ASSERT_TRUE(cuda->synchronize().ok()) << cuda->synchronize().to_string();
        EXPECT_LT(test::relative_error(got, test::to_host(*cpu_, cy.view)), test::op_tolerance(dtype));
    }
}

TEST_P(CudaOps, EmbedAndAddLayerNormMatchCpu) {
    const DType dtype = GetParam();
    BGE_CUDA_BACKEND_OR_SKIP(cuda, dtype);
    for (const int64_t hidden : {32, 768, 1024}) {
        SCOPED_TRACE(testing::Message() << "hidden=" << hidden);
        const int64_t vocab = 300, max_pos = 80, n = 77;
        const auto word = rounded(test::random_floats(vocab * hidden, 1), dtype, *cuda);
        const auto position = rounded(test::random_floats(max_pos * hidden, 2), dtype, *cuda);
        const auto token_type = rounded(test::random_floats(hidden, 3), dtype, *cuda);
        const auto gamma = test::random_floats(hidden, 4, 0.5f, 1.5f);
        const auto beta = test::random_floats(hidden, 5);
        std::vector<int32_t> ids(n), pos(n);
        for (int64_t i = 0; i < n; ++i) {
            ids[i] = static_cast<int32_t>((i * 37 + 11) % vocab);
            pos[i] = static_cast<int32_t>(2 + i % (max_pos - 2));
        }
        std::vector<float> want, got;
        for (Backend* b : {cpu_.get(), cuda.get()}) {
            const DType t = b == cpu_.get() ? DType::kF32 : dtype;
            DeviceTensor ids_d = test::ok_value(b->alloc(DType::kI32, n, 1));
            DeviceTensor pos_d = test::ok_value(b->alloc(DType::kI32, n, 1));
            b->copy_to_device(ids.data(), ids_d.view);
            b->copy_to_device(pos.data(), pos_d.view);
            DeviceTensor w = test::ok_value(b->upload(word.data(), vocab, hidden, t));
            DeviceTensor p = test::ok_value(b->upload(position.data(), max_pos, hidden, t));
            DeviceTensor tt = test::ok_value(b->upload(token_type.data(), 1, hidden, t));
            DeviceTensor g = test::ok_value(b->upload(gamma.data(), 1, hidden, DType::kF32));
            DeviceTensor be = test::ok_value(b->upload(beta.data(), 1, hidden, DType::kF32));
            DeviceTensor out =
                b == cpu_.get() ? test::ok_value(b->alloc(DType::kF32, n, hidden)) : poisoned(*cuda, t, n, hidden);
            b->embed(ids_d.view, pos_d.view, w.view, p.view, tt.view, g.view, be.view, 1e-5f, out.view);
            // Then x = LN(x + word rows 0..n-1) as the residual.
            b->add_layer_norm(out.view, w.view.row_slice(0, n), g.view, be.view, 1e-5f);
            (b == cpu_.get() ? want : got) = test::to_host_f32(*b, out.view);
        }
        ASSERT_TRUE(cuda->synchronize().ok());
        EXPECT_LT(test::relative_error(got, want), test::op_tolerance(dtype));
    }
}

// GELU against x·Φ(x) in double on a grid over [−8, 8] (F32 only: the identity map passes x through exactly):
// within 1e-6 absolute everywhere and 2e-5 relative where |x| < 5, so a wrong coefficient or branch shows.
TEST(CudaGelu, IsExactToFloatRounding) {
    BGE_CUDA_BACKEND_OR_SKIP(cuda, DType::kF32);
    constexpr int64_t kCols = 64, kRows = 1000;
    std::vector<float> eye(kCols * kCols, 0.f), x(kRows * kCols);
    for (int64_t i = 0; i < kCols; ++i) eye[i * kCols + i] = 1.f;
    for (size_t i = 0; i < x.size(); ++i) x[i] = -8.f + 16.f * static_cast<float>(i) / static_cast<float>(x.size());
    auto w = test::ok_value(cuda->make_linear(eye.data(), nullptr, kCols, kCols));
    DeviceTensor xd = test::ok_value(cuda->upload(x.data(), kRows, kCols, DType::kF32));
    DeviceTensor y = test::ok_value(cuda->alloc(DType::kF32, kRows, kCols));
    cuda->linear(xd.view, *w, Activation::kGelu, y.view);
    const auto got = test::to_host_f32(*cuda, y.view);
    ASSERT_TRUE(cuda->synchronize().ok());
    for (size_t i = 0; i < x.size(); ++i) {
        const double v = x[i], want = 0.5 * v * std::erfc(-v / std::sqrt(2.0));
        ASSERT_NEAR(got[i], want, 1e-6) << "x=" << v;
        if (std::abs(v) < 5) {
            ASSERT_NEAR(got[i], want, 2e-5 * std::abs(want) + 1e-30) << "x=" << v;
        }
    }
}

TEST_P(CudaOps, GatherRowsConverts) {
    const DType dtype = GetParam();
    BGE_CUDA_BACKEND_OR_SKIP(cuda, dtype);
    const auto x = rounded(test::random_floats(20 * 40, 9), dtype, *cuda);
    DeviceTensor xd = test::ok_value(cuda->upload(x.data(), 20, 40, dtype));
    const std::vector<int32_t> rows = {19, 0, 7, 7};
    DeviceTensor rd = test::ok_value(cuda->alloc(DType::kI32, 4, 1));
    cuda->copy_to_device(rows.data(), rd.view);
    DeviceTensor out = poisoned(*cuda, DType::kF32, 4, 40);
    cuda->gather_rows(xd.view, rd.view, out.view);
    const auto got = test::to_host_f32(*cuda, out.view);
    ASSERT_TRUE(cuda->synchronize().ok());
    for (size_t i = 0; i < rows.size(); ++i) {
        for (int c = 0; c < 40; ++c) ASSERT_EQ(got[i * 40 + c], x[rows[i] * 40 + c]) << "row " << i;
    }
}

// Q, K, V rounded to the dtype; the CPU computes on the same values.
struct AttentionCase {
    std::vector<int32_t> cu_seqlens;
    std::vector<float> qkv;  // [n_tokens, 3 * hidden]
};

AttentionCase attention_case(const std::vector<int32_t>& lengths, int64_t hidden, uint32_t seed) {
    AttentionCase c{{0}, {}};
    for (int32_t len : lengths) c.cu_seqlens.push_back(c.cu_seqlens.back() + len);
    c.qkv = test::random_floats(static_cast<size_t>(c.cu_seqlens.back()) * 3 * hidden, seed, -2.f, 2.f);
    return c;
}

std::vector<float> run_attention(Backend& b, DType t, const AttentionCase& c, int64_t hidden, int n_heads) {
    const int64_t n = c.cu_seqlens.back();
    DeviceTensor qkv = test::ok_value(b.upload(c.qkv.data(), n, 3 * hidden, t));
    const std::vector<float> nan(static_cast<size_t>(n * hidden), std::numeric_limits<float>::quiet_NaN());
    DeviceTensor out = test::ok_value(b.upload(nan.data(), n, hidden, t));
    const test::DeviceLayout layout = test::device_layout(b, c.cu_seqlens);
    b.attention(qkv.view, layout.layout, n_heads, out.view);
    return test::to_host_f32(b, out.view);
}

// A CUDA backend whose attention runs as BGE_CUDA_ATTENTION=`mode` says; null without a GPU, and for "cudnn"
// without a usable cuDNN or "wgmma" off Hopper, unless BGE_EXPECT_CUDNN=1 or BGE_EXPECT_WGMMA=1
// (scripts/test-gpu), where that fails the test.
std::unique_ptr<Backend> backend_with_attention(DType dtype, const char* mode) {
    setenv("BGE_CUDA_ATTENTION", mode, 1);
    StatusOr<std::unique_ptr<Backend>> b = make_cuda_backend(0, dtype);
    unsetenv("BGE_CUDA_ATTENTION");
    if (b.ok()) return std::move(*b);
    const auto expected = [](const char* name) {
        const char* v = std::getenv(name);
        return v != nullptr && std::string(v) == "1";
    };
    const bool no_gpu = !test::cuda_backend_or_null(dtype);
    const std::string m = mode;
    if (!no_gpu && ((m == "cudnn" && expected("BGE_EXPECT_CUDNN")) ||
                    (m == "wgmma" && expected("BGE_EXPECT_WGMMA") && std::getenv("BGE_CUDA_GENERIC") == nullptr))) {
        ADD_FAILURE() << b.status().to_string();
    }
    return nullptr;
}

// Every attention path of F16/BF16 (the mma.sync kernel, the Hopper kernel where it runs, cuDNN) and the generic
// one of F32.
std::vector<const char*> attention_modes(DType dtype) {
    return dtype == DType::kF32 ? std::vector<const char*>{"flash"} : std::vector<const char*>{"mma", "wgmma", "cudnn"};
}

// Mixed lengths around the 64- and 128-row tiles, head dims 64 (tensor-core kernels or cuDNN in F16/BF16) and 8
// (generic).
TEST_P(CudaOps, AttentionMatchesCpu) {
    const DType dtype = GetParam();
    BGE_CUDA_BACKEND_OR_SKIP(cuda_any, dtype);
    for (const char* mode : attention_modes(dtype)) {
        auto cuda = backend_with_attention(dtype, mode);
        if (!cuda) continue;
        for (const auto& [hidden, n_heads] : {std::pair<int64_t, int>{256, 4}, {32, 4}}) {
            if (hidden / n_heads != 64 && std::string(mode) == "cudnn") continue;
            SCOPED_TRACE(testing::Message() << mode << " hidden=" << hidden << " heads=" << n_heads);
            AttentionCase c = attention_case({1, 5, 63, 64, 65, 130, 300, 2}, hidden, 11);
            c.qkv = rounded(c.qkv, dtype, *cuda);
            const auto want = run_attention(*cpu_, DType::kF32, c, hidden, n_heads);
            const auto got = run_attention(*cuda, dtype, c, hidden, n_heads);
            ASSERT_TRUE(cuda->synchronize().ok()) << cuda->synchronize().to_string();
            EXPECT_LT(test::relative_error(got, want), test::op_tolerance(dtype));
        }
    }
}

// One 4096-token sequence: many key tiles through the online softmax (and cuDNN's plan for equal power-of-two
// lengths, as for three 512s); tiles that run into the next sequence and past the batch's last row (1000, 129,
// 7); and cuDNN's sequence-count buckets (300 sequences: two calls, the second padded with empty sequences).
TEST_P(CudaOps, LongAttentionMatchesCpu) {
    const DType dtype = GetParam();
    BGE_CUDA_BACKEND_OR_SKIP(cuda_any, dtype);
    std::vector<int32_t> many(300);
    for (size_t i = 0; i < many.size(); ++i) many[i] = 1 + static_cast<int32_t>(i * 37 % 200);
    for (const char* mode : attention_modes(dtype)) {
        auto cuda = backend_with_attention(dtype, mode);
        if (!cuda) continue;
        for (const std::vector<int32_t>& lengths :
             {std::vector<int32_t>{4096}, {512, 512, 512}, {1000, 129, 7}, many}) {
            SCOPED_TRACE(testing::Message() << mode << " sequences=" << lengths.size());
            AttentionCase c = attention_case(lengths, 128, 5);
            c.qkv = rounded(c.qkv, dtype, *cuda);
            const auto want = run_attention(*cpu_, DType::kF32, c, 128, 2);
            const auto got = run_attention(*cuda, dtype, c, 128, 2);
            ASSERT_TRUE(cuda->synchronize().ok()) << cuda->synchronize().to_string();
            EXPECT_LT(test::relative_error(got, want), test::op_tolerance(dtype));
        }
    }
}

// A sequence alone and inside a batch: bitwise equal on each own kernel (blocks never mix sequences, tiles start
// at the sequence's start; in the mma.sync kernel a row's arithmetic is the same in the 64- and 128-query blocks,
// which the batch's 1100-token sequence selects); on cuDNN, whose kernel may change with the batch's shape bucket,
// within 2 units in the last place at the largest output (2e-3 of it in F16, 1.6e-2 in BF16).
TEST_P(CudaOps, AttentionIsBatchInvariant) {
    const DType dtype = GetParam();
    BGE_CUDA_BACKEND_OR_SKIP(cuda_any, dtype);
    const int64_t hidden = 128;
    const AttentionCase batch = attention_case({3, 200, 1100}, hidden, 21);
    AttentionCase alone{{0, 200}, {}};
    alone.qkv.assign(batch.qkv.begin() + 3 * 3 * hidden, batch.qkv.begin() + 203 * 3 * hidden);
    for (const char* mode : attention_modes(dtype)) {
        auto cuda = backend_with_attention(dtype, mode);
        if (!cuda) continue;
        SCOPED_TRACE(mode);
        const auto together = run_attention(*cuda, dtype, batch, hidden, 2);
        const auto single = run_attention(*cuda, dtype, alone, hidden, 2);
        ASSERT_TRUE(cuda->synchronize().ok()) << cuda->synchronize().to_string();
        float largest = 0, worst = 0;
        for (int64_t i = 0; i < 200 * hidden; ++i) {
            largest = std::max(largest, std::abs(single[i]));
            worst = std::max(worst, std::abs(single[i] - together[3 * hidden + i]));
        }
        const std::string m = mode;
        const float bound = m == "mma" || m == "wgmma" || dtype == DType::kF32 ? 0.f
                            : dtype == DType::kF16                             ? 2e-3f
                                                                               : 1.6e-2f;
        EXPECT_LE(worst, bound * std::max(largest, 1.f)) << "largest output " << largest;
    }
}

// A failing op makes synchronize() return its error, and it sticks.
TEST_P(CudaOps, ErrorsStick) {
    const DType dtype = GetParam();
    BGE_CUDA_BACKEND_OR_SKIP(cuda, dtype);
    const AttentionCase c = attention_case({10}, 36, 1);  // head_dim 12: unsupported
    run_attention(*cuda, dtype, c, 36, 3);
    const Status s = cuda->synchronize();
    EXPECT_EQ(s.code(), StatusCode::kUnimplemented) << s.to_string();
    EXPECT_NE(s.message().find("head_dim 12"), std::string::npos) << s.message();
    EXPECT_EQ(cuda->synchronize().code(), StatusCode::kUnimplemented);
}

// More memory than the GPU has is kResourceExhausted naming the bytes, not an abort.
TEST_P(CudaOps, ExhaustionIsAStatus) {
    const DType dtype = GetParam();
    BGE_CUDA_BACKEND_OR_SKIP(cuda, dtype);
    auto t = cuda->alloc(DType::kF32, int64_t{1} << 40, 4);  // 16 TiB
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), StatusCode::kResourceExhausted);
    EXPECT_NE(t.status().message().find("17592186044416 bytes"), std::string::npos) << t.status().message();
    EXPECT_TRUE(cuda->synchronize().ok()) << "exhaustion must not stick";
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaOps, ::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

}  // namespace
}  // namespace bge
