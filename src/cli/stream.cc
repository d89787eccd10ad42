#include "cli/stream.h"

#include <iostream>

#include "cli/progress.h"

namespace bge::cli {

int stream_json_lines(const CommonOptions& options, const char* what, const ChunkProcessor& process) {
    Progress progress(what, options.quiet);
    int64_t line_counter = 0;
    std::string out;
    while (true) {
        auto lines = read_json_lines(std::cin, options.batch_size, line_counter);
        if (!lines.ok()) return fail(lines.status());
        if (lines->empty()) return 0;
        out.clear();
        auto tokens = process(*lines, out);
        if (!tokens.ok()) return fail(tokens.status());
        std::cout << out << std::flush;
        progress.add(static_cast<int64_t>(lines->size()), *tokens);
    }
}

}  // namespace bge::cli
