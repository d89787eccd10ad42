// config.json parsing: the fields BGE-M3 and the reranker use, and clear errors for the rest.
#include "model/config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace bge {
namespace {

nlohmann::json m3_config() {
    return {{"architectures", {"XLMRobertaModel"}},
            {"hidden_size", 1024},
            {"num_hidden_layers", 24},
            {"num_attention_heads", 16},
            {"intermediate_size", 4096},
            {"max_position_embeddings", 8194},
            {"vocab_size", 250002},
            {"type_vocab_size", 1},
            {"layer_norm_eps", 1e-5},
            {"pad_token_id", 1},
            {"hidden_act", "gelu"},
            {"torch_dtype", "float32"},
            {"transformers_version", "4.33.0"},
            {"position_embedding_type", "absolute"}};
}

std::string error_of(const nlohmann::json& j) {
    auto c = parse_config(j.dump(), "config.json");
    EXPECT_FALSE(c.ok());
    return c.ok() ? "" : c.status().message();
}

TEST(Config, ReadsBgeM3) {
    auto c = parse_config(m3_config().dump(), "config.json");
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    EXPECT_EQ(c->kind, ModelKind::kEmbedder);
    EXPECT_EQ(c->hidden_size, 1024);
    EXPECT_EQ(c->head_dim(), 64);
    EXPECT_EQ(c->max_input_length(), 8192);
    EXPECT_FLOAT_EQ(c->layer_norm_eps, 1e-5f);
}

TEST(Config, ReadsRerankerWithOneLabel) {
    auto j = m3_config();
    j["architectures"] = {"XLMRobertaForSequenceClassification"};
    j["id2label"] = {{"0", "LABEL_0"}};
    auto c = parse_config(j.dump(), "config.json");
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    EXPECT_EQ(c->kind, ModelKind::kReranker);
    j.erase("id2label");  // transformers' default is two labels
    EXPECT_NE(error_of(j).find("one label"), std::string::npos);
}

TEST(Config, RejectsUnsupportedValuesNamingTheField) {
    auto j = m3_config();
    j["hidden_act"] = "gelu_new";
    EXPECT_NE(error_of(j).find("hidden_act"), std::string::npos);
    j = m3_config();
    j.erase("num_attention_heads");
    EXPECT_NE(error_of(j).find("'num_attention_heads' is missing"), std::string::npos);
    j = m3_config();
    j["hidden_size"] = "1024";
    EXPECT_NE(error_of(j).find("'hidden_size' must be an integer"), std::string::npos);
    j = m3_config();
    j["num_attention_heads"] = 15;
    EXPECT_NE(error_of(j).find("not a multiple"), std::string::npos);
    j = m3_config();
    j["architectures"] = {"BertModel"};
    EXPECT_NE(error_of(j).find("'BertModel' is not supported"), std::string::npos);
    j = m3_config();
    j["position_embedding_type"] = "relative_key";
    EXPECT_NE(error_of(j).find("position_embedding_type"), std::string::npos);
    j = m3_config();
    j["layer_norm_eps"] = -1;
    EXPECT_NE(error_of(j).find("layer_norm_eps"), std::string::npos);
    EXPECT_FALSE(parse_config("{not json", "config.json").ok());
    EXPECT_FALSE(parse_config("[]", "config.json").ok());
}

}  // namespace
}  // namespace bge
