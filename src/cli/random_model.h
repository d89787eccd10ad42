// Model folders with random weights in the exact shape of BAAI's published models, so that `bge bench` (and the
// deployment guides' tables) run on any machine without downloading weights.
#pragma once

#include <string>

#include "bge/status.h"

namespace bge::cli {

// The names random_model_dir() accepts: "bge-m3" (XLMRobertaModel) and "bge-reranker-v2-m3"
// (XLMRobertaForSequenceClassification).
inline constexpr const char* kRandomModelNames = "bge-m3, bge-reranker-v2-m3";

// The folder of the named model with random weights: $BGE_RANDOM_MODELS_DIR/<name> when that variable is set, else
// ${XDG_CACHE_HOME:-$HOME/.cache}/bge/random/<name>. Made on first use (about 1.1 GB: config.json,
// tokenizer_config.json, special_tokens_map.json, tokenizer.json, sentencepiece.bpe.model, model.safetensors in F16)
// inside a temporary sibling folder that is renamed into place when complete, so a half-written folder is never
// used and a complete one is reused. Weights are the same on every machine (fixed seed). The tokenizer holds the
// real vocabulary size (250002 ids, specials at 0..3, <mask> last) with bench's words as whole pieces ("▁Deutschland",
// "▁Россия", "▁日本"), lowercase-letter pieces otherwise. Unknown name: kInvalidArgument; I/O errors name the file.
StatusOr<std::string> random_model_dir(const std::string& name);

}  // namespace bge::cli
