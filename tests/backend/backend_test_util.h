// Helpers shared by the backend tests: seeded random data and tensor round trips.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "backend/backend.h"

namespace bge::test {

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

inline std::vector<float> to_host(Backend& backend, const Tensor& t) {
    std::vector<float> v(static_cast<size_t>(t.rows * t.cols));
    backend.copy_to_host(t, v.data());
    return v;
}

}  // namespace bge::test
