// A read-only memory mapping of a whole file. Weights stay in the page cache and are read in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "bge/status.h"

namespace bge::io {

class MappedFile {
 public:
    // Maps `path` read-only, following symlinks. Errors: kNotFound (missing), kInvalidArgument (anything but a
    // regular file: a directory, FIFO or device, named; opening never blocks), kInternal (open, mmap).
    // An empty file maps to size() == 0, data() == nullptr.
    static StatusOr<std::shared_ptr<const MappedFile>> open(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    const std::string& path() const { return path_; }

 private:
    MappedFile(std::string path, const uint8_t* data, size_t size) : path_(std::move(path)), data_(data), size_(size) {}
    std::string path_;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace bge::io
