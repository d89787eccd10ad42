// Cohere / Jina rerank: POST /v1/rerank and /v2/rerank.
#include <algorithm>
#include <numeric>

#include "server/route_util.h"

namespace bge::server {
namespace {

// documents: [string | {"text": string}]
StatusOr<std::vector<std::string>> documents(const Json& body, size_t max_items) {
    if (!has(body, "documents")) return invalid_argument("`documents` is required");
    const Json& docs = body["documents"];
    if (!docs.is_array()) return invalid_argument("`documents` must be a list");
    if (docs.empty()) return invalid_argument("`documents` must not be empty");
    if (docs.size() > max_items) {
        return out_of_range("`documents` has " + std::to_string(docs.size()) + " items, more than the limit of " +
                            std::to_string(max_items) + " (--max-client-batch)");
    }
    std::vector<std::string> out;
    for (size_t i = 0; i < docs.size(); ++i) {
        const Json& d = docs[i];
        const Json* text = &d;
        if (d.is_object()) {
            auto it = d.find("text");
            if (it == d.end()) return invalid_argument("`documents` item " + std::to_string(i) + " has no `text`");
            text = &*it;
        }
        if (!text->is_string() || text->get_ref<const std::string&>().empty()) {
            return invalid_argument("`documents` item " + std::to_string(i) + " must be a non-empty string");
        }
        out.push_back(text->get<std::string>());
    }
    return out;
}

void rerank(const CallPtr& call) {
    auto body = body_or_reply(call);
    if (!body) return;
    if (!call->app().engine()->has_reranker()) {
        return call->reply_status(failed_precondition("no reranker is served (start with --reranker)"));
    }
    const AppOptions& o = call->app().options();
    BGE_OR_REPLY(std::string query, call, require_text(*body, "query"));
    BGE_OR_REPLY(std::vector<std::string> docs, call, documents(*body, static_cast<size_t>(o.max_client_batch)));
    BGE_OR_REPLY(int64_t top_n, call, get_int(*body, "top_n", static_cast<int64_t>(docs.size()), 1, INT32_MAX));
    BGE_OR_REPLY(bool return_documents, call, get_bool(*body, "return_documents", false));
    BGE_OR_REPLY(std::string model, call, get_string(*body, "model", o.reranker_id));
    std::vector<TextPair> pairs;
    for (const std::string& d : docs) pairs.push_back({query, d});
    const int64_t n = static_cast<int64_t>(pairs.size());
    submit_rerank(
        call, std::move(pairs), std::nullopt,
        [call, n, top_n, return_documents, model, docs = std::move(docs)](RerankResponse& r) {
            std::vector<size_t> order(r.scores.size());
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(),
                             [&](size_t a, size_t b) { return r.scores[a].logit > r.scores[b].logit; });
            order.resize(std::min<size_t>(order.size(), static_cast<size_t>(top_n)));
            JsonWriter w;
            w.begin_object().key("id").value(call->request_id()).key("model").value(model);
            w.key("results").begin_array();
            for (size_t i : order) {
                w.begin_object().key("index").value(static_cast<int64_t>(i));
                w.key("relevance_score").value(r.scores[i].score);
                if (return_documents) w.key("document").begin_object().key("text").value(docs[i]).end_object();
                w.end_object();
            }
            w.end_array().key("usage").begin_object().key("total_tokens").value(r.stats.n_tokens).end_object();
            w.key("meta").begin_object().key("billed_units").begin_object().key("search_units").value(1);
            w.end_object().end_object();
            call->reply_json(w.end_object().take(), n, r.stats.n_tokens);
        });
}

}  // namespace

void add_cohere_routes(App& app) {
    app.add({"POST", "/v1/rerank", ApiFamily::kOpenAi, true, true, rerank});
    app.add({"POST", "/v2/rerank", ApiFamily::kOpenAi, true, true, rerank});
}

}  // namespace bge::server
