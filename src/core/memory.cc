#include "core/memory.h"

#include <unistd.h>

#include <cstdio>

namespace bge {

uint64_t physical_memory_bytes() {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page_size = ::sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page_size <= 0) return UINT64_MAX;  // unknown: no ceiling
    return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size);
}

std::string format_bytes(uint64_t bytes) {
    static constexpr const char* kUnits[] = {"bytes", "kB", "MB", "GB", "TB", "PB", "EB"};
    double v = static_cast<double>(bytes);
    size_t unit = 0;
    while (v >= 1000 && unit + 1 < std::size(kUnits)) {
        v /= 1000;
        ++unit;
    }
    char buf[32];
    if (unit == 0) {
        std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(bytes));
    } else {
        std::snprintf(buf, sizeof buf, "%.3g %s", v, kUnits[unit]);
    }
    return buf;
}

std::string tensor_description(DType dtype, int64_t rows, int64_t cols) {
    return "a " + std::string(dtype_name(dtype)) + " [" + std::to_string(rows) + ", " + std::to_string(cols) +
           "] tensor";
}

StatusOr<uint64_t> tensor_bytes(DType dtype, int64_t rows, int64_t cols) {
    uint64_t bytes = 0;
    if (rows < 0 || cols < 0 ||
        __builtin_mul_overflow(static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), &bytes) ||
        __builtin_mul_overflow(bytes, dtype_size(dtype), &bytes)) {
        return resource_exhausted(tensor_description(dtype, rows, cols) + " has no representable size");
    }
    return bytes;
}

Status out_of_memory(const std::string& what, uint64_t bytes) {
    return resource_exhausted("out of memory: " + what + " needs " + format_bytes(bytes) + " (" +
                              std::to_string(bytes) + " bytes)");
}

}  // namespace bge
