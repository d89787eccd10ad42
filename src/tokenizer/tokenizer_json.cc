#include "tokenizer/tokenizer_json.h"

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>

#include "tokenizer/utf8.h"

namespace bge {
namespace {

using Json = nlohmann::json;

// Builds a JSON tree of everything but model.vocab, whose [piece, score] entries go into the spec directly.
class SaxReader : public nlohmann::json_sax<Json> {
 public:
    explicit SaxReader(TokenizerSpec* spec) : spec_(spec) {}

    Json root;
    std::string error;
    bool saw_vocab = false;

    bool null() override { return value(Json()); }
    bool boolean(bool b) override { return value(b); }
    bool number_integer(number_integer_t n) override { return vocab_ ? score(static_cast<double>(n)) : value(n); }
    bool number_unsigned(number_unsigned_t n) override { return vocab_ ? score(static_cast<double>(n)) : value(n); }
    bool number_float(number_float_t x, const string_t&) override { return vocab_ ? score(x) : value(x); }
    bool string(string_t& s) override {
        if (!vocab_) return value(std::move(s));
        if (vocab_depth_ != 2 || entry_fields_ != 0) return vocab_error();
        entry_piece_ = s;
        ++entry_fields_;
        return true;
    }
    bool binary(binary_t&) override { return fail("unexpected binary value"); }
    bool start_object(std::size_t) override {
        if (vocab_) return vocab_error();
        return open(Json::object());
    }
    bool key(string_t& k) override {
        key_ = k;
        return true;
    }
    bool end_object() override {
        stack_.pop_back();
        keys_.pop_back();
        return true;
    }
    bool start_array(std::size_t) override {
        if (vocab_) {
            if (vocab_depth_ != 1) return vocab_error();
            vocab_depth_ = 2;
            entry_fields_ = 0;
            return true;
        }
        // model.vocab of a Unigram model: an array at root["model"]["vocab"].
        if (stack_.size() == 2 && keys_[1] == "model" && key_ == "vocab") {
            vocab_ = true;
            saw_vocab = true;
            vocab_depth_ = 1;
            return true;
        }
        return open(Json::array());
    }
    bool end_array() override {
        if (vocab_) {
            if (vocab_depth_ == 2) {
                if (entry_fields_ != 2) return vocab_error();
                vocab_depth_ = 1;
            } else {
                vocab_ = false;
            }
            return true;
        }
        stack_.pop_back();
        keys_.pop_back();
        return true;
    }
    bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
        return fail("not valid JSON at byte " + std::to_string(position) + " (" + e.what() + ")");
    }

 private:
    bool fail(std::string message) {
        if (error.empty()) error = std::move(message);
        return false;
    }
    bool vocab_error() {
        return fail("model.vocab[" + std::to_string(spec_->n_pieces()) + "]: expected [piece, score]");
    }
    bool score(double x) {
        if (vocab_depth_ != 2 || entry_fields_ != 1) return vocab_error();
        spec_->add_piece(entry_piece_, x);
        ++entry_fields_;
        return true;
    }
    // Stores `v` where the parser is and returns it.
    Json* insert(Json&& v) {
        if (stack_.empty()) {
            root = std::move(v);
            return &root;
        }
        Json& top = *stack_.back();
        if (top.is_array()) {
            top.push_back(std::move(v));
            return &top.back();
        }
        Json& slot = top[key_];
        slot = std::move(v);
        return &slot;
    }
    bool value(Json&& v) {
        insert(std::move(v));
        return true;
    }
    bool open(Json&& container) {
        const std::string k = !stack_.empty() && stack_.back()->is_object() ? key_ : std::string();
        stack_.push_back(insert(std::move(container)));
        keys_.push_back(k);
        return true;
    }

