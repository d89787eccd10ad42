#include "cli/line_reader.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace bge::cli {
namespace {

constexpr size_t kBufferSize = size_t{1} << 16;

}  // namespace

ReadFn fd_reader(int fd, std::string name) {
    return [fd, name = std::move(name)](char* buf, size_t size) -> StatusOr<size_t> {
        while (true) {
            const ssize_t n = ::read(fd, buf, size);
            if (n >= 0) return static_cast<size_t>(n);
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                pollfd p{fd, POLLIN, 0};
                if (::poll(&p, 1, -1) >= 0 || errno == EINTR) continue;
            }
            return internal_error("reading " + name + " failed: " + std::strerror(errno));
        }
    };
}

LineReader::LineReader(ReadFn read, size_t max_line_bytes)
    : read_(std::move(read)), max_line_bytes_(max_line_bytes), buffer_(kBufferSize) {}

StatusOr<bool> LineReader::next(std::string& line) {
    line.clear();
    while (true) {
        const char* first = buffer_.data() + begin_;
        const char* last = buffer_.data() + end_;
        const char* newline = std::find(first, last, '\n');
        const size_t take = static_cast<size_t>(newline - first);
        if (line.size() + take > max_line_bytes_) {
            return out_of_range("stdin line " + std::to_string(line_number_ + 1) + " is longer than " +
                                std::to_string(max_line_bytes_) + " bytes (--max-line-bytes)");
        }
        line.append(first, take);
        if (newline != last) {
            begin_ += take + 1;
            ++line_number_;
            return true;
        }
        begin_ = end_ = 0;
        if (eof_) break;
        BGE_ASSIGN_OR_RETURN(const size_t n, read_(buffer_.data(), buffer_.size()));
        if (n == 0) eof_ = true;
        end_ = n;
    }
    if (line.empty()) return false;
    ++line_number_;
    return true;
}

}  // namespace bge::cli
