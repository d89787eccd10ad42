// cli::run_chunk: a chunk that fails names the stdin line of the input that fails alone, and the output
// of the lines before it is written; a chunk that fails only as a whole still gives every output.
#include "cli/stream.h"

#include <gtest/gtest.h>

namespace bge::cli {
namespace {

struct Written {
    std::string out;
    int64_t inputs = 0;
    int64_t tokens = 0;
};

// Outputs "<input>\n" per input, 1 token each; fails on `bad` and on chunks of more than `max_chunk` inputs.
ChunkRunner<int> runner(int bad, size_t max_chunk) {
    return [=](std::span<const int> inputs, std::string& out) -> StatusOr<int64_t> {
        if (inputs.size() > max_chunk) return resource_exhausted("chunk too large");
        for (int i : inputs) {
            if (i == bad) return data_loss("input " + std::to_string(i) + " failed");
            out += std::to_string(i) + "\n";
        }
        return static_cast<int64_t>(inputs.size());
    };
}

Status run(const std::vector<int>& inputs, const ChunkRunner<int>& r, Written& w) {
    std::vector<int64_t> numbers;
    for (int i : inputs) numbers.push_back(100 + i);  // stdin line numbers
    return run_chunk<int>(inputs, numbers, r, [&](const std::string& out, int64_t n, int64_t tokens) {
        w.out += out;
        w.inputs += n;
        w.tokens += tokens;
        return ok_status();
    });
}

TEST(RunChunk, ErrorNamesTheLineAndKeepsTheOutputBefore) {
    Written w;
    const Status s = run({1, 2, 3, 4}, runner(3, 100), w);
    EXPECT_EQ(s.message(), "stdin line 103: input 3 failed");
    EXPECT_EQ(w.out, "1\n2\n");
    EXPECT_EQ(w.inputs, 2);
}

TEST(RunChunk, ChunkThatFailsOnlyWholeGivesEveryOutput) {
    Written w;
    ASSERT_TRUE(run({1, 2, 3}, runner(-1, 1), w).ok());
    EXPECT_EQ(w.out, "1\n2\n3\n");
    EXPECT_EQ(w.tokens, 3);
}

TEST(RunChunk, WriteErrorStopsIt) {
    std::vector<int> inputs = {1, 2};
    std::vector<int64_t> numbers = {1, 2};
    const Status s = run_chunk<int>(inputs, numbers, runner(-1, 100), [](const std::string&, int64_t, int64_t) {
        return internal_error("writing stdout failed: No space left on device");
    });
    EXPECT_EQ(s.message(), "writing stdout failed: No space left on device");
}

}  // namespace
}  // namespace bge::cli
