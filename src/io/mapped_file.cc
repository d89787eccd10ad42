#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bge::io {

namespace {

std::string errno_text(int err) {
    return std::string(std::strerror(err));
}

}  // namespace

StatusOr<std::shared_ptr<const MappedFile>> MappedFile::open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT || err == ENOTDIR) return not_found(path + ": no such file");
        return internal_error(path + ": open failed: " + errno_text(err));
    }
    // fstat on the open descriptor, so the checks and the mapping see the same file.
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        return internal_error(path + ": fstat failed: " + errno_text(err));
    }
    if (S_ISDIR(st.st_mode)) {
        ::close(fd);
        return invalid_argument(path + ": is a directory, not a file");
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return invalid_argument(path + ": not a regular file");
    }
    size_t size = static_cast<size_t>(st.st_size);
    const uint8_t* data = nullptr;
    if (size > 0) {
        void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int err = errno;
            ::close(fd);
            return internal_error(path + ": mmap of " + std::to_string(size) + " bytes failed: " + errno_text(err));
        }
        data = static_cast<const uint8_t*>(p);
    }
    // The mapping stays valid after the descriptor is closed.
    ::close(fd);
    return std::shared_ptr<const MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace bge::io
