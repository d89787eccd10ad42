// CPU backend memory: allocation, copies and upload round-trip bytes exactly.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend_test_util.h"
#include "core/memory.h"

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

// A size the machine cannot hold, or one that overflows, is kResourceExhausted naming the bytes; the
// backend stays usable and what a failed alloc did not take is not counted against later ones.
TEST(CpuMemoryTest, ExhaustionIsAStatusNamingTheBytes) {
    auto backend = make_cpu_backend(1);
    auto huge = backend->alloc(DType::kF32, int64_t{1} << 40, 1024);  // 4.5 PB
    ASSERT_FALSE(huge.ok());
    EXPECT_EQ(huge.status().code(), StatusCode::kResourceExhausted);
    EXPECT_NE(huge.status().message().find("4503599627370496 bytes"), std::string::npos) << huge.status().message();
    auto overflow = backend->alloc(DType::kI64, INT64_MAX, INT64_MAX);
    ASSERT_FALSE(overflow.ok());
    EXPECT_EQ(overflow.status().code(), StatusCode::kResourceExhausted);
    EXPECT_FALSE(backend->alloc(DType::kF32, -1, 4).ok());
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(backend->alloc(DType::kF32, 1024, 1024).ok());
}

// Live allocations together may not pass physical memory (Linux would overcommit, then kill the process).
TEST(CpuMemoryTest, LiveAllocationsStayWithinPhysicalMemory) {
    auto backend = make_cpu_backend(1);
    const int64_t quarter = static_cast<int64_t>(physical_memory_bytes() / 4 / sizeof(float));
    std::vector<DeviceTensor> held;
    for (int i = 0; i < 4; ++i) {
        auto t = backend->alloc(DType::kF32, quarter, 1);  // reserved only: pages are never touched
        ASSERT_TRUE(t.ok()) << t.status().message();
        held.push_back(std::move(t).value());
    }
    auto more = backend->alloc(DType::kF32, quarter, 1);
    ASSERT_FALSE(more.ok());
    EXPECT_NE(more.status().message().find("already allocated"), std::string::npos) << more.status().message();
    held.pop_back();
    EXPECT_TRUE(backend->alloc(DType::kF32, quarter, 1).ok());
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
