// CPU embed and add_layer_norm against a double-precision LayerNorm reference (tolerance 1e-5 abs).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend_test_util.h"

namespace bge {
namespace {

constexpr double kTolerance = 1e-5;

// LayerNorm of one row in double: biased variance, as torch.nn.LayerNorm.
std::vector<double> layer_norm(const std::vector<double>& x, const std::vector<float>& gamma,
                               const std::vector<float>& beta, double eps) {
    double mean = 0.0;
    for (double v : x) mean += v;
    mean /= static_cast<double>(x.size());
    double var = 0.0;
    for (double v : x) var += (v - mean) * (v - mean);
    var /= static_cast<double>(x.size());
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = (x[i] - mean) / std::sqrt(var + eps) * gamma[i] + beta[i];
    return y;
}

// x = LN(x + residual) for tiny, odd and model widths; inputs carry a large common offset,
// which a one-pass fp32 variance would lose to cancellation.
TEST(CpuNormTest, AddLayerNormMatchesReference) {
    auto backend = make_cpu_backend(0);
    uint32_t seed = 1;
    for (int64_t hidden : {1, 2, 7, 1024}) {
        for (int64_t n : {1, 3, 17}) {
            SCOPED_TRACE(testing::Message() << "n=" << n << " hidden=" << hidden);
            const std::vector<float> x = test::random_floats(n * hidden, seed++, 99.f, 101.f);
            const std::vector<float> res = test::random_floats(n * hidden, seed++, -2.f, 2.f);
            const std::vector<float> gamma = test::random_floats(hidden, seed++, 0.5f, 1.5f);
            const std::vector<float> beta = test::random_floats(hidden, seed++);
            const float eps = 1e-5f;
            DeviceTensor xd = backend->upload(x.data(), n, hidden, DType::kF32);
            DeviceTensor rd = backend->upload(res.data(), n, hidden, DType::kF32);
            DeviceTensor gd = backend->upload(gamma.data(), 1, hidden, DType::kF32);
            DeviceTensor bd = backend->upload(beta.data(), 1, hidden, DType::kF32);
            backend->add_layer_norm(xd.view, rd.view, gd.view, bd.view, eps);
            const std::vector<float> got = test::to_host(*backend, xd.view);
            for (int64_t r = 0; r < n; ++r) {
                // The sum is rounded to fp32 first, as the model's residual add is.
                std::vector<double> row(hidden);
                for (int64_t c = 0; c < hidden; ++c) row[c] = x[r * hidden + c] + res[r * hidden + c];
                const std::vector<double> want = layer_norm(row, gamma, beta, eps);
                for (int64_t c = 0; c < hidden; ++c) {
                    ASSERT_NEAR(got[r * hidden + c], want[c], kTolerance) << "row " << r << " col " << c;
                }
            }
        }
    }
}

// embed = LN(word[id] + token_type[0] + position[pos]) per token, ids anywhere in the tables.
TEST(CpuNormTest, EmbedMatchesReference) {
    auto backend = make_cpu_backend(2);
    const int64_t vocab = 50, max_pos = 40, hidden = 24, n = 9;
    const std::vector<float> word = test::random_floats(vocab * hidden, 1);
    const std::vector<float> position = test::random_floats(max_pos * hidden, 2);
    const std::vector<float> token_type = test::random_floats(hidden, 3);
    const std::vector<float> gamma = test::random_floats(hidden, 4, 0.5f, 1.5f);
    const std::vector<float> beta = test::random_floats(hidden, 5);
    const std::vector<int32_t> ids = {0, 49, 3, 3, 17, 2, 1, 48, 25};
    const std::vector<int32_t> pos = {2, 3, 4, 5, 39, 2, 0, 3, 4};
    const float eps = 1e-5f;

    DeviceTensor ids_d = backend->alloc(DType::kI32, n, 1).value();
    DeviceTensor pos_d = backend->alloc(DType::kI32, n, 1).value();
    backend->copy_to_device(ids.data(), ids_d.view);
    backend->copy_to_device(pos.data(), pos_d.view);
    DeviceTensor word_d = backend->upload(word.data(), vocab, hidden, DType::kF32);
    DeviceTensor pos_tab = backend->upload(position.data(), max_pos, hidden, DType::kF32);
    DeviceTensor tt_d = backend->upload(token_type.data(), 1, hidden, DType::kF32);
    DeviceTensor g_d = backend->upload(gamma.data(), 1, hidden, DType::kF32);
    DeviceTensor b_d = backend->upload(beta.data(), 1, hidden, DType::kF32);
    DeviceTensor out = backend->alloc(DType::kF32, n, hidden).value();
    backend->embed(ids_d.view, pos_d.view, word_d.view, pos_tab.view, tt_d.view, g_d.view, b_d.view, eps, out.view);

    const std::vector<float> got = test::to_host(*backend, out.view);
    for (int64_t r = 0; r < n; ++r) {
        std::vector<double> row(hidden);
        for (int64_t c = 0; c < hidden; ++c) {
            row[c] = static_cast<double>(word[ids[r] * hidden + c]) + token_type[c] + position[pos[r] * hidden + c];
        }
        const std::vector<double> want = layer_norm(row, gamma, beta, eps);
        for (int64_t c = 0; c < hidden; ++c) {
            ASSERT_NEAR(got[r * hidden + c], want[c], kTolerance) << "token " << r << " col " << c;
        }
    }
}

}  // namespace
}  // namespace bge
