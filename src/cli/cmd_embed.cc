// bge embed: stdin a JSON string (or {"text": ...}) per line; stdout
// {"tokens": n, "dense": [...], "sparse": {"<id>": w, ...}, "colbert": [[...], ...]} per line.
#include <iostream>

#include "cli/commands.h"
#include "cli/jsonl.h"
#include "cli/progress.h"

namespace bge::cli {
namespace {

// One output line with the outputs asked for.
void append_embedding(std::string& out, const Embedding& e, const EmbedOptions& asked) {
    out += "{\"tokens\":" + std::to_string(e.n_tokens);
    if (asked.dense) {
        out += ",\"dense\":";
        append_float_array(out, e.dense);
    }
    if (asked.sparse) {
        out += ",\"sparse\":{";
        for (size_t i = 0; i < e.sparse.size(); ++i) {
            out += (i ? ",\"" : "\"") + std::to_string(e.sparse[i].token_id) + "\":";
            append_float(out, e.sparse[i].weight);
        }
        out += '}';
    }
    if (asked.colbert) {
        out += ",\"colbert\":[";
        const size_t dim = static_cast<size_t>(e.colbert_dim);
        for (size_t r = 0; r * dim < e.colbert.size(); ++r) {
            if (r) out += ',';
            append_float_array(out, std::span<const float>(e.colbert).subspan(r * dim, dim));
        }
        out += ']';
    }
    out += "}\n";
}

}  // namespace

int run_embed(const CommonOptions& options, const EmbedOptions& outputs) {
    auto embedder = Embedder::open(options.model, options.engine());
    if (!embedder.ok()) return fail(embedder.status());
    EmbedOptions embed_options = outputs;
    embed_options.max_length = options.max_length;
    Progress progress("embed", options.quiet);
    int64_t line_counter = 0;
    std::string out;
    while (true) {
        auto lines = read_json_lines(std::cin, options.batch_size, line_counter);
        if (!lines.ok()) return fail(lines.status());
        if (lines->empty()) return 0;
        std::vector<std::string> texts;
        for (const InputLine& line : *lines) {
            auto text = text_of(line);
            if (!text.ok()) return fail(text.status());
            texts.push_back(std::move(text).value());
        }
        auto embeddings = (*embedder)->embed(texts, embed_options);
        if (!embeddings.ok()) return fail(embeddings.status());
        out.clear();
        int64_t tokens = 0;
        for (const Embedding& e : *embeddings) {
            tokens += e.n_tokens;
            append_embedding(out, e, embed_options);
        }
        std::cout << out << std::flush;
        progress.add(static_cast<int64_t>(texts.size()), tokens);
    }
}

}  // namespace bge::cli
