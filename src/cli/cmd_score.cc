// bge score: stdin {"query": q, "passage": p} per line; stdout the BGE-M3 scores
// {"dense", "sparse", "colbert", "sparse+dense", "colbert+sparse+dense"}.
#include "cli/stream.h"

namespace bge::cli {
namespace {

void append_scores(std::string& out, const M3Scores& s) {
    const std::pair<const char*, float> fields[] = {{"dense", s.dense},
                                                    {"sparse", s.sparse},
                                                    {"colbert", s.colbert},
                                                    {"sparse+dense", s.sparse_dense},
                                                    {"colbert+sparse+dense", s.colbert_sparse_dense}};
    char sep = '{';
    for (const auto& [name, value] : fields) {
        out += sep;
        out += '"';
        out += name;
        out += "\":";
        append_float(out, value);
        sep = ',';
    }
    out += "}\n";
}

}  // namespace

int run_score(const CommonOptions& options, std::array<float, 3> weights) {
    auto embedder = Embedder::open(options.model, options.engine());
    if (!embedder.ok()) return fail(embedder.status());
    EmbedOptions all;
    all.max_length = options.max_length;
    return stream_json_lines<TextPair>(
        options, "score", pair_of, [&](std::span<const TextPair> pairs, std::string& out) -> StatusOr<int64_t> {
            std::vector<std::string> texts;  // q0, p0, q1, p1, ...
            for (const TextPair& pair : pairs) {
                texts.push_back(pair.query);
                texts.push_back(pair.passage);
            }
            BGE_ASSIGN_OR_RETURN(std::vector<Embedding> embeddings, (*embedder)->embed(texts, all));
            int64_t tokens = 0;
            for (size_t i = 0; i < pairs.size(); ++i) {
                const Embedding& q = embeddings[2 * i];
                const Embedding& p = embeddings[2 * i + 1];
                tokens += q.n_tokens + p.n_tokens;
                BGE_ASSIGN_OR_RETURN(M3Scores s, m3_scores(q, p, weights));
                append_scores(out, s);
            }
            return tokens;
        });
}

}  // namespace bge::cli
