// CPU packed varlen attention against a double-precision softmax reference (tolerance 1e-5 abs; the bf16 GEMMs of the
// bf16/int8 precisions 1e-2 abs with values in [-1, 1], their rounding of Q, K, V and the probabilities to 8 bits;
// 1.5e-3 on rows over several key chunks),
// batch invariance, thread-count invariance and a long sequence.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "backend/cpu/cpu_attention.h"
#include "backend/cpu/cpu_backend.h"
#include "backend_test_util.h"

namespace bge {
namespace {

constexpr double kTolerance = 1e-5;

// Output row `t` (absolute token index), head `h` of attention over tokens [start, end) of `qkv`.
std::vector<double> reference_row(const std::vector<float>& qkv, int64_t hidden, int n_heads, int64_t start,
                                  int64_t end, int64_t t, int h) {
    const int64_t d = hidden / n_heads;
    const int64_t ld = 3 * hidden;
    const float* q = qkv.data() + t * ld + h * d;
    std::vector<double> scores(end - start);
    double max = -INFINITY;
    for (int64_t j = start; j < end; ++j) {
        const float* k = qkv.data() + j * ld + hidden + h * d;
        double dot = 0.0;
        for (int64_t i = 0; i < d; ++i) dot += static_cast<double>(q[i]) * k[i];
        scores[j - start] = dot / std::sqrt(static_cast<double>(d));
        max = std::max(max, scores[j - start]);
    }
    double sum = 0.0;
    for (double& s : scores) sum += (s = std::exp(s - max));
    std::vector<double> out(d, 0.0);
    for (int64_t j = start; j < end; ++j) {
        const float* v = qkv.data() + j * ld + 2 * hidden + h * d;
        for (int64_t i = 0; i < d; ++i) out[i] += scores[j - start] / sum * v[i];
    }
    return out;
}

struct Batch {
    std::vector<int32_t> cu_seqlens;
    std::vector<float> qkv;  // F32 [n_tokens, 3 * hidden]
};

Batch make_batch(const std::vector<int32_t>& lengths, int64_t hidden, uint32_t seed, float range) {
    Batch b{{0}, {}};
    for (int32_t len : lengths) b.cu_seqlens.push_back(b.cu_seqlens.back() + len);
    b.qkv = test::random_floats(static_cast<size_t>(b.cu_seqlens.back()) * 3 * hidden, seed, -range, range);
    return b;
}

// F32 [n_tokens, hidden] attention output of the backend.
std::vector<float> run_attention(Backend& backend, const Batch& b, int64_t hidden, int n_heads) {
    const int64_t n = b.cu_seqlens.back();
    DeviceTensor qkv = test::ok_value(backend.upload(b.qkv.data(), n, 3 * hidden, DType::kF32));
    DeviceTensor out = test::ok_value(backend.alloc(DType::kF32, n, hidden));
    const test::DeviceLayout layout = test::device_layout(backend, b.cu_seqlens);
    backend.attention(qkv.view, layout.layout, n_heads, out.view);
    return test::to_host(backend, out.view);
}

void expect_rows_match(const Batch& b, const std::vector<float>& got, int64_t hidden, int n_heads, int64_t s,
                       const std::vector<int64_t>& rows, double tolerance = kTolerance) {
    const int64_t d = hidden / n_heads;
    for (int64_t t : rows) {
        for (int h = 0; h < n_heads; ++h) {
            const std::vector<double> want =
                reference_row(b.qkv, hidden, n_heads, b.cu_seqlens[s], b.cu_seqlens[s + 1], t, h);
            for (int64_t i = 0; i < d; ++i) {
                ASSERT_NEAR(got[t * hidden + h * d + i], want[i], tolerance)
                    << "sequence " << s << " token " << t << " head " << h << " dim " << i;
            }
        }
    }
}

void expect_all_rows_match(const Batch& b, const std::vector<float>& got, int64_t hidden, int n_heads,
                           double tolerance = kTolerance) {
    for (size_t s = 0; s + 1 < b.cu_seqlens.size(); ++s) {
        std::vector<int64_t> rows;
        for (int64_t t = b.cu_seqlens[s]; t < b.cu_seqlens[s + 1]; ++t) rows.push_back(t);
        expect_rows_match(b, got, hidden, n_heads, static_cast<int64_t>(s), rows, tolerance);
    }
}

// Mixed lengths in one packed batch (1, empty, block-sized and odd), several head layouts.
TEST(CpuAttentionTest, PackedBatchMatchesReference) {
    auto backend = make_cpu_backend(0);
    struct Layout {
        int n_heads;
        int64_t hidden;
    };
    uint32_t seed = 1;
    for (const Layout& l : {Layout{1, 1}, Layout{3, 24}, Layout{2, 128}, Layout{16, 1024}}) {
        SCOPED_TRACE(testing::Message() << "heads=" << l.n_heads << " hidden=" << l.hidden);
        const Batch b = make_batch({1, 5, 0, 64, 65, 130, 1, 3}, l.hidden, seed++, 1.f);
        expect_all_rows_match(b, run_attention(*backend, b, l.hidden, l.n_heads), l.hidden, l.n_heads);
    }
}

// Large scores (Q scaled by 16: score std ~5, median top key weight ~0.7) stay exact thanks to max subtraction.
TEST(CpuAttentionTest, PeakedScoresMatchReference) {
    auto backend = make_cpu_backend(0);
    const int64_t hidden = 64;
    Batch b = make_batch({37, 2100}, hidden, 7, 1.f);
    for (size_t t = 0; t < b.qkv.size() / (3 * hidden); ++t) {
        for (int64_t i = 0; i < hidden; ++i) b.qkv[t * 3 * hidden + i] *= 16.f;
    }
    const std::vector<float> got = run_attention(*backend, b, hidden, 2);
    std::vector<int64_t> first(37);
    for (int64_t t = 0; t < 37; ++t) first[t] = t;
    expect_rows_match(b, got, hidden, 2, 0, first);
    // The long one spans several key chunks, so the running max changes between chunks.
    expect_rows_match(b, got, hidden, 2, 1, {37, 38, 37 + 1023, 37 + 1024, 37 + 2099});
}

// A sequence alone gives bitwise the same rows as inside a packed batch, for 1 or 2 threads (backends made by
// `make(n_threads)`).
void expect_batch_and_thread_invariance(const std::function<std::unique_ptr<Backend>(int)>& make) {
    const int64_t hidden = 128;
    const int n_heads = 2;
    const std::vector<int32_t> lengths = {70, 1, 1100, 9};  // 1100: three query blocks, two key chunks
    const Batch packed = make_batch(lengths, hidden, 11, 1.f);
    auto two = make(2);
    const std::vector<float> batch_out = run_attention(*two, packed, hidden, n_heads);
    EXPECT_EQ(run_attention(*make(1), packed, hidden, n_heads), batch_out);
    for (size_t s = 0; s < lengths.size(); ++s) {
        const int64_t start = packed.cu_seqlens[s];
        Batch alone{{0, lengths[s]},
                    std::vector<float>(packed.qkv.begin() + start * 3 * hidden,
                                       packed.qkv.begin() + (start + lengths[s]) * 3 * hidden)};
        const std::vector<float> got = run_attention(*two, alone, hidden, n_heads);
        EXPECT_EQ(0, std::memcmp(got.data(), batch_out.data() + start * hidden, got.size() * sizeof(float)))
            << "sequence " << s;
    }
}

TEST(CpuAttentionTest, BatchAndThreadInvariance) {
    expect_batch_and_thread_invariance([](int n_threads) { return make_cpu_backend(n_threads); });
}

// 4096- and 1025-token sequences (several key chunks) next to a short one; a few rows of each checked.
TEST(CpuAttentionTest, LongSequence) {
    auto backend = make_cpu_backend(0);
    const int64_t hidden = 128;
    const int n_heads = 2;
    const Batch b = make_batch({3, 4096, 1025}, hidden, 21, 1.f);
    const std::vector<float> got = run_attention(*backend, b, hidden, n_heads);
    expect_rows_match(b, got, hidden, n_heads, 0, {0, 1, 2});
    expect_rows_match(b, got, hidden, n_heads, 1, {3, 4, 66, 3 + 511, 3 + 512, 2050, 4097, 4098});
    expect_rows_match(b, got, hidden, n_heads, 2, {4099, 4099 + 341, 4099 + 342, 4099 + 1024});
}

// The bf16 attention of the bf16 and int8 precisions, where oneDNN has a bf16 matmul (AVX-512 and up; it is f32
// elsewhere, which the tests above cover).
std::unique_ptr<Backend> bf16_attention_backend(int n_threads) {
    auto backend = make_cpu_backend(n_threads, CpuPrecision::kBF16);
    return backend->attention_kernel().rfind("bf16 ", 0) == 0 ? std::move(backend) : nullptr;
}

constexpr double kBf16Tolerance = 1e-2;
// Rows over more than one key chunk average ~1000 values of V (|out| < 0.1): tighter, so that a missing rescale of the
// earlier chunks' sums (error ~6e-3 on the peaked rows, where the running max moves) fails. Expected error ~3e-4.
constexpr double kBf16LongTolerance = 1.5e-3;

TEST(CpuAttentionBf16Test, PackedBatchAndLongSequencesMatchReference) {
    auto backend = bf16_attention_backend(2);
    if (!backend) GTEST_SKIP() << "attention runs f32 here: " << make_cpu_backend(1, CpuPrecision::kBF16)->attention_kernel();
    std::printf("attention kernel: %s\n", backend->attention_kernel().c_str());
    const int64_t hidden = 128;
    const int n_heads = 2;
    // 1100: three query blocks and two key chunks (the running max and the sums rescaled between chunks).
    // Sequences below kBf16AttentionMinLength (192) run f32, the others bf16.
    const Batch b = make_batch({1, 5, 0, 64, 130, 1100, 3, 200}, hidden, 31, 1.f);
    const std::vector<float> got = run_attention(*backend, b, hidden, n_heads);
    for (int64_t s : {0, 1, 3, 4, 6, 7}) {
        std::vector<int64_t> rows;
        for (int64_t t = b.cu_seqlens[s]; t < b.cu_seqlens[s + 1]; ++t) rows.push_back(t);
        expect_rows_match(b, got, hidden, n_heads, s, rows, kBf16Tolerance);
    }
    const int64_t long_start = b.cu_seqlens[5];
    expect_rows_match(b, got, hidden, n_heads, 5, {long_start, long_start + 366, long_start + 367, long_start + 1099},
                      kBf16LongTolerance);
    // The f32 path gives a different answer (the test compares the bf16 one): at least one element off by > 1e-6.
    auto f32 = make_cpu_backend(2);
    const std::vector<float> exact = run_attention(*f32, b, hidden, n_heads);
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(double(got[i]) - exact[i]));
    std::printf("bf16 attention: max |bf16 - f32| %.3g\n", worst);
    EXPECT_GT(worst, 1e-6);
    // The short sequences are the f32 path's, bit for bit.
    for (int64_t s : {0, 1, 3, 4, 6}) {
        ASSERT_LT(b.cu_seqlens[s + 1] - b.cu_seqlens[s], cpu::kBf16AttentionMinLength);
        for (int64_t i = b.cu_seqlens[s] * hidden; i < b.cu_seqlens[s + 1] * hidden; ++i) {
            ASSERT_EQ(got[i], exact[i]) << "sequence " << s << " element " << i;
        }
    }
}

TEST(CpuAttentionBf16Test, PeakedScoresMatchReference) {
    auto backend = bf16_attention_backend(2);
    if (!backend) GTEST_SKIP() << "attention runs f32 here";
    const int64_t hidden = 64;
    Batch b = make_batch({37, 2100}, hidden, 7, 1.f);
    for (size_t t = 0; t < b.qkv.size() / (3 * hidden); ++t) {
        for (int64_t i = 0; i < hidden; ++i) b.qkv[t * 3 * hidden + i] *= 4.f;
    }
    const std::vector<float> got = run_attention(*backend, b, hidden, 1);
    expect_rows_match(b, got, hidden, 1, 0, {0, 1, 36}, kBf16Tolerance);
    expect_rows_match(b, got, hidden, 1, 1, {37, 38, 37 + 1023, 37 + 1024, 37 + 2099}, kBf16LongTolerance);
}

TEST(CpuAttentionBf16Test, BatchAndThreadInvariance) {
    if (!bf16_attention_backend(1)) GTEST_SKIP() << "attention runs f32 here";
    expect_batch_and_thread_invariance(bf16_attention_backend);
}

}  // namespace
}  // namespace bge
