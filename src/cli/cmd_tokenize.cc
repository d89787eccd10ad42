// bge tokenize: stdin a JSON string or [a, b] per line; stdout {"ids": [...]}.
#include "cli/stream.h"

namespace bge::cli {
namespace {

StatusOr<std::vector<int32_t>> tokenize_line(const Tokenizer& tokenizer, const InputLine& line, int max_length) {
    if (line.value.is_string()) return tokenizer.encode(line.value.get<std::string>(), max_length);
    const auto& v = line.value;
    if (v.is_array() && v.size() == 2 && v[0].is_string() && v[1].is_string()) {
        return tokenizer.encode_pair(v[0].get<std::string>(), v[1].get<std::string>(), max_length);
    }
    return invalid_argument("expected a JSON string or an array of two strings");
}

}  // namespace

int run_tokenize(const CommonOptions& options) {
    auto tokenizer = Tokenizer::open(options.model);
    if (!tokenizer.ok()) return fail(tokenizer.status());
    return stream_json_lines(options, "tokenize",
                             [&](const std::vector<InputLine>& lines, std::string& out) -> StatusOr<int64_t> {
                                 int64_t tokens = 0;
                                 for (const InputLine& line : lines) {
                                     auto ids = tokenize_line(**tokenizer, line, options.max_length);
                                     if (!ids.ok())
                                         return ids.status().with_context("stdin line " + std::to_string(line.number));
                                     tokens += static_cast<int64_t>(ids->size());
                                     out += "{\"ids\":";
                                     append_int_array(out, *ids);
                                     out += "}\n";
                                 }
                                 return tokens;
                             });
}

}  // namespace bge::cli
