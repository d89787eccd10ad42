// JSON-lines plumbing of the CLI: numbered input lines, typed field access with messages that
// name the line and field, and float output that round-trips.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "bge/engine.h"
#include "bge/status.h"
#include "cli/line_reader.h"

namespace bge::cli {

// One parsed input line.
struct InputLine {
    int64_t number = 0;  // 1-based line number on stdin
    nlohmann::json value;
};

// Reads lines from `in` into `lines` (cleared first), each parsed as exactly one JSON value, until
// `max_lines` lines or, after the line that reaches it, in.max_line_bytes() bytes in all, so that a
// chunk stays within twice the line bound. A line that is not one JSON value (a raw NUL byte, invalid
// UTF-8 included) is kInvalidArgument "stdin line N: ..."; `lines` then holds the lines before it.
// Read errors and over-long lines end it the same way. No lines and ok: end of input.
Status read_json_lines(LineReader& in, int max_lines, std::vector<InputLine>& lines);

// The string of `line` itself or of its field `text`: "stdin line N: expected a JSON string or {"text": ...}".
StatusOr<std::string> text_of(const InputLine& line);
// The string field `name` of an object line.
StatusOr<std::string> string_field(const InputLine& line, const char* name);

// The {"query": string, "passage": string} of a line.
StatusOr<TextPair> pair_of(const InputLine& line);

// Appends the shortest decimal that reads back as exactly `v` (std::to_chars). `v` is finite: the
// engine never returns a non-finite output.
void append_float(std::string& out, float v);
void append_float_array(std::string& out, std::span<const float> values);
void append_int_array(std::string& out, std::span<const int32_t> values);

}  // namespace bge::cli