    TokenizerSpec* spec_;
    std::vector<Json*> stack_;
    std::vector<std::string> keys_;  // key under which each open container sits ("" in arrays and at the root)
    std::string key_;
    bool vocab_ = false;
    int vocab_depth_ = 0;  // 1: in the vocab array, 2: in one entry
    int entry_fields_ = 0;
    std::string entry_piece_;
};

Status unsupported(const std::string& where, const std::string& what, const std::string& type) {
    return unimplemented(where + ": " + what + " type '" + type + "' is not supported");
}

Status bad_field(const std::string& where, const std::string& what) {
    return data_loss(where + ": " + what);
}

const Json* find(const Json& object, const char* key) {
    if (!object.is_object()) return nullptr;
    auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

StatusOr<std::string> get_string(const Json& object, const char* key, const std::string& where) {
    const Json* v = find(object, key);
    if (v == nullptr || !v->is_string()) return bad_field(where, std::string("'") + key + "' must be a string");
    return v->get<std::string>();
}

StatusOr<bool> get_bool(const Json& object, const char* key, bool fallback, const std::string& where) {
    const Json* v = find(object, key);
    if (v == nullptr || v->is_null()) return fallback;
    if (!v->is_boolean()) return bad_field(where, std::string("'") + key + "' must be true or false");
    return v->get<bool>();
}

StatusOr<std::string> type_of(const Json& object, const std::string& where) {
    if (!object.is_object()) return bad_field(where, "must be an object");
    return get_string(object, "type", where);
}

// RFC 4648 base64 (the encoding of precompiled_charsmap).
StatusOr<std::string> base64_decode(std::string_view in, const std::string& where) {
    std::string out;
    out.reserve(in.size() / 4 * 3);
    uint32_t acc = 0;
    int bits = 0;
    size_t i = 0;
    for (; i < in.size() && in[i] != '='; ++i) {
        const char c = in[i];
        int v;
        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';
        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;
        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;
        } else if (c == '+') {
            v = 62;
        } else if (c == '/') {
            v = 63;
        } else {
            return bad_field(where, "not base64 at character " + std::to_string(i));
        }
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xFF));
        }
    }
    for (; i < in.size(); ++i) {
        if (in[i] != '=') return bad_field(where, "not base64 at character " + std::to_string(i));
    }
    return out;
}

Status add_normalizer(const Json& n, const std::string& where, TokenizerSpec* spec) {
    BGE_ASSIGN_OR_RETURN(std::string type, type_of(n, where));
    if (type == "Sequence") {
        const Json* list = find(n, "normalizers");
        if (list == nullptr || !list->is_array()) return bad_field(where, "'normalizers' must be an array");
        for (size_t i = 0; i < list->size(); ++i) {
            BGE_RETURN_IF_ERROR(add_normalizer((*list)[i], where + ".normalizers[" + std::to_string(i) + "]", spec));
        }
        return ok_status();
    }
    NormalizerStep step;
    if (type == "Precompiled") {
        const Json* map = find(n, "precompiled_charsmap");
        if (map == nullptr || map->is_null()) return ok_status();  // no rules: the identity
        if (!map->is_string()) return bad_field(where, "'precompiled_charsmap' must be a base64 string");
        BGE_ASSIGN_OR_RETURN(std::string blob, base64_decode(map->get_ref<const std::string&>(), where));
        if (blob.empty()) return ok_status();
        StatusOr<PrecompiledCharsmap> parsed = PrecompiledCharsmap::parse(blob);
        if (!parsed.ok()) return parsed.status().with_context(where);
        step.kind = NormalizerStep::Kind::kPrecompiled;
        step.charsmap = std::make_shared<const PrecompiledCharsmap>(std::move(parsed).value());
    } else if (type == "Replace") {
        step.kind = NormalizerStep::Kind::kReplace;
        const Json* pattern = find(n, "pattern");
        if (const Json* s = pattern ? find(*pattern, "String") : nullptr; s != nullptr && s->is_string()) {
            step.pattern = s->get<std::string>();
        } else if (const Json* r = pattern ? find(*pattern, "Regex") : nullptr; r != nullptr && r->is_string()) {
            step.pattern = r->get<std::string>();
            StatusOr<Regex> regex = Regex::compile(step.pattern);
            if (!regex.ok()) return regex.status().with_context(where);
            step.regex = std::move(regex).value();
        } else {
            return bad_field(where, "'pattern' must be {\"String\": s} or {\"Regex\": r}");
        }
        BGE_ASSIGN_OR_RETURN(step.content, get_string(n, "content", where));
        BGE_RETURN_IF_ERROR(validate_utf8(step.content).with_context(where + ".content"));
    } else if (type == "Strip") {
        step.kind = NormalizerStep::Kind::kStrip;
        BGE_ASSIGN_OR_RETURN(step.strip_left, get_bool(n, "strip_left", false, where));
        BGE_ASSIGN_OR_RETURN(step.strip_right, get_bool(n, "strip_right", false, where));
    } else {
        return unsupported(where, "normalizer", type);
    }
    spec->normalizers.push_back(std::move(step));
    return ok_status();
}

