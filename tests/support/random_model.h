// Writes XLM-RoBERTa model folders with random weights at test time (the full-size ones are too big
// to commit): config.json, model.safetensors and the test SentencePiece model.
#pragma once

#include <cstdint>
#include <string>

#include "support/temp_dir.h"

namespace bge::testing {

struct RandomModelSpec {
    int layers = 2;
    int hidden = 32;
    int heads = 4;
    int ffn = 64;
    int max_positions = 130;
    bool f16 = true;      // F16 weights (else F32)
    float scale = 0.05f;  // weights uniform in [-scale, scale]; LayerNorm gamma 1, beta 0
    // Every LayerNorm's gamma is outlier_gain on its first outlier_channels channels: the few huge activation
    // channels of trained transformers, which per-token int8 scales must survive.
    int outlier_channels = 0;
    float outlier_gain = 1.f;
    uint64_t seed = 1;
};

// Creates `dir` and writes an XLMRobertaModel folder (vocab: the test SentencePiece model + 2).
void write_random_model(const std::string& dir, const RandomModelSpec& spec);

}  // namespace bge::testing
