// text-embeddings-inference: /embed /embed_sparse /embed_all /rerank /tokenize /decode /info.
#include <algorithm>
#include <numeric>

#include "server/route_util.h"

namespace bge::server {
namespace {

// The fields TEI's embed routes share: inputs, truncate, truncation_direction, prompt_name, dimensions.
struct EmbedFields {
    std::vector<std::string> texts;
    std::optional<bool> truncate;
    bool keep_tail = false;  // truncation_direction "left"
};

StatusOr<EmbedFields> embed_fields(const CallPtr& call, const Json& body) {
    EmbedFields f;
    if (!call->app().engine()->has_embedder()) {
        return failed_precondition("no embedding model is served (start with --model)");
    }
    BGE_ASSIGN_OR_RETURN(f.texts,
                         get_texts(body, "inputs", static_cast<size_t>(call->app().options().max_client_batch)));
    BGE_ASSIGN_OR_RETURN(f.truncate, get_truncate(body));
    BGE_ASSIGN_OR_RETURN(f.keep_tail, get_keep_tail(body));
    if (has(body, "prompt_name")) return invalid_argument("`prompt_name` is not supported: the model has no prompts");
    if (has(body, "dimensions")) {
        return invalid_argument("`dimensions` is not supported: BGE-M3 is not a Matryoshka model");
    }
    return f;
}

void embed(const CallPtr& call) {
    auto body = body_or_reply(call);
    if (!body) return;
    BGE_OR_REPLY(EmbedFields f, call, embed_fields(call, *body));
    BGE_OR_REPLY(bool normalize, call, get_bool(*body, "normalize", true));
    const int64_t n = static_cast<int64_t>(f.texts.size());
    submit_embed(
        call, text_inputs(std::move(f.texts)), {true, false, false, 0}, f.truncate,
        [call, n, normalize](EmbedResponse& r) {
            JsonWriter w;
            w.begin_array();
            for (Embedding& e : r.embeddings) {
                // normalize: false is the raw CLS vector (TEI's un-normalized pooling output).
                if (!normalize) {
                    for (float& x : e.dense) x *= e.dense_norm;
                }
                w.floats(e.dense);
            }
            call->reply_json(w.end_array().take(), n, r.stats.n_tokens);
        },
        f.keep_tail);
}

void embed_sparse(const CallPtr& call) {
    auto body = body_or_reply(call);
    if (!body) return;
    BGE_OR_REPLY(EmbedFields f, call, embed_fields(call, *body));
    const int64_t n = static_cast<int64_t>(f.texts.size());
    submit_embed(
        call, text_inputs(std::move(f.texts)), {false, true, false, 0}, f.truncate,
        [call, n](EmbedResponse& r) {
            JsonWriter w;
            w.begin_array();
            for (const Embedding& e : r.embeddings) {
                w.begin_array();
                for (const SparseWeight& s : e.sparse) {
                    w.begin_object().key("index").value(s.token_id).key("value").value(s.weight).end_object();
                }
                w.end_array();
            }
            call->reply_json(w.end_array().take(), n, r.stats.n_tokens);
        },
        f.keep_tail);
}

// Per-token vectors: BGE-M3's ColBERT vectors (tokens 1..n-1, normalized), the per-token output it defines.
void embed_all(const CallPtr& call) {
    auto body = body_or_reply(call);
    if (!body) return;
    BGE_OR_REPLY(EmbedFields f, call, embed_fields(call, *body));
    const int64_t n = static_cast<int64_t>(f.texts.size());
    submit_embed(
        call, text_inputs(std::move(f.texts)), {false, false, true, 0}, f.truncate,
        [call, n](EmbedResponse& r) {
            JsonWriter w;
            w.begin_array();
            for (const Embedding& e : r.embeddings) {
                const size_t dim = static_cast<size_t>(e.colbert_dim);
                w.begin_array();
                for (size_t row = 0; dim && row * dim < e.colbert.size(); ++row) {
                    w.floats(std::span<const float>(e.colbert).subspan(row * dim, dim));
                }
                w.end_array();
            }
            call->reply_json(w.end_array().take(), n, r.stats.n_tokens);
        },
        f.keep_tail);
}

void rerank(const CallPtr& call) {
    auto body = body_or_reply(call);
    if (!body) return;
    if (!call->app().engine()->has_reranker()) {
        return call->reply_status(failed_precondition("no reranker is served (start with --reranker)"));
    }
    BGE_OR_REPLY(std::string query, call, require_text(*body, "query"));
    BGE_OR_REPLY(std::vector<std::string> texts, call,
                 get_texts(*body, "texts", static_cast<size_t>(call->app().options().max_client_batch)));
    BGE_OR_REPLY(bool raw_scores, call, get_bool(*body, "raw_scores", false));
    BGE_OR_REPLY(bool return_text, call, get_bool(*body, "return_text", false));
    BGE_OR_REPLY(std::optional<bool> truncate, call, get_truncate(*body));
    BGE_OR_REPLY(bool keep_tail, call, get_keep_tail(*body));
    std::vector<TextPair> pairs;
    for (const std::string& t : texts) pairs.push_back({query, t});
    const int64_t n = static_cast<int64_t>(pairs.size());
    submit_rerank(
        call, std::move(pairs), truncate,
        [call, n, raw_scores, return_text, texts = std::move(texts)](RerankResponse& r) {
            std::vector<size_t> order(r.scores.size());
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(),
                             [&](size_t a, size_t b) { return r.scores[a].logit > r.scores[b].logit; });
            JsonWriter w;
            w.begin_array();
            for (size_t i : order) {
                w.begin_object().key("index").value(static_cast<int64_t>(i));
                w.key("score").value(raw_scores ? r.scores[i].logit : r.scores[i].score);
                if (return_text) w.key("text").value(texts[i]);
                w.end_object();
            }
            call->reply_json(w.end_array().take(), n, r.stats.n_tokens);
        },
        keep_tail);
}

const Tokenizer& served_tokenizer(Engine& engine) {
    return engine.has_embedder() ? engine.embedder_tokenizer() : engine.reranker_tokenizer();
}

// Each input's tokens as TEI gives them: the id, the input bytes it came from (`start`/`stop`, byte offsets through
// normalization, as tokenizers reports them) and their text; template tokens (<s>, </s>) are special, with their
// own text and no offsets.
void tokenize(const CallPtr& call) {
    constexpr int32_t kBos = 0, kEos = 2;  // XLM-R's <s> and </s> (DESIGN.md)
    auto body = body_or_reply(call);
    if (!body) return;
    BGE_OR_REPLY(std::vector<std::string> texts, call,
                 get_texts(*body, "inputs", static_cast<size_t>(call->app().options().max_client_batch)));
    BGE_OR_REPLY(bool add_special, call, get_bool(*body, "add_special_tokens", true));
    if (has(*body, "prompt_name")) {
        return call->reply_status(invalid_argument("`prompt_name` is not supported: the model has no prompts"));
    }
    Engine& engine = *call->app().engine();
    const Tokenizer& tokenizer = served_tokenizer(engine);
    const int max_length = engine.max_length(!engine.has_embedder());
    JsonWriter w;
    w.begin_array();
    int64_t tokens = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
        StatusOr<TokenizedText> t = tokenizer.encode_with_offsets(texts[i], max_length);
        if (!t.ok()) return call->reply_status(t.status().with_context("input " + std::to_string(i)));
        tokens += static_cast<int64_t>(t->ids.size());
        w.begin_array();
        for (size_t k = 0; k < t->ids.size(); ++k) {
            const int32_t id = t->ids[k];
            if (t->sequence[k] < 0) {
                if (!add_special) continue;
                const char* text = id == kBos ? "<s>" : id == kEos ? "</s>" : "";
                w.begin_object().key("id").value(id).key("text").value(text).key("special").value(true);
                w.key("start").null().key("stop").null().end_object();
                continue;
            }
            const TokenOffset& o = t->offsets[k];
            w.begin_object().key("id").value(id);
            w.key("text").value(std::string_view(texts[i]).substr(o.start, o.end - o.start));
            w.key("special").value(false).key("start").value(static_cast<int64_t>(o.start));
            w.key("stop").value(static_cast<int64_t>(o.end)).end_object();
        }
        w.end_array();
    }
    call->reply_json(w.end_array().take(), static_cast<int64_t>(texts.size()), tokens);
}

