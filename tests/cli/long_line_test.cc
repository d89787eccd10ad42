// A long but legitimate stdin line (50 MB of text) works under the default --max-line-bytes: truncated
// to the model's length, its ids equal those of a prefix far longer than that length (label large: the
// whole line is tokenized today, which takes seconds).
#include <gtest/gtest.h>

#include "cli_run.h"

namespace bge {
namespace {

TEST(LongLine, FiftyMegabytesOfTextAreTruncatedNotRefused) {
    std::string words;
    for (int i = 0; words.size() < 100'000; ++i)
        words += (i % 3 == 0 ? "Deutschland " : i % 3 == 1 ? "Россия " : "日本 ");
    std::string text = words;
    while (text.size() < 50'000'000) text += words;
    const std::string model = "--model " + std::string(BGE_TEST_DIR) + "/golden/m3";
    const auto whole = testing::run_bge(
        testing::CliRun{.args = "tokenize " + model, .input = "\"" + text + "\"\n", .timeout_seconds = 300});
    ASSERT_EQ(whole.exit_code, 0) << whole.err;
    const auto prefix = testing::run_bge("tokenize " + model, "\"" + words + "\"\n");
    ASSERT_EQ(prefix.exit_code, 0) << prefix.err;
    EXPECT_EQ(whole.out, prefix.out);
}

}  // namespace
}  // namespace bge
