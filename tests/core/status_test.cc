// Status/StatusOr behaviour and the dtype conversions every weight loader relies on.
#include "bge/status.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/dtype.h"

namespace bge {
namespace {

StatusOr<int> half_of(int x) {
    if (x % 2) return invalid_argument("odd: " + std::to_string(x));
    return x / 2;
}

Status quarter(int x, int* out) {
    BGE_ASSIGN_OR_RETURN(int h, half_of(x));
    BGE_ASSIGN_OR_RETURN(*out, half_of(h));
    return ok_status();
}

TEST(Status, PropagatesFirstError) {
    int out = 0;
    EXPECT_TRUE(quarter(8, &out).ok());
    EXPECT_EQ(out, 2);
    Status s = quarter(6, &out);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(), "odd: 3");
    EXPECT_EQ(s.with_context("file x").to_string(), "invalid argument: file x: odd: 3");
}

TEST(Status, StatusOrFromOkStatusIsInternalError) {
    StatusOr<int> v = ok_status();
    EXPECT_FALSE(v.ok());
    EXPECT_EQ(v.status().code(), StatusCode::kInternal);
}

TEST(DType, HalfConversionsAreExact) {
    EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
    EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
    EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
    EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
    EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
    EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
    EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
    EXPECT_EQ(bf16_to_f32(0xc2f7), -123.5f);
    const uint16_t raw[2] = {0x3555, 0xbc00};  // 0.333251953125, -1
    float out[2];
    convert_to_f32(DType::kF16, raw, 2, out);
    EXPECT_EQ(out[0], 0.333251953125f);
    EXPECT_EQ(out[1], -1.0f);
}

// Every F16 bit pattern against the IEEE definition: (-1)^s * 2^(e-15) * 1.m, subnormals 2^-14 * 0.m, e = 31
// infinity (m = 0) or NaN.
TEST(DType, EveryHalfValueConvertsExactly) {
    for (uint32_t h = 0; h <= 0xffff; ++h) {
        const int sign = (h >> 15) ? -1 : 1;
        const int exp = (h >> 10) & 0x1f;
        const int mant = h & 0x3ff;
        const float got = f16_to_f32(static_cast<uint16_t>(h));
        if (exp == 31) {
            EXPECT_TRUE(mant ? std::isnan(got) : got == sign * INFINITY) << std::hex << h;
            continue;
        }
        const double want = exp == 0 ? sign * std::ldexp(mant, -24) : sign * std::ldexp(mant + 1024, exp - 25);
        EXPECT_EQ(static_cast<double>(got), want) << std::hex << h;
        EXPECT_EQ(std::signbit(got), sign < 0) << std::hex << h;  // -0 too
    }
}

}  // namespace
}  // namespace bge
