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

Status out_of_memory(const std::string& what, uint64_t bytes) {
    return resource_exhausted("out of memory: " + what + " needs " + format_bytes(bytes) + " (" +
                              std::to_string(bytes) + " bytes)");
}

}  // namespace bge
