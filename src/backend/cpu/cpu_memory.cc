#include "backend/cpu/cpu_memory.h"

#include <cstdint>
#include <cstdio>

namespace bge::cpu {

void* aligned_alloc_or_null(size_t bytes) {
    if (bytes > SIZE_MAX - kAlignment) return nullptr;
    // std::aligned_alloc wants a multiple of the alignment.
    const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    return std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
}

void* aligned_alloc_or_die(size_t bytes) {
    void* p = aligned_alloc_or_null(bytes);
    if (p == nullptr) {
        std::fprintf(stderr, "bge cpu backend: out of memory allocating %zu bytes\n", bytes);
        std::abort();
    }
    return p;
}

}  // namespace bge::cpu
