// Helpers shared by the backend tests: seeded random data and tensor round trips.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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

// The value of `v`; a test that cannot set up its tensors aborts with the message.
template <typename T>
T ok_value(StatusOr<T> v) {
    if (!v.ok()) {
        std::fprintf(stderr, "backend test set-up failed: %s\n", v.status().to_string().c_str());
        std::abort();
    }
    return std::move(v).value();
}

// A packed batch's offsets on `backend`'s device and the layout that points at them and at `cu_seqlens`
// (which must outlive it).
struct DeviceLayout {
    DeviceTensor device;
    SeqLayout layout;
};
inline DeviceLayout device_layout(Backend& backend, const std::vector<int32_t>& cu_seqlens) {
    DeviceLayout d;
    d.device = ok_value(backend.alloc(DType::kI32, static_cast<int64_t>(cu_seqlens.size()), 1));
    backend.copy_to_device(cu_seqlens.data(), d.device.view);
    d.layout.cu_seqlens = cu_seqlens;
    d.layout.cu_seqlens_device = d.device.view;
    for (size_t s = 0; s + 1 < cu_seqlens.size(); ++s) {
        d.layout.max_seqlen = std::max(d.layout.max_seqlen, cu_seqlens[s + 1] - cu_seqlens[s]);
    }
    return d;
}

inline std::vector<float> to_host(Backend& backend, const Tensor& t) {
    std::vector<float> v(static_cast<size_t>(t.rows * t.cols));
    backend.copy_to_host(t, v.data());
    return v;
}

}  // namespace bge::test
