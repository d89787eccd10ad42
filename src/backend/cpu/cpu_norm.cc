#include "backend/cpu/cpu_norm.h"

#include <cmath>
#include <cstdint>

#include "core/check.h"

namespace bge::cpu {
namespace {

// x [n] = (x - mean) / sqrt(var + eps) * gamma + beta with the biased variance, as torch.nn.LayerNorm.
// Mean and variance are two-pass sums in double, so they stay exact to fp32 for any hidden size.
void layer_norm_row(float* x, const float* gamma, const float* beta, int64_t n, float eps) {
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < n; ++i) sum += x[i];
    const double mean = sum / static_cast<double>(n);
    double sq = 0.0;
#pragma omp simd reduction(+ : sq)
    for (int64_t i = 0; i < n; ++i) {
        const double d = x[i] - mean;
        sq += d * d;
    }
    const double rstd = 1.0 / std::sqrt(sq / static_cast<double>(n) + eps);
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>((x[i] - mean) * rstd) * gamma[i] + beta[i];
}

bool is_f32_row(const Tensor& t, int64_t cols) {
    return t.dtype == DType::kF32 && t.rows == 1 && t.cols == cols;
}

}  // namespace

void add_layer_norm_row(float* x, const float* residual, const float* gamma, const float* beta, int64_t n, float eps) {
    for (int64_t c = 0; c < n; ++c) x[c] += residual[c];
    layer_norm_row(x, gamma, beta, n, eps);
}

void embed(const Tensor& ids, const Tensor& position_ids, const Tensor& word, const Tensor& position,
           const Tensor& token_type, const Tensor& gamma, const Tensor& beta, float eps, const Tensor& out,
           int n_threads) {
    const int64_t n = out.rows;
    const int64_t hidden = out.cols;
    BGE_CHECK(out.dtype == DType::kF32 && word.dtype == DType::kF32 && position.dtype == DType::kF32);
    BGE_CHECK(ids.dtype == DType::kI32 && ids.rows == n && ids.cols == 1);
    BGE_CHECK(position_ids.dtype == DType::kI32 && position_ids.rows == n && position_ids.cols == 1);
    BGE_CHECK(word.cols == hidden && position.cols == hidden && hidden > 0);
    BGE_CHECK(is_f32_row(token_type, hidden) && is_f32_row(gamma, hidden) && is_f32_row(beta, hidden));
    const auto* id = static_cast<const int32_t*>(ids.data);
    const auto* pos = static_cast<const int32_t*>(position_ids.data);
    const auto* w = static_cast<const float*>(word.data);
    const auto* p = static_cast<const float*>(position.data);
    const auto* t = static_cast<const float*>(token_type.data);
    const auto* g = static_cast<const float*>(gamma.data);
    const auto* b = static_cast<const float*>(beta.data);
    auto* y = static_cast<float*>(out.data);
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t r = 0; r < n; ++r) {
        BGE_CHECK(id[r] >= 0 && id[r] < word.rows && pos[r] >= 0 && pos[r] < position.rows);
        const float* wr = w + id[r] * hidden;
        const float* pr = p + pos[r] * hidden;
        float* yr = y + r * hidden;
        // Summation order of transformers' XLMRobertaEmbeddings: (word + token_type) + position.
        for (int64_t c = 0; c < hidden; ++c) yr[c] = (wr[c] + t[c]) + pr[c];
        layer_norm_row(yr, g, b, hidden, eps);
    }
}

void add_layer_norm(const Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta, float eps,
                    int n_threads) {
    const int64_t n = x.rows;
    const int64_t hidden = x.cols;
    BGE_CHECK(x.dtype == DType::kF32 && residual.dtype == DType::kF32 && hidden > 0);
    BGE_CHECK(residual.rows == n && residual.cols == hidden);
    BGE_CHECK(is_f32_row(gamma, hidden) && is_f32_row(beta, hidden));
    auto* xs = static_cast<float*>(x.data);
    const auto* res = static_cast<const float*>(residual.data);
    const auto* g = static_cast<const float*>(gamma.data);
    const auto* b = static_cast<const float*>(beta.data);
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t r = 0; r < n; ++r) add_layer_norm_row(xs + r * hidden, res + r * hidden, g, b, hidden, eps);
}

}  // namespace bge::cpu
