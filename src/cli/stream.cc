#include "cli/stream.h"

#include <unistd.h>

#include "cli/output.h"

namespace bge::cli {

Status ChunkSink::write(const std::string& out, int64_t inputs, int64_t tokens) {
    BGE_RETURN_IF_ERROR(write_stdout(out));
    progress_.add(inputs, tokens);
    return ok_status();
}

LineReader stdin_lines(const CommonOptions& options) {
    return LineReader(fd_reader(STDIN_FILENO, "stdin"), options.max_line_bytes);
}

}  // namespace bge::cli
