// bge::Tokenizer: XlmrTokenizer from the folder's tokenizer.json (else sentencepiece.bpe.model) plus the model's
// length limits from config.json and tokenizer_config.json.
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "bge/engine.h"
#include "io/model_dir.h"
#include "model/config.h"
#include "tokenizer/xlmr_tokenizer.h"

namespace bge {
namespace {

TokenizedText to_public(Encoding e) {
    TokenizedText out;
    out.ids = std::move(e.ids);
    out.offsets.reserve(e.offsets.size());
    for (const Span& s : e.offsets) out.offsets.push_back({s.start, s.end});
    out.sequence = std::move(e.sequence);
    return out;
}

}  // namespace

struct Tokenizer::Impl {
    std::unique_ptr<XlmrTokenizer> tokenizer;
    int max_input_length = 0;    // max_position_embeddings - 2
    int default_max_length = 0;  // min(model_max_length, max_input_length)

    StatusOr<int> resolve(int max_length, int min_length) const {
        if (max_length <= 0) return default_max_length;
        if (max_length > max_input_length) {
            return out_of_range("max_length " + std::to_string(max_length) + " exceeds the model's maximum of " +
                                std::to_string(max_input_length) + " tokens");
        }
        if (max_length < min_length) {
            return out_of_range("max_length " + std::to_string(max_length) + " leaves no room for the text (at least " +
                                std::to_string(min_length) + ")");
        }
        return max_length;
    }
};

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::open(const std::string& model_dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(model_dir, ec)) {
        return not_found("model folder " + model_dir + " not found (or not a folder)");
    }
    BGE_ASSIGN_OR_RETURN(const std::string config_json, io::find_optional_file(model_dir, "config.json"));
    if (config_json.empty()) return not_found(model_dir + ": config.json not found");
    BGE_ASSIGN_OR_RETURN(const std::string tokenizer_json, io::find_optional_file(model_dir, "tokenizer.json"));
    BGE_ASSIGN_OR_RETURN(const std::string spm_model, io::find_optional_file(model_dir, "sentencepiece.bpe.model"));
    BGE_ASSIGN_OR_RETURN(const std::string tokenizer_config_json,
                         io::find_optional_file(model_dir, "tokenizer_config.json"));
    if (tokenizer_json.empty() && spm_model.empty()) {
        return not_found(model_dir + ": neither tokenizer.json nor sentencepiece.bpe.model found");
    }
    BGE_ASSIGN_OR_RETURN(std::string config_text, io::read_text_file(config_json));
    BGE_ASSIGN_OR_RETURN(XlmrConfig config, parse_config(config_text, config_json));
    std::unique_ptr<Tokenizer> t(new Tokenizer());
    if (!tokenizer_json.empty()) {
        BGE_ASSIGN_OR_RETURN(t->impl_->tokenizer, XlmrTokenizer::load_json(tokenizer_json, spm_model));
    } else {
        BGE_ASSIGN_OR_RETURN(t->impl_->tokenizer, XlmrTokenizer::load(spm_model));
    }
    if (t->impl_->tokenizer->vocab_size() > config.vocab_size) {
        return invalid_argument((tokenizer_json.empty() ? spm_model : tokenizer_json) + " has " +
                                std::to_string(t->impl_->tokenizer->vocab_size()) +
                                " ids but config.json vocab_size is " + std::to_string(config.vocab_size));
    }
    t->impl_->max_input_length = config.max_input_length();
    t->impl_->default_max_length = config.max_input_length();
    if (!tokenizer_config_json.empty()) {
        BGE_ASSIGN_OR_RETURN(std::string text, io::read_text_file(tokenizer_config_json));
        const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded() || !j.is_object()) return invalid_argument(tokenizer_config_json + ": not a JSON object");
        // transformers writes 1e30 for "no limit"; only a smaller limit matters.
        if (auto it = j.find("model_max_length"); it != j.end() && it->is_number() && it->get<double>() >= 2 &&
                                                  it->get<double>() < t->impl_->max_input_length) {
            t->impl_->default_max_length = static_cast<int>(it->get<double>());
        }
    }
    return t;
}

StatusOr<std::vector<int32_t>> Tokenizer::encode(std::string_view text, int max_length, bool keep_tail) const {
    BGE_ASSIGN_OR_RETURN(int n, impl_->resolve(max_length, impl_->tokenizer->n_special_single()));
    return impl_->tokenizer->encode_single(text, n, keep_tail);
}

StatusOr<std::vector<int32_t>> Tokenizer::encode_pair(std::string_view a, std::string_view b, int max_length,
                                                      bool keep_tail) const {
    BGE_ASSIGN_OR_RETURN(int n, impl_->resolve(max_length, impl_->tokenizer->n_special_pair()));
    return impl_->tokenizer->encode_pair(a, b, n, keep_tail);
}

namespace {

// Encodes with one id of room beyond `n`: more than n ids means the input does not fit.
StatusOr<std::vector<int32_t>> refuse_longer(StatusOr<std::vector<int32_t>> ids, int n) {
    if (!ids.ok()) return ids;
    if (static_cast<int>(ids->size()) > n) {
        return out_of_range("input has more than " + std::to_string(n) + " tokens, the limit (truncation is off)");
    }
    return ids;
}

}  // namespace

StatusOr<std::vector<int32_t>> Tokenizer::encode_untruncated(std::string_view text, int max_length) const {
    BGE_ASSIGN_OR_RETURN(int n, impl_->resolve(max_length, impl_->tokenizer->n_special_single()));
    return refuse_longer(impl_->tokenizer->encode_single(text, n + 1), n);
}

StatusOr<std::vector<int32_t>> Tokenizer::encode_pair_untruncated(std::string_view a, std::string_view b,
                                                                  int max_length) const {
    BGE_ASSIGN_OR_RETURN(int n, impl_->resolve(max_length, impl_->tokenizer->n_special_pair()));
    return refuse_longer(impl_->tokenizer->encode_pair(a, b, n + 1), n);
}

StatusOr<TokenizedText> Tokenizer::encode_with_offsets(std::string_view text, int max_length) const {
    BGE_ASSIGN_OR_RETURN(int n, impl_->resolve(max_length, impl_->tokenizer->n_special_single()));
    BGE_ASSIGN_OR_RETURN(Encoding e, impl_->tokenizer->encode_single_with_offsets(text, n));
    return to_public(std::move(e));
}

StatusOr<TokenizedText> Tokenizer::encode_pair_with_offsets(std::string_view a, std::string_view b,
                                                            int max_length) const {
    BGE_ASSIGN_OR_RETURN(int n, impl_->resolve(max_length, impl_->tokenizer->n_special_pair()));
    BGE_ASSIGN_OR_RETURN(Encoding e, impl_->tokenizer->encode_pair_with_offsets(a, b, n));
    return to_public(std::move(e));
}

StatusOr<std::string> Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
    return impl_->tokenizer->decode(ids, skip_special_tokens);
}

int Tokenizer::default_max_length() const {
    return impl_->default_max_length;
}

const std::string& Tokenizer::description() const {
    return impl_->tokenizer->description();
}

}  // namespace bge
