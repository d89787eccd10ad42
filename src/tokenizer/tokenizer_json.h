// Reads a Hugging Face tokenizer.json into a TokenizerSpec. Streams the file (SAX) so the vocabulary, nearly
// all of its bytes, goes straight into the spec without a JSON tree.
#pragma once

#include <string_view>

#include "bge/status.h"
#include "tokenizer/tokenizer_spec.h"

namespace bge {

// Supported: added_tokens; normalizer null | Sequence of Precompiled, Replace (String or Regex pattern), Strip;
// pre_tokenizer null | Sequence of Metaspace (add_prefix_space or prepend_scheme/split forms), WhitespaceSplit,
// Whitespace; model Unigram without byte fallback; post_processor null | TemplateProcessing | RobertaProcessing.
// truncation, padding and decoder are accepted and do not change the ids. Anything else is kUnimplemented naming
// the component and where it is ("normalizer.normalizers[2]: normalizer type 'NFD' is not supported"); malformed
// JSON or fields kDataLoss naming the field (or the byte offset).
StatusOr<TokenizerSpec> parse_tokenizer_json(std::string_view json);

}  // namespace bge
