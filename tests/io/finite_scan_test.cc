// io::first_non_finite / check_finite: every NaN and Inf encoding of F32, F16 and BF16 is found at its
// exact index (unaligned data, block boundaries), finite extremes are not, integer tensors are skipped.
#include "io/finite_scan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace bge::io {
namespace {

RawTensor tensor_over(const std::vector<uint8_t>& bytes, size_t offset, DType dtype, std::vector<int64_t> shape) {
    RawTensor t;
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.data = bytes.data() + offset;
    t.nbytes = static_cast<size_t>(t.numel()) * dtype_size(dtype);
    return t;
}

template <typename U>
void put(std::vector<uint8_t>& bytes, size_t offset, int64_t i, U v) {
    std::memcpy(bytes.data() + offset + static_cast<size_t>(i) * sizeof(U), &v, sizeof(U));
}

TEST(FiniteScan, FindsEachEncodingAtItsIndex) {
    const int64_t n = 10000;  // several scan blocks
    struct Case {
        DType dtype;
        std::vector<uint32_t> bad;   // NaN, Inf, -Inf, a signalling NaN
        std::vector<uint32_t> good;  // max, -max, smallest subnormal, -0
    };
    const Case cases[] = {
        {DType::kF32,
         {0x7fc00000, 0x7f800000, 0xff800000, 0x7f800001},
         {0x7f7fffff, 0xff7fffff, 0x00000001, 0x80000000}},
        {DType::kF16, {0x7e00, 0x7c00, 0xfc00, 0x7c01}, {0x7bff, 0xfbff, 0x0001, 0x8000}},
        {DType::kBF16, {0x7fc0, 0x7f80, 0xff80, 0x7f81}, {0x7f7f, 0xff7f, 0x0001, 0x8000}},
    };
    for (const Case& c : cases) {
        const size_t width = dtype_size(c.dtype);
        for (size_t offset : {0, 1, 3}) {  // unaligned data
            std::vector<uint8_t> bytes(n * width + 8, 0);
            for (int64_t i = 0; i < n; ++i) {
                const uint32_t g = c.good[static_cast<size_t>(i) % c.good.size()];
                width == 4 ? put<uint32_t>(bytes, offset, i, g)
                           : put<uint16_t>(bytes, offset, i, static_cast<uint16_t>(g));
            }
            const RawTensor t = tensor_over(bytes, offset, c.dtype, {100, 100});
            EXPECT_EQ(first_non_finite(t), -1) << dtype_name(c.dtype);
            EXPECT_TRUE(check_finite("w", t).ok());
            for (int64_t at : {int64_t{0}, int64_t{4095}, int64_t{4096}, n - 1}) {
                for (size_t k = 0; k < c.bad.size(); ++k) {
                    std::vector<uint8_t> b = bytes;
                    width == 4 ? put<uint32_t>(b, offset, at, c.bad[k])
                               : put<uint16_t>(b, offset, at, static_cast<uint16_t>(c.bad[k]));
                    const RawTensor bad = tensor_over(b, offset, c.dtype, {100, 100});
                    EXPECT_EQ(first_non_finite(bad), at) << dtype_name(c.dtype) << " " << k;
                    const std::string want = "element " + std::to_string(at) + " (index [" + std::to_string(at / 100) +
                                             ", " + std::to_string(at % 100) + "]) is " +
                                             (k == 0 || k == 3 ? "NaN" : "Inf");
                    const Status s = check_finite("encoder.w", bad);
                    EXPECT_EQ(s.code(), StatusCode::kDataLoss);
                    EXPECT_NE(s.message().find("tensor 'encoder.w' in ?: " + want), std::string::npos) << s.message();
                }
            }
        }
    }
}

TEST(FiniteScan, IntegerTensorsAreNotScanned) {
    std::vector<uint8_t> bytes(64, 0xff);
    EXPECT_EQ(first_non_finite(tensor_over(bytes, 0, DType::kI64, {8})), -1);
    EXPECT_EQ(first_non_finite(tensor_over(bytes, 0, DType::kI32, {16})), -1);
}

}  // namespace
}  // namespace bge::io
