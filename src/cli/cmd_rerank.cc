// bge rerank: stdin {"query": q, "passage": p} per line; stdout {"logit": x, "score": sigmoid(x)}.
#include <iostream>

#include "cli/commands.h"
#include "cli/jsonl.h"
#include "cli/progress.h"

namespace bge::cli {

int run_rerank(const CommonOptions& options) {
    auto reranker = Reranker::open(options.model, options.engine());
    if (!reranker.ok()) return fail(reranker.status());
    Progress progress("rerank", options.quiet);
    int64_t line_counter = 0;
    std::string out;
    while (true) {
        auto pairs = read_pairs(std::cin, options.batch_size, line_counter);
        if (!pairs.ok()) return fail(pairs.status());
        if (pairs->empty()) return 0;
        auto scores = (*reranker)->rerank(*pairs, options.max_length);
        if (!scores.ok()) return fail(scores.status());
        out.clear();
        int64_t tokens = 0;
        for (const RerankScore& s : *scores) {
            tokens += s.n_tokens;
            out += "{\"logit\":";
            append_float(out, s.logit);
            out += ",\"score\":";
            append_float(out, s.score);
            out += "}\n";
        }
        std::cout << out << std::flush;
        progress.add(static_cast<int64_t>(pairs->size()), tokens);
    }
}

}  // namespace bge::cli
