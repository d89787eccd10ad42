// The fields of a Hugging Face XLM-RoBERTa config.json that the engine uses, checked.
#pragma once

#include <string>

#include "bge/status.h"

namespace bge {

enum class ModelKind {
    kEmbedder,  // XLMRobertaModel (BAAI/bge-m3)
    kReranker,  // XLMRobertaForSequenceClassification with one label (BAAI/bge-reranker-v2-m3)
};

const char* model_kind_name(ModelKind kind);

struct XlmrConfig {
    ModelKind kind = ModelKind::kEmbedder;
    std::string architecture;  // as written in config.json
    int hidden_size = 0;
    int num_hidden_layers = 0;
    int num_attention_heads = 0;
    int intermediate_size = 0;
    int max_position_embeddings = 0;
    int vocab_size = 0;
    int type_vocab_size = 0;
    int pad_token_id = 1;
    float layer_norm_eps = 1e-5f;

    int head_dim() const { return hidden_size / num_attention_heads; }
    // Longest input: positions start at pad_token_id + 1 (XLM-R's create_position_ids_from_input_ids).
    int max_input_length() const { return max_position_embeddings - pad_token_id - 1; }
};

// Parses config.json text. `path` only names the file in messages. Unknown keys are ignored;
// a missing, mistyped or unsupported field is kInvalidArgument naming the field.
StatusOr<XlmrConfig> parse_config(const std::string& json_text, const std::string& path);

}  // namespace bge
