// Host memory helpers for the CPU backend: 64-byte aligned (a cache line, one AVX-512 vector).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>

namespace bge::cpu {

constexpr size_t kAlignment = 64;

// Aligned allocation of at least `bytes` (0 still gets a real block); nullptr when memory is exhausted.
void* aligned_alloc_or_null(size_t bytes);
// The same, aborting with a message when memory is exhausted (scratch and weights sized by the model).
void* aligned_alloc_or_die(size_t bytes);

struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
};

// A scratch buffer that only grows; reserve() allocates only when more bytes are needed.
class ScratchBuffer {
 public:
    void* reserve(size_t bytes) {
        if (bytes > size_) {
            data_.reset(aligned_alloc_or_die(bytes));
            size_ = bytes;
        }
        return data_.get();
    }
    void* data() const { return data_.get(); }

 private:
    std::unique_ptr<void, FreeDeleter> data_;
    size_t size_ = 0;
};

}  // namespace bge::cpu
