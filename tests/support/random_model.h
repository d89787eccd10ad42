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
    uint64_t seed = 1;
};

// Creates `dir` and writes an XLMRobertaModel folder (vocab: the test SentencePiece model + 2).
void write_random_model(const std::string& dir, const RandomModelSpec& spec);

}  // namespace bge::testing
