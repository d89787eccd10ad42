// JSON-lines plumbing of the CLI: numbered input lines, typed field access with messages that
// name the line and field, and float output that round-trips.
#pragma once

#include <cstdint>
#include <istream>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "bge/engine.h"
#include "bge/status.h"

namespace bge::cli {

// One parsed input line.
struct InputLine {
    int64_t number = 0;  // 1-based line number on stdin
    nlohmann::json value;
};

// Reads up to `max_lines` lines from `in` and parses each as one JSON value. A line that is not valid
// JSON (invalid UTF-8 included) is kInvalidArgument "stdin line N: ...". Returns an empty vector at EOF.
StatusOr<std::vector<InputLine>> read_json_lines(std::istream& in, int max_lines, int64_t& line_counter);

// The string of `line` itself or of its field `text`: "stdin line N: expected a JSON string or {"text": ...}".
StatusOr<std::string> text_of(const InputLine& line);
// The string field `name` of an object line.
StatusOr<std::string> string_field(const InputLine& line, const char* name);

// The {"query": string, "passage": string} of each line.
StatusOr<std::vector<TextPair>> pairs_of(const std::vector<InputLine>& lines);

// Appends the shortest decimal that reads back as exactly `v` (std::to_chars); non-finite values as null.
void append_float(std::string& out, float v);
void append_float_array(std::string& out, std::span<const float> values);
void append_int_array(std::string& out, std::span<const int32_t> values);

}  // namespace bge::cli
