#include "cli/jsonl.h"

#include <charconv>
#include <cmath>

namespace bge::cli {

StatusOr<std::vector<InputLine>> read_json_lines(std::istream& in, int max_lines, int64_t& line_counter) {
    std::vector<InputLine> lines;
    std::string text;
    while (static_cast<int>(lines.size()) < max_lines && std::getline(in, text)) {
        ++line_counter;
        if (!text.empty() && text.back() == '\r') text.pop_back();
        InputLine line{line_counter, nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false)};
        if (line.value.is_discarded()) {
            return invalid_argument("stdin line " + std::to_string(line_counter) +
                                    (text.empty() ? ": empty line, expected a JSON value" : ": not valid JSON"));
        }
        lines.push_back(std::move(line));
    }
    if (in.bad()) return internal_error("reading stdin failed");
    return lines;
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

StatusOr<std::vector<TextPair>> pairs_of(const std::vector<InputLine>& lines) {
    std::vector<TextPair> pairs;
    for (const InputLine& line : lines) {
        TextPair pair;
        BGE_ASSIGN_OR_RETURN(pair.query, string_field(line, "query"));
        BGE_ASSIGN_OR_RETURN(pair.passage, string_field(line, "passage"));
        pairs.push_back(std::move(pair));
    }
    return pairs;
}

void append_float(std::string& out, float v) {
    if (!std::isfinite(v)) {
        out += "null";
        return;
    }
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
