// Small host-side vector math of the output heads and scores, accumulated in double.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace bge {

inline double dot(const float* a, const float* b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
    return s;
}

// Scales `row` to unit L2 norm (torch.nn.functional.normalize: x / max(|x|, 1e-12)); returns its norm before.
inline double l2_normalize(float* row, size_t n) {
    const double norm = std::sqrt(dot(row, row, n));
    const double scale = 1.0 / std::max(norm, 1e-12);
    for (size_t i = 0; i < n; ++i) row[i] = static_cast<float>(row[i] * scale);
    return norm;
}

}  // namespace bge