// TEI's `ids`: one list of token ids or a list of them (at most max_lists).
StatusOr<std::vector<std::vector<int32_t>>> get_id_lists(const Json& body, size_t max_lists) {
    if (!has(body, "ids")) return invalid_argument("`ids` is required");
    const Json& v = body["ids"];
    if (!v.is_array() || v.empty()) return invalid_argument("`ids` must be a non-empty list of token ids or of lists");
    const bool batch = v.front().is_array();
    if (batch && v.size() > max_lists) {
        return out_of_range("`ids` has " + std::to_string(v.size()) + " lists, more than the limit of " +
                            std::to_string(max_lists) + " (--max-client-batch)");
    }
    std::vector<std::vector<int32_t>> out;
    auto read = [&](const Json& list, const std::string& where) -> Status {
        if (!list.is_array()) return invalid_argument(where + " must be a list of token ids");
        std::vector<int32_t>& ids = out.emplace_back();
        for (const Json& id : list) {
            if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
                return invalid_argument(where + " must hold integer token ids >= 0");
            }
            ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
        }
        return ok_status();
    };
    if (!batch) {
        BGE_RETURN_IF_ERROR(read(v, "`ids`"));
    } else {
        for (size_t i = 0; i < v.size(); ++i) BGE_RETURN_IF_ERROR(read(v[i], "`ids` item " + std::to_string(i)));
    }
    return out;
}

