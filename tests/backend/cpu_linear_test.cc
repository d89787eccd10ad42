// CPU linear: y = act(x Wᵀ + b) against a double-precision reference for many shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend_test_util.h"

namespace bge {
namespace {

double apply(Activation act, double v) {
    switch (act) {
        case Activation::kNone:
            return v;
        case Activation::kGelu:
            return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
        case Activation::kTanh:
            return std::tanh(v);
    }
    return v;
}

struct Layer {
    int64_t in, out;
    std::vector<float> w, b;  // F32 [out, in], [out] (empty: no bias)
    std::unique_ptr<LinearWeight> weight;
};

Layer make_layer(Backend& backend, int64_t in, int64_t out, bool bias, uint32_t seed) {
    Layer l{in, out, test::random_floats(out * in, seed, -0.5f, 0.5f), {}, nullptr};
    if (bias) l.b = test::random_floats(out, seed + 1);
    l.weight = backend.make_linear(l.w.data(), bias ? l.b.data() : nullptr, out, in);
    return l;
}

// Runs the layer on n random rows and checks each output within 1e-5 of the sum of |terms|
// (a relative bound that stays meaningful under cancellation; GELU and tanh are 1.2-Lipschitz).
void check_linear(Backend& backend, const Layer& l, int64_t n, Activation act, uint32_t seed) {
    SCOPED_TRACE(testing::Message() << "n=" << n << " in=" << l.in << " out=" << l.out
                                    << " act=" << static_cast<int>(act) << " bias=" << !l.b.empty());
    const std::vector<float> x = test::random_floats(n * l.in, seed);
    DeviceTensor xd = backend.upload(x.data(), n, l.in, DType::kF32);
    DeviceTensor yd = backend.alloc(DType::kF32, n, l.out).value();
    backend.linear(xd.view, *l.weight, act, yd.view);
    const std::vector<float> y = test::to_host(backend, yd.view);
    int failures = 0;
    for (int64_t r = 0; r < n; ++r) {
        for (int64_t c = 0; c < l.out; ++c) {
            double sum = l.b.empty() ? 0.0 : l.b[c];
            double magnitude = std::fabs(sum);
            for (int64_t k = 0; k < l.in; ++k) {
                const double term = static_cast<double>(x[r * l.in + k]) * l.w[c * l.in + k];
                sum += term;
                magnitude += std::fabs(term);
            }
            const double want = apply(act, sum);
            const double got = y[r * l.out + c];
            if (std::fabs(got - want) > 1e-5 * (magnitude + 1e-3) * 1.2 && ++failures <= 5) {
                ADD_FAILURE() << "row " << r << " col " << c << ": got " << got << " want " << want;
            }
        }
    }
    EXPECT_EQ(failures, 0);
}

// Odd, tiny and model-sized shapes, with and without bias, for every activation.
TEST(CpuLinearTest, MatchesReference) {
    auto backend = make_cpu_backend(0);
    struct Shape {
        int64_t n, in, out;
    };
    uint32_t seed = 10;
    for (const Shape& s : {Shape{1, 1, 1}, Shape{1, 64, 32}, Shape{7, 33, 17}, Shape{130, 257, 129},
                           Shape{67, 1024, 96}, Shape{3, 96, 1024}}) {
        for (bool bias : {true, false}) {
            const Layer l = make_layer(*backend, s.in, s.out, bias, seed++);
            for (Activation act : {Activation::kNone, Activation::kGelu, Activation::kTanh}) {
                check_linear(*backend, l, s.n, act, seed++);
            }
        }
    }
}

// One weight serves many row counts, and layers of one shape do not share state (cached primitives).
TEST(CpuLinearTest, RowCountsAndLayersShareNothing) {
    auto backend = make_cpu_backend(2);
    const Layer a = make_layer(*backend, 48, 40, true, 100);
    const Layer b = make_layer(*backend, 48, 40, true, 200);
    for (int64_t n : {5, 1, 300, 5, 64}) {
        check_linear(*backend, a, n, Activation::kGelu, 300 + n);
        check_linear(*backend, b, n, Activation::kGelu, 400 + n);
    }
}

// Zero rows is a no-op.
TEST(CpuLinearTest, EmptyInput) {
    auto backend = make_cpu_backend(1);
    const Layer l = make_layer(*backend, 8, 4, true, 7);
    DeviceTensor x = backend->alloc(DType::kF32, 0, 8).value();
    DeviceTensor y = backend->alloc(DType::kF32, 0, 4).value();
    backend->linear(x.view, *l.weight, Activation::kNone, y.view);
}

}  // namespace
}  // namespace bge
