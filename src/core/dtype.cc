#include "core/dtype.h"

#include <cmath>

#include "core/check.h"

namespace bge {

const char* dtype_name(DType t) {
    switch (t) {
        case DType::kF32:
            return "F32";
        case DType::kF16:
            return "F16";
        case DType::kBF16:
            return "BF16";
        case DType::kI32:
            return "I32";
        case DType::kI64:
            return "I64";
    }
    return "?";
}

float f16_to_f32(uint16_t h) {
    const uint32_t sign = (h >> 15) & 1;
    const uint32_t exp = (h >> 10) & 0x1f;
    const uint32_t mant = h & 0x3ff;
    float v;
    if (exp == 0) {
        v = std::ldexp(static_cast<float>(mant), -24);  // subnormal (or zero)
    } else if (exp == 31) {
        v = mant ? NAN : INFINITY;
    } else {
        v = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
    }
    return sign ? -v : v;
}

void convert_to_f32(DType src_type, const void* src, size_t n, float* dst) {
    const auto* bytes = static_cast<const unsigned char*>(src);
    switch (src_type) {
        case DType::kF32:
            std::memcpy(dst, src, n * 4);
            return;
        case DType::kF16:
            for (size_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, bytes + 2 * i, 2);
                dst[i] = f16_to_f32(h);
            }
            return;
        case DType::kBF16:
            for (size_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, bytes + 2 * i, 2);
                dst[i] = bf16_to_f32(h);
            }
            return;
        default:
            BGE_CHECK(false && "convert_to_f32 takes floating types only");
    }
}

}  // namespace bge
