// BGE-M3 native: POST /m3/embed (dense, sparse and ColBERT from one forward pass) and POST /m3/score
// (FlagEmbedding's BGEM3FlagModel.compute_score values).
#include <cmath>

#include "server/route_util.h"

namespace bge::server {
namespace {

void write_embedding(JsonWriter& w, const Embedding& e, const EmbedOptions& asked) {
    if (asked.dense) w.key("dense").floats(e.dense);
    if (asked.sparse) {
        // FlagEmbedding's lexical_weights: {"<token id>": weight}
        w.key("sparse").begin_object();
        for (const SparseWeight& s : e.sparse) w.key(std::to_string(s.token_id)).value(s.weight);
        w.end_object();
    }
    if (asked.colbert) {
        w.key("colbert").begin_array();
        const size_t dim = static_cast<size_t>(e.colbert_dim);
        for (size_t row = 0; dim && row * dim < e.colbert.size(); ++row) {
            w.floats(std::span<const float>(e.colbert).subspan(row * dim, dim));
        }
        w.end_array();
    }
}

void m3_embed(const CallPtr& call) {
    auto body = body_or_reply(call);
    if (!body) return;
    if (!call->app().engine()->has_embedder()) {
        return call->reply_status(failed_precondition("no embedding model is served (start with --model)"));
    }
    BGE_OR_REPLY(std::vector<std::string> texts, call,
                 get_texts(*body, "inputs", static_cast<size_t>(call->app().options().max_client_batch)));
    EmbedOptions asked;
    BGE_OR_REPLY(asked.dense, call, get_bool(*body, "return_dense", true));
    BGE_OR_REPLY(asked.sparse, call, get_bool(*body, "return_sparse", false));
    BGE_OR_REPLY(asked.colbert, call, get_bool(*body, "return_colbert", false));
    BGE_OR_REPLY(int64_t max_length, call, get_int(*body, "max_length", 0, 0, INT32_MAX));
    asked.max_length = static_cast<int>(max_length);
    BGE_OR_REPLY(std::optional<bool> truncate, call, get_truncate(*body));
    const int64_t n = static_cast<int64_t>(texts.size());
    submit_embed(call, text_inputs(std::move(texts)), asked, truncate, [call, n, asked](EmbedResponse& r) {
        JsonWriter w;
        w.begin_object().key("data").begin_array();
        for (size_t i = 0; i < r.embeddings.size(); ++i) {
            w.begin_object().key("index").value(static_cast<int64_t>(i)).key("tokens").value(r.embeddings[i].n_tokens);
            write_embedding(w, r.embeddings[i], asked);
            w.end_object();
        }
        w.end_array().key("usage").begin_object().key("prompt_tokens").value(r.stats.n_tokens);
        w.key("total_tokens").value(r.stats.n_tokens).end_object();
        call->reply_json(w.end_object().take(), n, r.stats.n_tokens);
    });
}

StatusOr<std::array<float, 3>> get_weights(const Json& body) {
    if (!has(body, "weights")) return kDefaultM3Weights;
    const Json& v = body["weights"];
    if (!v.is_array() || v.size() != 3)
        return invalid_argument("`weights` must be three numbers: dense, sparse, colbert");
    std::array<float, 3> w{};
    for (size_t i = 0; i < 3; ++i) {
        if (!v[i].is_number() || !std::isfinite(v[i].get<double>()) || v[i].get<double>() < 0 ||
            v[i].get<double>() > 1e6) {
            return invalid_argument("`weights` must be finite numbers in [0, 1e6]");
        }
        w[i] = v[i].get<float>();
    }
    if (w[0] + w[1] <= 0 || w[0] + w[1] + w[2] <= 0) {
        return invalid_argument("`weights`: dense + sparse and the total must be positive");
    }
    return w;
}

void m3_score(const CallPtr& call) {
    auto body = body_or_reply(call);
    if (!body) return;
    if (!call->app().engine()->has_embedder()) {
        return call->reply_status(failed_precondition("no embedding model is served (start with --model)"));
    }
    const ModelInfo& info = call->app().engine()->embedder_info();
    if (!info.has_sparse || !info.has_colbert) {
        return call->reply_status(
            failed_precondition("the model lacks sparse_linear.pt or colbert_linear.pt: M3 scores need all three"));
    }
    BGE_OR_REPLY(std::string query, call, require_text(*body, "query"));
    const size_t limit = static_cast<size_t>(call->app().options().max_client_batch);
    BGE_OR_REPLY(std::vector<std::string> passages, call, get_texts(*body, "passages", limit > 1 ? limit - 1 : 1));
    BGE_OR_REPLY(auto weights, call, get_weights(*body));
    BGE_OR_REPLY(std::optional<bool> truncate, call, get_truncate(*body));
    std::vector<std::string> texts{query};
    texts.insert(texts.end(), passages.begin(), passages.end());
    const int64_t n = static_cast<int64_t>(texts.size());
    submit_embed(call, text_inputs(std::move(texts)), EmbedOptions{}, truncate, [call, n, weights](EmbedResponse& r) {
        std::vector<M3Scores> scores;
        for (size_t i = 1; i < r.embeddings.size(); ++i) {
            StatusOr<M3Scores> s = m3_scores(r.embeddings[0], r.embeddings[i], weights);
            if (!s.ok()) return call->reply_status(s.status().with_context("passage " + std::to_string(i - 1)));
            scores.push_back(*s);
        }
        JsonWriter w;
        w.begin_object();
        auto column = [&](const char* name, float M3Scores::*field) {
            w.key(name).begin_array();
            for (const M3Scores& s : scores) w.value(s.*field);
            w.end_array();
        };
        column("colbert", &M3Scores::colbert);
        column("sparse", &M3Scores::sparse);
        column("dense", &M3Scores::dense);
        column("sparse+dense", &M3Scores::sparse_dense);
        column("colbert+sparse+dense", &M3Scores::colbert_sparse_dense);
        w.key("usage").begin_object().key("total_tokens").value(r.stats.n_tokens).end_object();
        call->reply_json(w.end_object().take(), n, r.stats.n_tokens);
    });
}

}  // namespace

void add_m3_routes(App& app) {
    app.add({"POST", "/m3/embed", ApiFamily::kOpenAi, true, true, m3_embed});
    app.add({"POST", "/m3/score", ApiFamily::kOpenAi, true, true, m3_score});
}

}  // namespace bge::server
