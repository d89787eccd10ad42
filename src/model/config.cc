#include "model/config.h"

#include <nlohmann/json.hpp>

namespace bge {
namespace {

using nlohmann::json;

// Reads a positive integer field; `fallback` < 0 means the field is required.
StatusOr<int> int_field(const json& j, const std::string& path, const char* name, int fallback, int min_value) {
    auto it = j.find(name);
    if (it == j.end()) {
        if (fallback >= 0) return fallback;
        return invalid_argument(path + ": field '" + name + "' is missing");
    }
    if (!it->is_number_integer()) return invalid_argument(path + ": field '" + name + "' must be an integer");
    const auto v = it->get<int64_t>();
    if (v < min_value || v > (1 << 30)) {
        return invalid_argument(path + ": field '" + name + "' = " + std::to_string(v) + " is out of range");
    }
    return static_cast<int>(v);
}

StatusOr<ModelKind> kind_of(const json& j, const std::string& path, std::string* architecture) {
    auto it = j.find("architectures");
    if (it == j.end() || !it->is_array() || it->size() != 1 || !(*it)[0].is_string()) {
        return invalid_argument(path + ": field 'architectures' must be a list of one name");
    }
    *architecture = (*it)[0].get<std::string>();
    if (*architecture == "XLMRobertaModel") return ModelKind::kEmbedder;
    if (*architecture == "XLMRobertaForSequenceClassification") {
        // num_labels is not serialized by transformers; id2label carries it.
        size_t labels = 2;
        if (auto l = j.find("id2label"); l != j.end() && l->is_object()) labels = l->size();
        if (auto n = j.find("num_labels"); n != j.end() && n->is_number_integer()) labels = n->get<size_t>();
        if (labels != 1) {
            return invalid_argument(path + ": a reranker must have one label (id2label has " + std::to_string(labels) +
                                    ")");
        }
        return ModelKind::kReranker;
    }
    return invalid_argument(path + ": field 'architectures' = '" + *architecture +
                            "' is not supported (XLMRobertaModel or XLMRobertaForSequenceClassification)");
}

StatusOr<XlmrConfig> parse_object(const json& j, const std::string& path) {
    if (!j.is_object()) return invalid_argument(path + ": not a JSON object");
    XlmrConfig c;
    BGE_ASSIGN_OR_RETURN(c.kind, kind_of(j, path, &c.architecture));
    BGE_ASSIGN_OR_RETURN(c.hidden_size, int_field(j, path, "hidden_size", -1, 1));
    BGE_ASSIGN_OR_RETURN(c.num_hidden_layers, int_field(j, path, "num_hidden_layers", -1, 1));
    BGE_ASSIGN_OR_RETURN(c.num_attention_heads, int_field(j, path, "num_attention_heads", -1, 1));
    BGE_ASSIGN_OR_RETURN(c.intermediate_size, int_field(j, path, "intermediate_size", -1, 1));
    BGE_ASSIGN_OR_RETURN(c.max_position_embeddings, int_field(j, path, "max_position_embeddings", -1, 3));
    BGE_ASSIGN_OR_RETURN(c.vocab_size, int_field(j, path, "vocab_size", -1, 5));
    BGE_ASSIGN_OR_RETURN(c.type_vocab_size, int_field(j, path, "type_vocab_size", 2, 1));
    BGE_ASSIGN_OR_RETURN(c.pad_token_id, int_field(j, path, "pad_token_id", 1, 0));
    if (c.hidden_size % c.num_attention_heads != 0) {
        return invalid_argument(path + ": hidden_size " + std::to_string(c.hidden_size) +
                                " is not a multiple of num_attention_heads " + std::to_string(c.num_attention_heads));
    }
    if (c.pad_token_id + 2 > c.max_position_embeddings) {
        return invalid_argument(path + ": max_position_embeddings leaves no room for tokens after pad_token_id");
    }
    if (auto it = j.find("layer_norm_eps"); it != j.end()) {
        if (!it->is_number() || it->get<double>() <= 0) {
            return invalid_argument(path + ": field 'layer_norm_eps' must be a positive number");
        }
        c.layer_norm_eps = it->get<float>();
    }
    // "gelu" in transformers is the exact erf form; the tanh approximations would change the numbers.
    if (auto it = j.find("hidden_act"); it == j.end() || !it->is_string() || *it != "gelu") {
        return invalid_argument(path + ": field 'hidden_act' must be \"gelu\"");
    }
    if (auto it = j.find("position_embedding_type"); it != j.end() && *it != "absolute") {
        return invalid_argument(path + ": field 'position_embedding_type' must be \"absolute\"");
    }
    return c;
}

}  // namespace

const char* model_kind_name(ModelKind kind) {
    return kind == ModelKind::kEmbedder ? "embedder" : "reranker";
}

StatusOr<XlmrConfig> parse_config(const std::string& json_text, const std::string& path) {
    json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return invalid_argument(path + ": not valid JSON");
    return parse_object(j, path);
}

}  // namespace bge
