// Reads input lines in bounded memory: a line longer than the bound is an error as soon as the bound
// is passed, never buffered whole (stdin may be /dev/zero). Every read error is reported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bge/status.h"

namespace bge::cli {

// Reads up to `size` bytes into `buf`: the count, 0 at end of input, or the read error.
using ReadFn = std::function<StatusOr<size_t>(char* buf, size_t size)>;

// read(2) on `fd`, retried on EINTR and waited for (poll) on a non-blocking descriptor; an error names `name`.
ReadFn fd_reader(int fd, std::string name);

class LineReader {
 public:
    LineReader(ReadFn read, size_t max_line_bytes);

    // The next line, without its '\n', into `line`: true, or false at end of input (a last line without
    // '\n' still counts). A line of more than max_line_bytes bytes is kOutOfRange naming its number.
    StatusOr<bool> next(std::string& line);

    int64_t line_number() const { return line_number_; }  // of the last line returned
    size_t max_line_bytes() const { return max_line_bytes_; }

 private:
    ReadFn read_;
    size_t max_line_bytes_;
    std::vector<char> buffer_;
    size_t begin_ = 0;  // unread bytes are buffer_[begin_, end_)
    size_t end_ = 0;
    bool eof_ = false;
    int64_t line_number_ = 0;
};

}  // namespace bge::cli
