// A ReadFn over bytes in memory that hands them out at most `chunk` bytes per read, and optionally fails
// after them, so that tests reach every buffer boundary and the read-error path of cli::LineReader.
#pragma once

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "cli/line_reader.h"

namespace bge::cli {

inline ReadFn string_reader(std::string data, size_t chunk = SIZE_MAX, bool fail_at_end = false) {
    auto at = std::make_shared<size_t>(0);
    return [data = std::move(data), chunk, fail_at_end, at](char* buf, size_t size) -> StatusOr<size_t> {
        const size_t n = std::min({size, chunk, data.size() - *at});
        if (n == 0 && fail_at_end) return internal_error("reading stdin failed: Input/output error");
        std::memcpy(buf, data.data() + *at, n);
        *at += n;
        return n;
    };
}

}  // namespace bge::cli
