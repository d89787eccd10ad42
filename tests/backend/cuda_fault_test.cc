// A device fault (an illegal address: sticky for the CUDA context) makes the backend return error Statuses, ever
// after, and never abort. Runs in a fresh child process (gtest's threadsafe death-test style), since the fault
// poisons the process's context.
#include <gtest/gtest.h>

#include <cstdlib>

#include "backend/cuda/cuda_backend.h"

namespace bge {
namespace {

// 0: the fault surfaced as errors; other codes say which step went wrong.
int fault_and_check() {
    auto backend = make_cuda_backend(0, DType::kF16);
    if (!backend.ok()) return 10;
    auto x = (*backend)->alloc(DType::kF16, 4, 1024);
    auto gamma = (*backend)->alloc(DType::kF32, 1, 1024);
    auto beta = (*backend)->alloc(DType::kF32, 1, 1024);
    if (!x.ok() || !gamma.ok() || !beta.ok()) return 11;
    Tensor bad = x->view;
    bad.data = reinterpret_cast<void*>(uintptr_t{1} << 47);  // no device memory there (16-byte aligned)
    (*backend)->add_layer_norm(bad, bad, gamma->view, beta->view, 1e-5f);
    const Status first = (*backend)->synchronize();
    if (first.ok()) return 12;
    if (first.code() != StatusCode::kInternal) return 13;
    (*backend)->add_layer_norm(x->view, x->view, gamma->view, beta->view, 1e-5f);  // a good op: the error sticks
    if ((*backend)->synchronize().ok()) return 14;
    return 0;
}

TEST(CudaFaultTest, AStickyErrorIsReturnedNotAborted) {
    if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(std::exit(fault_and_check()), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace bge
