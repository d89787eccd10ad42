// The loop every JSON-lines subcommand shares: read stdin in chunks, process, print, report progress.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/jsonl.h"

namespace bge::cli {

// Turns one chunk of input lines into output lines appended to `out`; returns the tokens it ran.
using ChunkProcessor = std::function<StatusOr<int64_t>(const std::vector<InputLine>& lines, std::string& out)>;

// Reads stdin in chunks of options.batch_size lines until EOF and writes each chunk's output, in
// order, before reading the next. Returns the exit code: 0, or 1 after the first error.
int stream_json_lines(const CommonOptions& options, const char* what, const ChunkProcessor& process);

}  // namespace bge::cli
