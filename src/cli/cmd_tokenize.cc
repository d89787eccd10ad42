// bge tokenize: stdin a JSON string or [a, b] per line; stdout {"ids": [...]}, with --offsets also
// "offsets": [[start, end], ...] (input bytes; [0, 0] for <s>/</s>) and "sequence": [-1, 0, ..., 1, -1].
// Needs only the tokenizer files and config.json of the folder, no weights.
#include "cli/stream.h"

namespace bge::cli {
namespace {

StatusOr<TokenizedText> tokenize_line(const Tokenizer& tokenizer, const nlohmann::json& v, int max_length, bool offsets) {
    auto ids_only = [](StatusOr<std::vector<int32_t>> ids) -> StatusOr<TokenizedText> {
        if (!ids.ok()) return ids.status();
        TokenizedText t;
        t.ids = std::move(ids).value();
        return t;
    };
    if (v.is_string()) {
        const std::string& text = v.get_ref<const std::string&>();
        return offsets ? tokenizer.encode_with_offsets(text, max_length) : ids_only(tokenizer.encode(text, max_length));
    }
    if (v.is_array() && v.size() == 2 && v[0].is_string() && v[1].is_string()) {
        const std::string& a = v[0].get_ref<const std::string&>();
        const std::string& b = v[1].get_ref<const std::string&>();
        return offsets ? tokenizer.encode_pair_with_offsets(a, b, max_length)
                       : ids_only(tokenizer.encode_pair(a, b, max_length));
    }
    return invalid_argument("expected a JSON string or an array of two strings");
}

void append_offsets(std::string& out, const TokenizedText& t) {
    out += ",\"offsets\":[";
    for (size_t i = 0; i < t.offsets.size(); ++i) {
        if (i > 0) out += ',';
        out += '[' + std::to_string(t.offsets[i].start) + ',' + std::to_string(t.offsets[i].end) + ']';
    }
    out += "],\"sequence\":[";
    for (size_t i = 0; i < t.sequence.size(); ++i) {
        if (i > 0) out += ',';
        out += std::to_string(t.sequence[i]);
    }
    out += ']';
}

}  // namespace

int run_tokenize(const CommonOptions& options, bool offsets) {
    auto tokenizer = Tokenizer::open(options.model);
    if (!tokenizer.ok()) return fail(tokenizer.status());
    return stream_json_lines<nlohmann::json>(
        options, "tokenize", [](InputLine& line) -> StatusOr<nlohmann::json> { return std::move(line.value); },
        [&](std::span<const nlohmann::json> values, std::string& out) -> StatusOr<int64_t> {
            int64_t tokens = 0;
            for (const nlohmann::json& value : values) {
                BGE_ASSIGN_OR_RETURN(TokenizedText t, tokenize_line(**tokenizer, value, options.max_length, offsets));
                tokens += static_cast<int64_t>(t.ids.size());
                out += "{\"ids\":";
                append_int_array(out, t.ids);
                if (offsets) append_offsets(out, t);
                out += "}\n";
            }
            return tokens;
        });
}

}  // namespace bge::cli