Status add_pre_tokenizer(const Json& p, const std::string& where, TokenizerSpec* spec) {
    BGE_ASSIGN_OR_RETURN(std::string type, type_of(p, where));
    if (type == "Sequence") {
        const Json* list = find(p, "pretokenizers");
        if (list == nullptr || !list->is_array()) return bad_field(where, "'pretokenizers' must be an array");
        for (size_t i = 0; i < list->size(); ++i) {
            BGE_RETURN_IF_ERROR(
                add_pre_tokenizer((*list)[i], where + ".pretokenizers[" + std::to_string(i) + "]", spec));
        }
        return ok_status();
    }
    PreTokenizerStep step;
    if (type == "Metaspace") {
        // tokenizers' MetaspaceHelper: the old add_prefix_space wins over prepend_scheme; split defaults to true.
        step.kind = PreTokenizerStep::Kind::kMetaspace;
        BGE_ASSIGN_OR_RETURN(step.replacement, get_string(p, "replacement", where));
        if (validate_utf8(step.replacement).ok() == false || utf8_length(step.replacement) != 1) {
            return bad_field(where, "'replacement' must be one character");
        }
        if (const Json* scheme = find(p, "prepend_scheme"); scheme != nullptr && !scheme->is_null()) {
            const std::string s = scheme->is_string() ? scheme->get<std::string>() : "";
            if (s == "always") {
                step.prepend = PreTokenizerStep::Prepend::kAlways;
            } else if (s == "first") {
                step.prepend = PreTokenizerStep::Prepend::kFirst;
            } else if (s == "never") {
                step.prepend = PreTokenizerStep::Prepend::kNever;
            } else {
                return bad_field(where, "'prepend_scheme' must be \"always\", \"first\" or \"never\"");
            }
        }
        if (const Json* add = find(p, "add_prefix_space"); add != nullptr && !add->is_null()) {
            if (!add->is_boolean()) return bad_field(where, "'add_prefix_space' must be true or false");
            step.prepend = add->get<bool>() ? PreTokenizerStep::Prepend::kAlways : PreTokenizerStep::Prepend::kNever;
        }
        BGE_ASSIGN_OR_RETURN(step.split, get_bool(p, "split", true, where));
    } else if (type == "WhitespaceSplit") {
        step.kind = PreTokenizerStep::Kind::kWhitespaceSplit;
    } else if (type == "Whitespace") {
        step.kind = PreTokenizerStep::Kind::kWhitespace;
    } else {
        return unsupported(where, "pre-tokenizer", type);
    }
    spec->pre_tokenizers.push_back(std::move(step));
    return ok_status();
}

StatusOr<int32_t> token_id(const Json& v, const std::string& where) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX) {
        return bad_field(where, "must be a non-negative token id");
    }
    return static_cast<int32_t>(v.get<int64_t>());
}

