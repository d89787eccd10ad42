// The loop every JSON-lines subcommand shares: read stdin in chunks, parse each line, run the chunk,
// write its output in order, report progress. On the first error the command stops: stdout then holds
// the output of every line before the failing one, and stderr one line naming it.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/jsonl.h"
#include "cli/progress.h"

namespace bge::cli {

// Writes one chunk's output and adds it to the progress report.
class ChunkSink {
 public:
    ChunkSink(const char* what, bool quiet) : progress_(what, quiet) {}
    Status write(const std::string& out, int64_t inputs, int64_t tokens);

 private:
    Progress progress_;
};

// Reads chunks of at most options.batch_size lines (options.max_line_bytes per line).
LineReader stdin_lines(const CommonOptions& options);

// Runs `run` over `inputs` (lines `numbers`) and hands its output to write(out, n_inputs, tokens) -> Status.
// When it fails on several inputs they run one at a time (outputs do not depend on the batch), so that
// the error names its stdin line and the output of the lines before it is written.
template <typename Input>
using ChunkRunner = std::function<StatusOr<int64_t>(std::span<const Input> inputs, std::string& out)>;

template <typename Input, typename Write>
Status run_chunk(std::span<const Input> inputs, std::span<const int64_t> numbers, const ChunkRunner<Input>& run,
                 Write&& write) {
    std::string out;
    auto tokens = run(inputs, out);
    if (tokens.ok()) return write(out, static_cast<int64_t>(inputs.size()), *tokens);
    if (inputs.size() == 1) return tokens.status().with_context("stdin line " + std::to_string(numbers[0]));
    for (size_t i = 0; i < inputs.size(); ++i) {
        BGE_RETURN_IF_ERROR(run_chunk(inputs.subspan(i, 1), numbers.subspan(i, 1), run, write));
    }
    return ok_status();
}

// parse: one line to the command's input; its errors name the line. run: a chunk of inputs to output
// lines appended to `out`, returning the tokens it ran; its errors need not name a line.
// Returns the exit code: 0, or 1 after the first error (one "bge: ..." line on stderr).
template <typename Input>
int stream_json_lines(const CommonOptions& options, const char* what,
                      const std::function<StatusOr<Input>(InputLine& line)>& parse, const ChunkRunner<Input>& run) {
    LineReader reader = stdin_lines(options);
    ChunkSink sink(what, options.quiet);
    std::vector<InputLine> lines;
    std::vector<Input> inputs;
    std::vector<int64_t> numbers;
    while (true) {
        Status status = read_json_lines(reader, options.batch_size, lines);
        inputs.clear();
        numbers.clear();
        for (InputLine& line : lines) {
            auto input = parse(line);
            if (!input.ok()) {
                status = input.status();
                break;
            }
            inputs.push_back(std::move(input).value());
            numbers.push_back(line.number);
        }
        if (!inputs.empty()) {
            const auto write = [&](const std::string& out, int64_t n, int64_t tokens) {
                return sink.write(out, n, tokens);
            };
            if (Status s = run_chunk<Input>(inputs, numbers, run, write); !s.ok()) return fail(s);
        }
        if (!status.ok()) return fail(status);
        if (lines.empty()) return 0;
    }
}

}  // namespace bge::cli
