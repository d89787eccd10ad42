// The CPU epilogue's own GELU (erf form) and tanh against double-precision std::erfc / std::tanh, over a dense grid
// and the edges (±0, tiny, huge, ±inf, NaN) in every vector-body / tail position. Bounds: GELU 1.5e-7 |x| (A&S
// 7.1.26's erfc is within 1.5e-7; halved, plus the f32 evaluation, times x), tanh 2e-7; both plus 2 ulps of the result.
#include "backend/cpu/cpu_activation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace bge {
namespace {

double reference(Activation act, double v) {
    if (act == Activation::kGelu) return 0.5 * v * std::erfc(-v / std::sqrt(2.0));
    return std::tanh(v);
}

std::vector<float> inputs() {
    std::vector<float> x;
    for (int i = -40000; i <= 40000; ++i) x.push_back(static_cast<float>(i) * 2.5e-4f);  // [-10, 10]
    for (float v : {1e-30f, 1e-7f, 0.0625f, 0.06249f, 15.f, 40.f, 1e4f, 3e38f, std::numeric_limits<float>::min()}) {
        x.push_back(v);
        x.push_back(-v);
    }
    x.push_back(-0.f);
    return x;
}

void check(Activation act) {
    std::vector<float> x = inputs();
    std::vector<float> y = x;
    cpu::apply_activation(y.data(), static_cast<int64_t>(y.size()), act);
    int failures = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        const double want = reference(act, x[i]);
        const double x_abs = std::fabs(static_cast<double>(x[i]));
        const double bound = (act == Activation::kGelu ? 1.5e-7 * x_abs : 2e-7) + 2.4e-7 * std::fabs(want);
        if (!(std::fabs(y[i] - want) <= bound) && ++failures <= 5) {
            ADD_FAILURE() << "x " << x[i] << ": got " << y[i] << " want " << want;
        }
    }
    EXPECT_EQ(failures, 0);
}

TEST(CpuActivation, GeluMatchesErf) {
    check(Activation::kGelu);
}

TEST(CpuActivation, TanhMatches) {
    check(Activation::kTanh);
}

TEST(CpuActivation, NonFiniteValues) {
    const float inf = std::numeric_limits<float>::infinity();
    for (int64_t at = 0; at < 19; ++at) {  // each lane of a vector body and the tail
        std::vector<float> g(19, 1.f), t(19, 1.f);
        for (std::vector<float>* v : {&g, &t}) {
            (*v)[at] = NAN;
            (*v)[(at + 5) % 19] = inf;
            (*v)[(at + 9) % 19] = -inf;
        }
        cpu::apply_activation(g.data(), 19, Activation::kGelu);
        cpu::apply_activation(t.data(), 19, Activation::kTanh);
        EXPECT_TRUE(std::isnan(g[at]) && std::isnan(t[at])) << at;
        EXPECT_EQ(g[(at + 5) % 19], inf);
        EXPECT_EQ(g[(at + 9) % 19], 0.f);  // the limit, not -inf * 0
        EXPECT_EQ(t[(at + 5) % 19], 1.f);
        EXPECT_EQ(t[(at + 9) % 19], -1.f);
        EXPECT_NEAR(g[(at + 1) % 19], 0.8413447460685429, 2e-7);
    }
}

TEST(CpuActivation, NoneLeavesValues) {
    std::vector<float> x = inputs(), y = x;
    cpu::apply_activation(y.data(), static_cast<int64_t>(y.size()), Activation::kNone);
    EXPECT_EQ(x, y);
}

}  // namespace
}  // namespace bge
