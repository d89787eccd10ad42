// bge bench: times embed (or rerank) on synthetic inputs of an exact token length and prints a table
// and a JSON line. FLOPs count the GEMMs and attention of the encoder: per token and layer
// 2·(4·h² + 2·h·ffn) + 4·L·h (L the input length).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/commands.h"
#include "cli/output.h"
#include "core/memory.h"

namespace bge::cli {
namespace {

// `length` words, each at least one token: truncation gives the exact length asked for.
std::string synthetic_text(int length) {
    std::string text;
    for (int i = 0; i < length; ++i) text += (i % 3 == 0 ? "Deutschland " : i % 3 == 1 ? "Россия " : "日本 ");
    return text;
}

// Host bytes one call holds per input: the text(s), their ids, and every output asked for.
uint64_t bytes_per_input(const ModelInfo& m, int length, size_t text_bytes) {
    const uint64_t ids = sizeof(std::vector<int32_t>) + 4ull * length + sizeof(size_t);
    if (m.kind == "reranker") return 2 * (sizeof(std::string) + text_bytes) + ids + sizeof(RerankScore);
    return sizeof(std::string) + text_bytes + ids + sizeof(Embedding) + 4ull * m.hidden_size +
           (m.has_colbert ? 4ull * (length - 1) * m.colbert_dim : 0) +
           (m.has_sparse ? sizeof(SparseWeight) * length : 0);
}

// Refuses up front a batch whose inputs and outputs alone cannot fit this machine's memory.
Status check_batch_fits(const ModelInfo& m, int length, int batch, size_t text_bytes) {
    const uint64_t per_input = bytes_per_input(m, length, text_bytes);
    const uint64_t memory = physical_memory_bytes();
    if (static_cast<uint64_t>(batch) * per_input <= memory) return ok_status();
    return resource_exhausted("--batch " + std::to_string(batch) + " of " + std::to_string(length) +
                              "-token inputs needs about " + format_bytes(batch * per_input) +
                              " for one call's inputs and outputs, more than this machine's " + format_bytes(memory) +
                              "; --batch " + std::to_string(memory / per_input) + " at most would fit");
}

double gflop_per_token(const ModelInfo& m, int length) {
    const double h = m.hidden_size, ffn = m.intermediate_size;
    return m.num_hidden_layers * (2.0 * (4 * h * h + 2 * h * ffn) + 4.0 * length * h) * 1e-9;
}

template <typename Model, typename Run>
int bench(const CommonOptions& o, const BenchOptions& b, Run&& run) {
    auto model = Model::open(o.model, o.engine());
    if (!model.ok()) return fail(model.status());
    const ModelInfo& info = (*model)->info();
    const int length = b.tokens > 0 ? b.tokens : 512;
    if (length > info.max_length) {
        return fail(out_of_range("--tokens " + std::to_string(length) + " exceeds the model's max length " +
                                 std::to_string(info.max_length)));
    }
    const std::string text = synthetic_text(length);
    if (Status s = check_batch_fits(info, length, b.batch, text.size()); !s.ok()) return fail(s);
    std::vector<double> ms;
    for (int i = 0; i < b.warmup + b.iterations; ++i) {
        const auto start = std::chrono::steady_clock::now();
        if (Status s = run(**model, text, length); !s.ok()) return fail(s);
        const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        if (i >= b.warmup) ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    const double median = ms[ms.size() / 2];
    const double tokens = static_cast<double>(length) * b.batch;
    const double tokens_per_s = tokens / (median / 1000);
    const double gflops = tokens_per_s * gflop_per_token(info, length);
    char table[1024];
    std::snprintf(table, sizeof table,
                  "bge bench: %s (%s, %d layers, hidden %d), backend %s\n"
                  "| tokens/input | batch | iterations | median ms/batch | min ms/batch | tokens/s | GFLOP/s |\n"
                  "|---|---|---|---|---|---|---|\n"
                  "| %d | %d | %zu | %.1f | %.1f | %.1f | %.1f |\n",
                  info.dir.c_str(), info.kind.c_str(), info.num_hidden_layers, info.hidden_size, info.backend.c_str(),
                  length, b.batch, ms.size(), median, ms.front(), tokens_per_s, gflops);
    const nlohmann::ordered_json j = {{"model", info.dir},    {"kind", info.kind},    {"backend", info.backend},
                                      {"tokens", length},     {"batch", b.batch},     {"iterations", ms.size()},
                                      {"median_ms", median},  {"min_ms", ms.front()}, {"tokens_per_s", tokens_per_s},
                                      {"gflop_per_s", gflops}};
    if (Status s = write_stdout(std::string(table) + j.dump(-1, ' ', false, kReplaceInvalidUtf8) + "\n"); !s.ok())
        return fail(s);
    return 0;
}

}  // namespace

int run_bench(const CommonOptions& options, const BenchOptions& b) {
    auto kind = detect_model_kind(options.model);
    if (!kind.ok()) return fail(kind.status());
    if (*kind == "embedder") {
        return bench<Embedder>(options, b, [&](Embedder& e, const std::string& text, int length) {
            const std::vector<std::string> texts(b.batch, text);
            const EmbedOptions outputs{
                .dense = true, .sparse = e.info().has_sparse, .colbert = e.info().has_colbert, .max_length = length};
            return e.embed(texts, outputs).status();
        });
    }
    return bench<Reranker>(options, b, [&](Reranker& r, const std::string& text, int length) {
        const std::vector<TextPair> pairs(b.batch, TextPair{text, text});
        return r.rerank(pairs, length).status();
    });
}

}  // namespace bge::cli
