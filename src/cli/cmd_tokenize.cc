// bge tokenize: stdin a JSON string or [a, b] per line; stdout {"ids": [...]}.
#include "cli/stream.h"

namespace bge::cli {
namespace {

StatusOr<std::vector<int32_t>> tokenize_line(const Tokenizer& tokenizer, const nlohmann::json& v, int max_length) {
    if (v.is_string()) return tokenizer.encode(v.get<std::string>(), max_length);
    if (v.is_array() && v.size() == 2 && v[0].is_string() && v[1].is_string()) {
        return tokenizer.encode_pair(v[0].get<std::string>(), v[1].get<std::string>(), max_length);
    }
    return invalid_argument("expected a JSON string or an array of two strings");
}

}  // namespace

int run_tokenize(const CommonOptions& options) {
    auto tokenizer = Tokenizer::open(options.model);
    if (!tokenizer.ok()) return fail(tokenizer.status());
    return stream_json_lines<nlohmann::json>(
        options, "tokenize", [](InputLine& line) -> StatusOr<nlohmann::json> { return std::move(line.value); },
        [&](std::span<const nlohmann::json> values, std::string& out) -> StatusOr<int64_t> {
            int64_t tokens = 0;
            for (const nlohmann::json& value : values) {
                BGE_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenize_line(**tokenizer, value, options.max_length));
                tokens += static_cast<int64_t>(ids.size());
                out += "{\"ids\":";
                append_int_array(out, ids);
                out += "}\n";
            }
            return tokens;
        });
}

}  // namespace bge::cli
