// bge rerank: stdin {"query": q, "passage": p} per line; stdout {"logit": x, "score": sigmoid(x)}.
#include "cli/stream.h"

namespace bge::cli {

int run_rerank(const CommonOptions& options) {
    auto reranker = Reranker::open(options.model, options.engine());
    if (!reranker.ok()) return fail(reranker.status());
    return stream_json_lines<TextPair>(
        options, "rerank", pair_of, [&](std::span<const TextPair> pairs, std::string& out) -> StatusOr<int64_t> {
            BGE_ASSIGN_OR_RETURN(std::vector<RerankScore> scores, (*reranker)->rerank(pairs, options.max_length));
            int64_t tokens = 0;
            for (const RerankScore& s : scores) {
                tokens += s.n_tokens;
                out += "{\"logit\":";
                append_float(out, s.logit);
                out += ",\"score\":";
                append_float(out, s.score);
                out += "}\n";
            }
            return tokens;
        });
}

}  // namespace bge::cli
