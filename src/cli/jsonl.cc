#include "cli/jsonl.h"

#include <charconv>
#include <cmath>

#include "core/check.h"

namespace bge::cli {

Status read_json_lines(LineReader& in, int max_lines, std::vector<InputLine>& lines) {
    lines.clear();
    std::string text;
    size_t chunk_bytes = 0;
    while (static_cast<int>(lines.size()) < max_lines && chunk_bytes < in.max_line_bytes()) {
        BGE_ASSIGN_OR_RETURN(const bool more, in.next(text));
        if (!more) break;
        const std::string where = "stdin line " + std::to_string(in.line_number());
        if (!text.empty() && text.back() == '\r') text.pop_back();
        chunk_bytes += text.size();
        // nlohmann's parser takes a NUL byte for the end of input and would ignore what follows.
        if (const size_t nul = text.find('\0'); nul != std::string::npos) {
            return invalid_argument(where + ": raw NUL byte at byte " + std::to_string(nul + 1) +
                                    ", not valid JSON (a string may hold \\u0000)");
        }
        InputLine line{in.line_number(), nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false)};
        if (line.value.is_discarded()) {
            return invalid_argument(where +
                                    (text.empty() ? ": empty line, expected a JSON value" : ": not valid JSON"));
        }
        lines.push_back(std::move(line));
    }
    return ok_status();
}

StatusOr<std::string> string_field(const InputLine& line, const char* name) {
    const std::string where = "stdin line " + std::to_string(line.number);
    if (!line.value.is_object()) return invalid_argument(where + ": expected a JSON object");
    auto it = line.value.find(name);
    if (it == line.value.end()) return invalid_argument(where + ": field '" + name + "' is missing");
    if (!it->is_string()) return invalid_argument(where + ": field '" + name + "' must be a string");
    return it->get<std::string>();
}

StatusOr<std::string> text_of(const InputLine& line) {
    if (line.value.is_string()) return line.value.get<std::string>();
    if (line.value.is_object()) return string_field(line, "text");
    return invalid_argument("stdin line " + std::to_string(line.number) +
                            ": expected a JSON string or {\"text\": string}");
}

StatusOr<TextPair> pair_of(const InputLine& line) {
    TextPair pair;
    BGE_ASSIGN_OR_RETURN(pair.query, string_field(line, "query"));
    BGE_ASSIGN_OR_RETURN(pair.passage, string_field(line, "passage"));
    return pair;
}

void append_float(std::string& out, float v) {
    BGE_CHECK(std::isfinite(v));
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
}

void append_float_array(std::string& out, std::span<const float> values) {
    out += '[';
    for (size_t i = 0; i < values.size(); ++i) {
        if (i) out += ',';
        append_float(out, values[i]);
    }
    out += ']';
}

void append_int_array(std::string& out, std::span<const int32_t> values) {
    out += '[';
    for (size_t i = 0; i < values.size(); ++i) {
        if (i) out += ',';
        out += std::to_string(values[i]);
    }
    out += ']';
}

}  // namespace bge::cli
