#include "core/dtype.h"

#include <bit>
#include <cstring>

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
    // Bit arithmetic, no libm call, so that convert_to_f32's loop vectorizes (loading an F16 checkpoint).
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    const uint32_t mant = h & 0x3ffu;
    // Normal: rebias the exponent (15 -> 127); infinity and NaN: the all-ones exponent, the payload kept.
    const uint32_t wide = exp == 31 ? 0x7f800000u | (mant << 13) : ((exp + 112u) << 23) | (mant << 13);
    // Subnormal (or zero): mant * 2^-24, exact in float.
    const float magnitude = exp == 0 ? static_cast<float>(mant) * 0x1p-24f : std::bit_cast<float>(wide);
    return std::bit_cast<float>(std::bit_cast<uint32_t>(magnitude) | sign);
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
