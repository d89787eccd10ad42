// cli::LineReader and read_json_lines: lines split exactly as std::getline would at any read size, a
// line past the bound refused in bounded memory, read errors reported, raw NUL bytes refused.
#include "cli/line_reader.h"

#include <gtest/gtest.h>

#include <random>

#include "cli/jsonl.h"
#include "string_reader.h"

namespace bge::cli {
namespace {

// Every line of `in`, or the first error.
StatusOr<std::vector<std::string>> all_lines(LineReader& in) {
    std::vector<std::string> lines;
    std::string line;
    while (true) {
        BGE_ASSIGN_OR_RETURN(const bool more, in.next(line));
        if (!more) return lines;
        lines.push_back(line);
    }
}

// What std::getline gives: split at '\n', a last line without '\n' kept, no line after a final '\n'.
std::vector<std::string> reference_split(const std::string& s) {
    std::vector<std::string> lines;
    size_t begin = 0;
    while (begin < s.size()) {
        const size_t nl = s.find('\n', begin);
        if (nl == std::string::npos) {
            lines.push_back(s.substr(begin));
            break;
        }
        lines.push_back(s.substr(begin, nl - begin));
        begin = nl + 1;
    }
    return lines;
}

TEST(LineReader, SplitsLikeGetlineAtEveryReadSize) {
    std::mt19937 rng(7);
    for (int iteration = 0; iteration < 2000; ++iteration) {
        std::string data(rng() % 300, 'x');
        for (char& c : data) c = "ab\n\r\0"[rng() % 5];
        const size_t chunk = 1 + rng() % 70;
        const size_t bound = rng() % 40;
        LineReader in(string_reader(data, chunk), bound);
        const auto got = all_lines(in);
        const auto want = reference_split(data);
        size_t first_long = want.size();
        for (size_t i = 0; i < want.size(); ++i) {
            if (want[i].size() > bound) {
                first_long = i;
                break;
            }
        }
        if (first_long == want.size()) {
            ASSERT_TRUE(got.ok()) << got.status().message();
            ASSERT_EQ(*got, want);
        } else {
            ASSERT_FALSE(got.ok());
            EXPECT_EQ(got.status().code(), StatusCode::kOutOfRange);
            EXPECT_EQ(got.status().message(), "stdin line " + std::to_string(first_long + 1) + " is longer than " +
                                                  std::to_string(bound) + " bytes (--max-line-bytes)");
        }
    }
}

// An endless line is refused once the bound is passed: the reader has read at most the bound plus one buffer.
TEST(LineReader, EndlessLineStopsAtTheBound) {
    size_t handed_out = 0;
    LineReader in(
        [&](char* buf, size_t size) -> StatusOr<size_t> {
            std::memset(buf, 0, size);
            handed_out += size;
            return size;
        },
        1 << 20);
    std::string line;
    auto r = in.next(line);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("stdin line 1 is longer than 1048576 bytes"), std::string::npos);
    EXPECT_LE(handed_out, (1u << 20) + (1u << 16));
    EXPECT_LE(line.capacity(), size_t{2} << 20);
}

TEST(LineReader, ReadErrorIsReported) {
    LineReader in(string_reader("\"a\"\n\"b\"", 3, /*fail_at_end=*/true), 100);
    const auto got = all_lines(in);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().message(), "reading stdin failed: Input/output error");
}

TEST(ReadJsonLines, RawNulIsAnErrorNamingTheLine) {
    LineReader in(string_reader(std::string("\"ok\"\n\"a\"\0\"b\"\n", 13)), 100);
    std::vector<InputLine> lines;
    const Status s = read_json_lines(in, 10, lines);
    EXPECT_EQ(s.message(), "stdin line 2: raw NUL byte at byte 4, not valid JSON (a string may hold \\u0000)");
    ASSERT_EQ(lines.size(), 1u);  // the lines before it
    EXPECT_EQ(lines[0].value, "ok");
}

TEST(ReadJsonLines, EscapedNulStaysValid) {
    LineReader in(string_reader("\"a\\u0000b\"\n"), 100);
    std::vector<InputLine> lines;
    ASSERT_TRUE(read_json_lines(in, 10, lines).ok());
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].value.get<std::string>(), std::string("a\0b", 3));
}

// A chunk ends after the line that reaches max_line_bytes in all, whatever the line count asked.
TEST(ReadJsonLines, ChunkBytesStayBounded) {
    std::string data;
    for (int i = 0; i < 100; ++i) data += "\"0123456789\"\n";  // 12 bytes a line
    LineReader in(string_reader(data), 30);
    std::vector<InputLine> lines;
    ASSERT_TRUE(read_json_lines(in, 1000, lines).ok());
    EXPECT_EQ(lines.size(), 3u);  // 36 bytes >= 30
    int64_t total = 3;
    while (true) {
        ASSERT_TRUE(read_json_lines(in, 1000, lines).ok());
        if (lines.empty()) break;
        total += static_cast<int64_t>(lines.size());
        EXPECT_EQ(lines.front().number, total - static_cast<int64_t>(lines.size()) + 1);
    }
    EXPECT_EQ(total, 100);
}

}  // namespace
}  // namespace bge::cli