StatusOr<std::vector<TemplateItem>> read_template(const Json& post, const char* name, const std::string& where) {
    const std::string at = where + "." + name;
    const Json* items = find(post, name);
    if (items == nullptr || !items->is_array()) return bad_field(at, "must be an array");
    const Json* specials = find(post, "special_tokens");
    std::vector<TemplateItem> out;
    for (size_t i = 0; i < items->size(); ++i) {
        const std::string item_at = at + "[" + std::to_string(i) + "]";
        const Json& item = (*items)[i];
        if (const Json* seq = find(item, "Sequence")) {
            BGE_ASSIGN_OR_RETURN(std::string id, get_string(*seq, "id", item_at));
            if (id != "A" && id != "B") return bad_field(item_at, "sequence id must be \"A\" or \"B\"");
            out.push_back({id == "A" ? 0 : 1, -1});
        } else if (const Json* special = find(item, "SpecialToken")) {
            BGE_ASSIGN_OR_RETURN(std::string id, get_string(*special, "id", item_at));
            const Json* entry = specials ? find(*specials, id.c_str()) : nullptr;
            const Json* ids = entry ? find(*entry, "ids") : nullptr;
            if (ids == nullptr || !ids->is_array()) {
                return bad_field(item_at, "special token '" + id + "' has no ids in special_tokens");
            }
            for (const Json& v : *ids) {
                BGE_ASSIGN_OR_RETURN(int32_t tid, token_id(v, where + ".special_tokens." + id));
                out.push_back({-1, tid});
            }
        } else {
            return bad_field(item_at, "must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
        }
    }
    return out;
}

Status read_post_processor(const Json& post, TokenizerSpec* spec) {
    const std::string where = "post_processor";
    if (post.is_null()) {
        spec->single = {{0, -1}};
        spec->pair = {{0, -1}, {1, -1}};
        return ok_status();
    }
    BGE_ASSIGN_OR_RETURN(std::string type, type_of(post, where));
    spec->post_processor = type;
    if (type == "TemplateProcessing") {
        BGE_ASSIGN_OR_RETURN(spec->single, read_template(post, "single", where));
        BGE_ASSIGN_OR_RETURN(spec->pair, read_template(post, "pair", where));
        return ok_status();
    }
    if (type == "RobertaProcessing") {
        // ["<s>", 0] pairs; single: cls A sep, pair: cls A sep sep B sep.
        auto special = [&](const char* name) -> StatusOr<int32_t> {
            const Json* v = find(post, name);
            if (v == nullptr || !v->is_array() || v->size() != 2) {
                return bad_field(where + "." + name, "must be [token, id]");
            }
            return token_id((*v)[1], where + "." + name);
        };
        BGE_ASSIGN_OR_RETURN(int32_t cls, special("cls"));
        BGE_ASSIGN_OR_RETURN(int32_t sep, special("sep"));
        BGE_ASSIGN_OR_RETURN(spec->trim_offsets, get_bool(post, "trim_offsets", true, where));
        BGE_ASSIGN_OR_RETURN(spec->trim_keeps_first, get_bool(post, "add_prefix_space", true, where));
        spec->single = {{-1, cls}, {0, -1}, {-1, sep}};
        spec->pair = {{-1, cls}, {0, -1}, {-1, sep}, {-1, sep}, {1, -1}, {-1, sep}};
        return ok_status();
    }
    return unsupported(where, "post-processor", type);
}

Status read_added_tokens(const Json& doc, TokenizerSpec* spec) {
    const Json* list = find(doc, "added_tokens");
    if (list == nullptr || list->is_null()) return ok_status();
    if (!list->is_array()) return bad_field("added_tokens", "must be an array");
    for (size_t i = 0; i < list->size(); ++i) {
        const std::string where = "added_tokens[" + std::to_string(i) + "]";
        const Json& t = (*list)[i];
        AddedToken token;
        BGE_ASSIGN_OR_RETURN(token.content, get_string(t, "content", where));
        BGE_RETURN_IF_ERROR(validate_utf8(token.content).with_context(where + ".content"));
        const Json* id = find(t, "id");
        if (id == nullptr) return bad_field(where, "'id' is missing");
        BGE_ASSIGN_OR_RETURN(token.id, token_id(*id, where + ".id"));
        BGE_ASSIGN_OR_RETURN(token.single_word, get_bool(t, "single_word", false, where));
        BGE_ASSIGN_OR_RETURN(token.lstrip, get_bool(t, "lstrip", false, where));
        BGE_ASSIGN_OR_RETURN(token.rstrip, get_bool(t, "rstrip", false, where));
        BGE_ASSIGN_OR_RETURN(token.special, get_bool(t, "special", false, where));
        // tokenizers' default: special tokens are not normalized, others are.
        BGE_ASSIGN_OR_RETURN(token.normalized, get_bool(t, "normalized", !token.special, where));
        spec->added_tokens.push_back(std::move(token));
    }
    return ok_status();
}

Status read_model(const Json& doc, bool saw_vocab, TokenizerSpec* spec) {
    const Json* model = find(doc, "model");
    if (model == nullptr) return bad_field("tokenizer.json", "no 'model'");
    BGE_ASSIGN_OR_RETURN(std::string type, type_of(*model, "model"));
    if (type != "Unigram") return unsupported("model", "model", type);
    if (!saw_vocab || spec->n_pieces() == 0)
        return bad_field("model", "'vocab' must be a non-empty [[piece, score], ...]");
    BGE_ASSIGN_OR_RETURN(bool byte_fallback, get_bool(*model, "byte_fallback", false, "model"));
    if (byte_fallback) return unimplemented("model: Unigram with byte_fallback is not supported");
    const Json* unk = find(*model, "unk_id");
    if (unk == nullptr || unk->is_null())
        return unimplemented("model: a Unigram model without unk_id is not supported");
    BGE_ASSIGN_OR_RETURN(spec->unk_id, token_id(*unk, "model.unk_id"));
    if (static_cast<size_t>(spec->unk_id) >= spec->n_pieces()) {
        return bad_field("model.unk_id", std::to_string(spec->unk_id) + " is outside the vocabulary of " +
                                             std::to_string(spec->n_pieces()));
    }
    Status pieces_utf8 = validate_utf8(spec->pieces);
    if (!pieces_utf8.ok()) return bad_field("model.vocab", "pieces are not valid UTF-8");
    return ok_status();
}

// The decoder section: only /decode reads it, so one we do not run is no load error (decode says so).
Status read_decoder(const Json* d, TokenizerSpec* spec) {
    DecoderSpec& decoder = spec->decoder;
    if (d == nullptr || d->is_null()) {
        decoder.kind = DecoderSpec::Kind::kNone;
        return ok_status();
    }
    if (!d->is_object()) return bad_field("decoder", "must be an object or null");
    BGE_ASSIGN_OR_RETURN(std::string type, get_string(*d, "type", "decoder"));
    if (type != "Metaspace") {
        decoder.kind = DecoderSpec::Kind::kUnsupported;
        decoder.unsupported = "decoder: decoder type '" + type + "' is not supported (only Metaspace)";
        return ok_status();
    }
    // Read as the Metaspace pre-tokenizer is: the same fields, the same legacy add_prefix_space.
    TokenizerSpec scratch;
    BGE_RETURN_IF_ERROR(add_pre_tokenizer(*d, "decoder", &scratch));
    const PreTokenizerStep& step = scratch.pre_tokenizers.front();
    decoder.kind = DecoderSpec::Kind::kMetaspace;
    decoder.replacement = step.replacement;
    decoder.strip_first = step.prepend != PreTokenizerStep::Prepend::kNever;
    return ok_status();
}

}  // namespace

