// The softmax pieces of CPU attention against std::exp in double: exp_shifted within 2e-7 relative (its contract),
// exp_shifted_to_bf16 at most one bf16 step from the correctly rounded exp (and on it for all but 1% of values),
// returning the sum of exactly the values it stored; over arguments from 0 to below the clamp at -87, in every vector body and tail
// position (lengths 1..70).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "backend/cpu/cpu_softmax.h"
#include "backend/cpu/cpu_vector.h"

namespace bge::cpu {
namespace {

float from_bf16(uint16_t b) {
    return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

// n scores spread over [shift - 90, shift], the largest equal to shift.
std::vector<float> scores(int64_t n, float shift, uint32_t salt) {
    std::vector<float> s(n);
    for (int64_t i = 0; i < n; ++i) s[i] = shift - 90.f * static_cast<float>((i * 7919 + salt * 104729) % 1000) / 999.f;
    s[(salt * 31) % n] = shift;
    return s;
}

TEST(CpuSoftmaxTest, ExpShiftedWithinContract) {
    for (int64_t n = 1; n <= 70; ++n) {
        const float shift = 3.25f;
        std::vector<float> s = scores(n, shift, static_cast<uint32_t>(n));
        const std::vector<float> in = s;
        const float sum = exp_shifted(s.data(), n, shift);
        double want_sum = 0;
        for (int64_t i = 0; i < n; ++i) {
            const double arg = std::max(static_cast<double>(in[i]) - shift, -87.0);
            const double want = std::exp(arg);
            want_sum += want;
            ASSERT_NEAR(s[i] / want, 1.0, 2e-7 + 1e-7) << "n " << n << " i " << i << " arg " << arg;
        }
        EXPECT_NEAR(sum / want_sum, 1.0, 1e-6) << "n " << n;
    }
}

TEST(CpuSoftmaxTest, ExpShiftedToBf16IsOneStepFromRoundedAndSumsWhatItStores) {
    int64_t values = 0, off_by_one = 0;
    for (int64_t n = 1; n <= 70; ++n) {
        const float shift = -1.5f;
        const std::vector<float> s = scores(n, shift, static_cast<uint32_t>(n + 100));
        std::vector<uint16_t> p(n);
        const float sum = exp_shifted_to_bf16(s.data(), n, shift, p.data());
        float stored_sum = 0;
        for (int64_t i = 0; i < n; ++i) {
            const double arg = std::max(static_cast<double>(s[i]) - shift, -87.0);
            const double want = std::exp(arg);
            const int rounded = round_to_bf16(static_cast<float>(want));
            ASSERT_LE(std::abs(p[i] - rounded), 1) << "n " << n << " i " << i << " arg " << arg;
            ++values;
            off_by_one += p[i] != rounded;
            stored_sum += from_bf16(p[i]);
        }
        // The same values summed, in whatever order the vector loop used: within float rounding.
        EXPECT_NEAR(sum, stored_sum, 1e-6f * stored_sum) << "n " << n;
    }
    EXPECT_LE(off_by_one * 100, values) << off_by_one << " of " << values << " one step off";
    // Exactly representable cases: exp(0) = 1.
    const float zero = 0.f;
    uint16_t one = 0;
    EXPECT_EQ(exp_shifted_to_bf16(&zero, 1, 0.f, &one), 1.f);
    EXPECT_EQ(from_bf16(one), 1.f);
}

}  // namespace
}  // namespace bge::cpu
