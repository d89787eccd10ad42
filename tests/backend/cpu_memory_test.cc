// CPU backend memory: allocation, copies and upload round-trip bytes exactly.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend_test_util.h"

namespace bge {
namespace {

// alloc gives aligned, writable memory of the requested shape and dtype, even when empty.
TEST(CpuMemoryTest, AllocShapesAndAlignment) {
    auto backend = make_cpu_backend(1);
    EXPECT_EQ(backend->name(), "cpu");
    EXPECT_EQ(backend->activation_dtype(), DType::kF32);
    DeviceTensor t = test::ok_value(backend->alloc(DType::kI32, 3, 5));
    ASSERT_NE(t.view.data, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.view.data) % 64, 0u);
    EXPECT_EQ(t.view.dtype, DType::kI32);
    EXPECT_EQ(t.view.bytes(), 60u);
    DeviceTensor empty = test::ok_value(backend->alloc(DType::kF32, 0, 7));
    EXPECT_NE(empty.view.data, nullptr);
    EXPECT_EQ(empty.view.bytes(), 0u);
}

// copy_to_device then copy_to_host returns the same bytes; upload equals alloc + copy.
TEST(CpuMemoryTest, CopiesRoundTrip) {
    auto backend = make_cpu_backend(0);
    const std::vector<int32_t> ids = {5, -1, 7, 1 << 30};
    DeviceTensor t = test::ok_value(backend->alloc(DType::kI32, 4, 1));
    backend->copy_to_device(ids.data(), t.view);
    std::vector<int32_t> back(4);
    backend->copy_to_host(t.view, back.data());
    EXPECT_EQ(back, ids);

    const std::vector<float> host = test::random_floats(6 * 5, 1);
    DeviceTensor u = test::ok_value(backend->upload(host.data(), 6, 5, DType::kF32));
    EXPECT_EQ(test::to_host(*backend, u.view), host);
    EXPECT_EQ(test::to_host(*backend, u.view.row_slice(2, 3)),
              std::vector<float>(host.begin() + 10, host.begin() + 25));
}

}  // namespace
}  // namespace bge