// Ids -> text through the served tokenizer's decoder; always a list of texts, as TEI answers.
void decode(const CallPtr& call) {
    auto body = body_or_reply(call);
    if (!body) return;
    BGE_OR_REPLY(auto lists, call, get_id_lists(*body, static_cast<size_t>(call->app().options().max_client_batch)));
    BGE_OR_REPLY(bool skip_special, call, get_bool(*body, "skip_special_tokens", true));
    const Tokenizer& tokenizer = served_tokenizer(*call->app().engine());
    JsonWriter w;
    w.begin_array();
    for (size_t i = 0; i < lists.size(); ++i) {
        StatusOr<std::string> text = tokenizer.decode(lists[i], skip_special);
        if (!text.ok()) {
            return call->reply_status(
                lists.size() == 1 ? text.status() : text.status().with_context("`ids` item " + std::to_string(i)));
        }
        w.value(*text);
    }
    call->reply_json(w.end_array().take(), static_cast<int64_t>(lists.size()));
}

// TEI names dtypes as torch does.
std::string tei_dtype_name(const std::string& dtype) {
    if (dtype == "F32") return "float32";
    if (dtype == "F16") return "float16";
    if (dtype == "BF16") return "bfloat16";
    return dtype;
}

void info(const CallPtr& call) {
    Engine& engine = *call->app().engine();
    const ServeOptions& o = engine.options();
    const AppOptions& a = call->app().options();
    const bool embedder = engine.has_embedder();
    const ModelInfo& m = embedder ? engine.embedder_info() : engine.reranker_info();
    JsonWriter w;
    w.begin_object().key("model_id").value(embedder ? a.embedder_id : a.reranker_id).key("model_sha").null();
    w.key("model_dtype").value(tei_dtype_name(m.compute_dtype));
    w.key("model_type").begin_object();
    if (embedder) {
        w.key("embedding").begin_object().key("pooling").value("cls").end_object();
    } else {
        w.key("reranker").begin_object().key("id2label").begin_object().key("0").value("LABEL_0").end_object();
        w.key("label2id").begin_object().key("LABEL_0").value(0).end_object().end_object();
    }
    w.end_object();
    w.key("max_concurrent_requests").value(o.max_queue).key("max_input_length").value(engine.max_length(!embedder));
    w.key("max_batch_tokens").value(o.engine.max_batch_tokens).key("max_batch_requests").value(o.max_batch_requests);
    w.key("max_client_batch_size").value(a.max_client_batch).key("auto_truncate").value(a.auto_truncate);
    w.key("tokenization_workers").value(o.tokenizer_threads).key("version").value("bge.cpp");
    w.key("sha").null().key("docker_label").null();
    if (embedder && engine.has_reranker()) w.key("reranker_model_id").value(a.reranker_id);
    // Beyond TEI's fields: where the model runs (--device) and in what (--dtype).
    w.key("device").value(m.backend).key("device_description").value(m.device);
    w.key("dtype").value(m.compute_dtype);
    // One entry per --device entry: the model's copy there and whether it still serves.
    const std::vector<ModelInfo> infos = engine.worker_infos(!embedder);
    const std::vector<WorkerStatus> status = engine.workers();
    w.key("workers").begin_array();
    for (size_t i = 0; i < infos.size(); ++i) {
        bool healthy = true;
        for (const WorkerStatus& s : status) {
            if (s.model == m.kind && s.index == static_cast<int>(i)) healthy = s.healthy;
        }
        w.begin_object().key("device").value(infos[i].backend).key("device_description").value(infos[i].device);
        w.key("healthy").value(healthy).end_object();
    }
    w.end_array();
    call->reply_json(w.end_object().take());
}

}  // namespace

void add_tei_routes(App& app) {
    app.add({"POST", "/embed", ApiFamily::kTei, true, true, embed});
    app.add({"POST", "/embed_sparse", ApiFamily::kTei, true, true, embed_sparse});
    app.add({"POST", "/embed_all", ApiFamily::kTei, true, true, embed_all});
    app.add({"POST", "/rerank", ApiFamily::kTei, true, true, rerank});
    app.add({"POST", "/tokenize", ApiFamily::kTei, true, true, tokenize});
    app.add({"POST", "/decode", ApiFamily::kTei, true, true, decode});
    app.add({"GET", "/info", ApiFamily::kTei, true, true, info});
}

}  // namespace bge::server
