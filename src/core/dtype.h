// Element types of weights and activations, and their conversions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace bge {

enum class DType { kF32, kF16, kBF16, kI32, kI64 };

constexpr size_t dtype_size(DType t) {
    switch (t) {
        case DType::kF32:
            return 4;
        case DType::kF16:
            return 2;
        case DType::kBF16:
            return 2;
        case DType::kI32:
            return 4;
        case DType::kI64:
            return 8;
    }
    return 0;
}

const char* dtype_name(DType t);

// IEEE binary16 -> float, exact (subnormals, inf, nan included).
float f16_to_f32(uint16_t h);
// bfloat16 -> float, exact: bf16 is the top half of a float.
inline float bf16_to_f32(uint16_t b) {
    uint32_t u = static_cast<uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// Converts `n` elements of type `src_type` at `src` (any alignment) to float.
// Only floating types are accepted; the caller checks that.
void convert_to_f32(DType src_type, const void* src, size_t n, float* dst);

}  // namespace bge
