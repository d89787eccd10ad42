// Memory limits and allocation that fails with a Status instead of aborting or throwing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "bge/status.h"
#include "core/dtype.h"

namespace bge {

// This machine's physical memory in bytes (sysconf); the ceiling for host-side budgets.
uint64_t physical_memory_bytes();

// "12.8 GB" (powers of 1000, 3 significant digits) for messages.
std::string format_bytes(uint64_t bytes);

// "a F32 [rows, cols] tensor", for messages.
std::string tensor_description(DType dtype, int64_t rows, int64_t cols);

// The bytes of a [rows, cols] tensor of `dtype`; kResourceExhausted "<tensor> has no representable size" when a
// dimension is negative or the product overflows.
StatusOr<uint64_t> tensor_bytes(DType dtype, int64_t rows, int64_t cols);

// kResourceExhausted "out of memory: <what> needs <bytes> (...)".
Status out_of_memory(const std::string& what, uint64_t bytes);

// v.resize(n), with an allocation failure returned as kResourceExhausted naming `what` and the bytes.
// More than physical memory is refused without trying (Linux would overcommit it).
template <typename T>
Status resize_or_error(std::vector<T>& v, size_t n, const std::string& what) {
    if (n > physical_memory_bytes() / sizeof(T)) return out_of_memory(what, static_cast<uint64_t>(n) * sizeof(T));
    try {
        v.resize(n);
    } catch (const std::bad_alloc&) {
        return out_of_memory(what, static_cast<uint64_t>(n) * sizeof(T));
    } catch (const std::length_error&) {
        return out_of_memory(what, static_cast<uint64_t>(n) * sizeof(T));
    }
    return ok_status();
}

}  // namespace bge
