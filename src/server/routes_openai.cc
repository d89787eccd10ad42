// OpenAI: POST /v1/embeddings, GET /v1/models.
#include "server/route_util.h"

namespace bge::server {
namespace {

// input: string | [string] | [int] | [[int]].
StatusOr<std::vector<EmbedInput>> openai_inputs(const Json& body, size_t max_items) {
    if (!has(body, "input")) return invalid_argument("`input` is required");
    const Json& in = body["input"];
    auto ids_of = [](const Json& list, size_t item) -> StatusOr<EmbedInput> {
        EmbedInput e;
        e.is_ids = true;
        for (const Json& v : list) {
            if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX) {
                return invalid_argument("`input` item " + std::to_string(item) + ": token ids must be integers >= 0");
            }
            e.ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
        }
        if (e.ids.empty()) return invalid_argument("`input` item " + std::to_string(item) + " is an empty token list");
        return e;
    };
    if (in.is_array() && !in.empty() && in[0].is_number()) {
        BGE_ASSIGN_OR_RETURN(EmbedInput e, ids_of(in, 0));
        return std::vector<EmbedInput>{std::move(e)};
    }
    if (in.is_array() && !in.empty() && in[0].is_array()) {
        if (in.size() > max_items) {
            return out_of_range("`input` has " + std::to_string(in.size()) + " items, more than the limit of " +
                                std::to_string(max_items) + " (--max-client-batch)");
        }
        std::vector<EmbedInput> out;
        for (size_t i = 0; i < in.size(); ++i) {
            if (!in[i].is_array()) return invalid_argument("`input` must not mix token lists and other values");
            BGE_ASSIGN_OR_RETURN(EmbedInput e, ids_of(in[i], i));
            out.push_back(std::move(e));
        }
        return out;
    }
    BGE_ASSIGN_OR_RETURN(std::vector<std::string> texts, get_texts(body, "input", max_items));
    return text_inputs(std::move(texts));
}

void embeddings(const CallPtr& call) {
    auto body = body_or_reply(call);
    if (!body) return;
    const AppOptions& o = call->app().options();
    if (!call->app().engine()->has_embedder()) {
        return call->reply_status(failed_precondition("no embedding model is served (start with --model)"));
    }
    BGE_OR_REPLY(std::vector<EmbedInput> inputs, call, openai_inputs(*body, static_cast<size_t>(o.max_client_batch)));
    BGE_OR_REPLY(std::string format, call, get_string(*body, "encoding_format", "float"));
    if (format != "float" && format != "base64") {
        return call->reply_status(invalid_argument("`encoding_format` must be \"float\" or \"base64\""));
    }
    if (has(*body, "dimensions")) {
        return call->reply_status(invalid_argument(
            "`dimensions` is not supported: BGE-M3 is not a Matryoshka model, its dense vectors are not meant to be "
            "cut"));
    }
    BGE_OR_REPLY(std::string model, call, get_string(*body, "model", o.embedder_id));
    BGE_OR_REPLY(std::string user, call, get_string(*body, "user", ""));
    const size_t n = inputs.size();
    submit_embed(call, std::move(inputs), EmbedOptions{true, false, false, 0}, std::nullopt,
                 [call, format, model, n](EmbedResponse& r) {
                     JsonWriter w;
                     w.begin_object().key("object").value("list").key("data").begin_array();
                     for (size_t i = 0; i < r.embeddings.size(); ++i) {
                         w.begin_object().key("object").value("embedding").key("index").value(static_cast<int64_t>(i));
                         w.key("embedding");
                         if (format == "base64") {
                             w.value(base64_floats(r.embeddings[i].dense));
                         } else {
                             w.floats(r.embeddings[i].dense);
                         }
                         w.end_object();
                     }
                     w.end_array().key("model").value(model).key("usage").begin_object();
                     w.key("prompt_tokens").value(r.stats.n_tokens).key("total_tokens").value(r.stats.n_tokens);
                     w.end_object().end_object();
                     call->reply_json(w.take(), static_cast<int64_t>(n), r.stats.n_tokens);
                 });
}

void models(const CallPtr& call) {
    Engine& engine = *call->app().engine();
    JsonWriter w;
    w.begin_object().key("object").value("list").key("data").begin_array();
    auto add = [&](const std::string& id, const ModelInfo& info) {
        w.begin_object().key("id").value(id).key("object").value("model").key("created").value(0);
        w.key("owned_by").value("bge.cpp").key("kind").value(info.kind).end_object();
    };
    if (engine.has_embedder()) add(call->app().options().embedder_id, engine.embedder_info());
    if (engine.has_reranker()) add(call->app().options().reranker_id, engine.reranker_info());
    w.end_array().end_object();
    call->reply_json(w.take());
}

}  // namespace

void add_openai_routes(App& app) {
    app.add({"POST", "/v1/embeddings", ApiFamily::kOpenAi, true, true, embeddings});
    app.add({"GET", "/v1/models", ApiFamily::kOpenAi, true, true, models});
}

}  // namespace bge::server
