// bge embed: stdin a JSON string (or {"text": ...}) per line; stdout
// {"tokens": n, "dense": [...], "sparse": {"<id>": w, ...}, "colbert": [[...], ...]} per line.
#include "cli/stream.h"

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
    return stream_json_lines<std::string>(
        options, "embed", text_of, [&](std::span<const std::string> texts, std::string& out) -> StatusOr<int64_t> {
            BGE_ASSIGN_OR_RETURN(std::vector<Embedding> embeddings, (*embedder)->embed(texts, embed_options));
            int64_t tokens = 0;
            for (const Embedding& e : embeddings) {
                tokens += e.n_tokens;
                append_embedding(out, e, embed_options);
            }
            return tokens;
        });
}

}  // namespace bge::cli
