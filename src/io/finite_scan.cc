#include "io/finite_scan.h"

#include <algorithm>
#include <cstring>

namespace bge::io {
namespace {

// An IEEE value is NaN or Inf exactly when its exponent bits are all ones.
template <typename U, U kExponent>
int64_t scan(const unsigned char* p, int64_t n) {
    constexpr int64_t kBlock = 4096;  // a branch-free pass per block vectorizes; the exact index only when needed
    for (int64_t begin = 0; begin < n; begin += kBlock) {
        const int64_t end = std::min(n, begin + kBlock);
        U any = 0;
        for (int64_t i = begin; i < end; ++i) {
            U v;
            std::memcpy(&v, p + i * static_cast<int64_t>(sizeof(U)), sizeof(U));  // the data may be unaligned
            any |= static_cast<U>((v & kExponent) == kExponent);
        }
        if (any == 0) continue;
        for (int64_t i = begin; i < end; ++i) {
            U v;
            std::memcpy(&v, p + i * static_cast<int64_t>(sizeof(U)), sizeof(U));
            if ((v & kExponent) == kExponent) return i;
        }
    }
    return -1;
}

// Whether the element at flat index `i` is NaN (else Inf).
bool is_nan_at(const RawTensor& t, int64_t i) {
    const auto* p = static_cast<const unsigned char*>(t.data) + i * static_cast<int64_t>(dtype_size(t.dtype));
    if (t.dtype == DType::kF32) {
        uint32_t v;
        std::memcpy(&v, p, 4);
        return (v & 0x007fffffu) != 0;
    }
    uint16_t v;
    std::memcpy(&v, p, 2);
    return (v & (t.dtype == DType::kF16 ? 0x03ffu : 0x007fu)) != 0;
}

// [a, b, c] of flat index `i` in row-major `shape`.
std::string unravel(const std::vector<int64_t>& shape, int64_t i) {
    std::vector<int64_t> index(shape.size());
    for (size_t k = shape.size(); k-- > 0;) {
        index[k] = shape[k] > 0 ? i % shape[k] : 0;
        i = shape[k] > 0 ? i / shape[k] : 0;
    }
    std::string s = "[";
    for (size_t k = 0; k < index.size(); ++k) s += (k ? ", " : "") + std::to_string(index[k]);
    return s + "]";
}

}  // namespace

int64_t first_non_finite(const RawTensor& t) {
    const auto* p = static_cast<const unsigned char*>(t.data);
    const int64_t n = t.numel();
    switch (t.dtype) {
        case DType::kF32:
            return scan<uint32_t, 0x7f800000u>(p, n);
        case DType::kF16:
            return scan<uint16_t, 0x7c00u>(p, n);
        case DType::kBF16:
            return scan<uint16_t, 0x7f80u>(p, n);
        default:
            return -1;
    }
}

Status check_finite(const std::string& name, const RawTensor& t) {
    const int64_t i = first_non_finite(t);
    if (i < 0) return ok_status();
    return data_loss("tensor '" + name + "' in " + (t.file ? t.file->path() : std::string("?")) + ": element " +
                     std::to_string(i) + " (index " + unravel(t.shape, i) + ") is " +
                     (is_nan_at(t, i) ? "NaN" : "Inf"));
}

}  // namespace bge::io
