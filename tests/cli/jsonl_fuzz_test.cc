// Randomized mutation test of the CLI's JSON-lines reader: mutated input (bytes flipped, inserted,
// deleted, lines cut) never crashes; each call either parses or names the offending stdin line.
// Runs a bounded time: BGE_FUZZ_SECONDS (default 2).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <random>

#include "cli/jsonl.h"
#include "string_reader.h"
#include "support/fuzz_env.h"

namespace bge::cli {
namespace {

const std::vector<std::string> kSeeds = {
    "\"hello world\"\n{\"text\": \"Grüße 日本\"}\n",
    "{\"query\": \"what is a panda?\", \"passage\": \"The giant panda \\u00e9 bear.\"}\n",
    "[\"a\", \"b\"]\n\"\\ud83d\\ude00 emoji\"\n",
};

double fuzz_seconds() {
    return testing::fuzz_seconds(2.0);
}

std::string mutate(std::string s, std::mt19937& rng) {
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
        const size_t pos = s.empty() ? 0 : rng() % s.size();
        switch (rng() % 4) {
            case 0:
                if (!s.empty()) s[pos] = static_cast<char>(rng());
                break;
            case 1:
                s.insert(s.begin() + static_cast<std::ptrdiff_t>(pos), static_cast<char>(rng()));
                break;
            case 2:
                if (!s.empty()) s.erase(pos, 1 + rng() % 3);
                break;
            default:
                s.resize(pos);
                break;
        }
    }
    return s;
}

TEST(JsonlFuzz, MutatedInputParsesOrNamesTheLine) {
    std::mt19937 rng(12345);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(fuzz_seconds());
    int64_t iterations = 0, errors = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        const std::string input = mutate(kSeeds[rng() % kSeeds.size()], rng);
        LineReader in(string_reader(input, 1 + rng() % 64), 256);  // reads of random sizes
        std::vector<InputLine> lines;
        const Status status = read_json_lines(in, 8, lines);
        ++iterations;
        if (!status.ok()) {
            ++errors;
            ASSERT_EQ(status.message().rfind("stdin line ", 0), 0u) << status.message();
        }
        for (const InputLine& line : lines) {
            for (const auto& r : {text_of(line), string_field(line, "query")}) {
                if (!r.ok()) {
                    ASSERT_EQ(r.status().message().rfind("stdin line ", 0), 0u);
                }
            }
        }
    }
    EXPECT_GT(iterations, 1000);
    EXPECT_GT(errors, 0);  // the mutations do reach the error paths
}

}  // namespace
}  // namespace bge::cli
