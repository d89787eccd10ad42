// Ids -> text, as tokenizers' decoders do it (TEI's /decode): the tokenizer.json "decoder" section, or
// XLMRobertaConverter's Metaspace for a bare sentencepiece.bpe.model.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "bge/status.h"

namespace bge {

struct DecoderSpec {
    // kNone: no decoder (tokens joined by one space); kUnsupported: the file declares one we do not run.
    enum class Kind { kNone, kMetaspace, kUnsupported };
    Kind kind = Kind::kMetaspace;
    std::string replacement = "\xE2\x96\x81";  // kMetaspace: "▁" becomes a space
    // prepend_scheme always/first: the first token loses its replacement characters (the space the pre-tokenizer
    // prepended); never: it keeps them as spaces.
    bool strip_first = true;
    std::string unsupported;  // kUnsupported: "decoder: decoder type 'X' is not supported"
};

// The text of `tokens` (each token's string: a vocabulary piece or an added token's content), equal to
// tokenizers' Decoder::decode. kUnimplemented for a decoder we do not run.
StatusOr<std::string> decode_tokens(const DecoderSpec& decoder, std::span<const std::string_view> tokens);

}  // namespace bge