StatusOr<TokenizerSpec> parse_tokenizer_json(std::string_view json) {
    TokenizerSpec spec;
    spec.pieces.reserve(json.size() / 4);
    SaxReader reader(&spec);
    bool parsed = false;
    try {
        parsed = Json::sax_parse(json.begin(), json.end(), &reader);
    } catch (const std::exception& e) {
        return data_loss(std::string("not valid JSON (") + e.what() + ")");
    }
    if (!parsed) return data_loss(reader.error.empty() ? "not valid JSON" : reader.error);
    const Json& doc = reader.root;
    if (!doc.is_object()) return data_loss("not a JSON object");

    BGE_RETURN_IF_ERROR(read_model(doc, reader.saw_vocab, &spec));
    BGE_RETURN_IF_ERROR(read_added_tokens(doc, &spec));
    if (const Json* n = find(doc, "normalizer"); n != nullptr && !n->is_null()) {
        BGE_RETURN_IF_ERROR(add_normalizer(*n, "normalizer", &spec));
    }
    if (const Json* p = find(doc, "pre_tokenizer"); p != nullptr && !p->is_null()) {
        BGE_RETURN_IF_ERROR(add_pre_tokenizer(*p, "pre_tokenizer", &spec));
    }
    const Json* post = find(doc, "post_processor");
    BGE_RETURN_IF_ERROR(read_post_processor(post ? *post : Json(), &spec));
    BGE_RETURN_IF_ERROR(read_decoder(find(doc, "decoder"), &spec));
    return spec;
}

}  // namespace bge
