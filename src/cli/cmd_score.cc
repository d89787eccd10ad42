// bge score: stdin {"query": q, "passage": p} per line; stdout the BGE-M3 scores
// {"dense", "sparse", "colbert", "sparse+dense", "colbert+sparse+dense"}.
#include <iostream>

#include "cli/commands.h"
#include "cli/jsonl.h"
#include "cli/progress.h"

namespace bge::cli {

int run_score(const CommonOptions& options, std::array<float, 3> weights) {
    auto embedder = Embedder::open(options.model, options.engine());
    if (!embedder.ok()) return fail(embedder.status());
    EmbedOptions all;
    all.max_length = options.max_length;
    Progress progress("score", options.quiet);
    int64_t line_counter = 0;
    std::string out;
    while (true) {
        auto pairs = read_pairs(std::cin, options.batch_size, line_counter);
        if (!pairs.ok()) return fail(pairs.status());
        if (pairs->empty()) return 0;
        std::vector<std::string> texts;  // q0, p0, q1, p1, ...
        for (TextPair& pair : *pairs) {
            texts.push_back(std::move(pair.query));
            texts.push_back(std::move(pair.passage));
        }
        auto embeddings = (*embedder)->embed(texts, all);
        if (!embeddings.ok()) return fail(embeddings.status());
        out.clear();
        int64_t tokens = 0;
        for (size_t i = 0; i < pairs->size(); ++i) {
            const Embedding& q = (*embeddings)[2 * i];
            const Embedding& p = (*embeddings)[2 * i + 1];
            tokens += q.n_tokens + p.n_tokens;
            auto s = m3_scores(q, p, weights);
            if (!s.ok()) return fail(s.status());
            const std::pair<const char*, float> fields[] = {{"dense", s->dense},
                                                            {"sparse", s->sparse},
                                                            {"colbert", s->colbert},
                                                            {"sparse+dense", s->sparse_dense},
                                                            {"colbert+sparse+dense", s->colbert_sparse_dense}};
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
        std::cout << out << std::flush;
        progress.add(static_cast<int64_t>(pairs->size()), tokens);
    }
}

}  // namespace bge::cli
