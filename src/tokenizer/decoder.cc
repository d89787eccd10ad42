#include "tokenizer/decoder.h"

namespace bge {

StatusOr<std::string> decode_tokens(const DecoderSpec& decoder, std::span<const std::string_view> tokens) {
    std::string out;
    switch (decoder.kind) {
        case DecoderSpec::Kind::kUnsupported:
            return unimplemented(decoder.unsupported);
        case DecoderSpec::Kind::kNone:
            // tokenizers without a decoder: tokens.join(" ").
            for (size_t i = 0; i < tokens.size(); ++i) {
                if (i > 0) out += ' ';
                out += tokens[i];
            }
            return out;
        case DecoderSpec::Kind::kMetaspace:
            break;
    }
    // tokenizers' Metaspace::decode_chain: every replacement character becomes a space, except in the first token,
    // where they are dropped unless prepend_scheme is "never". Then the tokens are concatenated.
    const std::string_view r = decoder.replacement;
    for (size_t i = 0; i < tokens.size(); ++i) {
        const std::string_view t = tokens[i];
        const bool drop = i == 0 && decoder.strip_first;
        for (size_t pos = 0; pos < t.size();) {
            const size_t hit = r.empty() ? std::string_view::npos : t.find(r, pos);
            out.append(t.substr(pos, hit == std::string_view::npos ? std::string_view::npos : hit - pos));
            if (hit == std::string_view::npos) break;
            if (!drop) out += ' ';
            pos = hit + r.size();
        }
    }
    return out;
}

}  // namespace bge
