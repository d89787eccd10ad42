// bge bench: times embed (dense output, as the peers measure) or rerank on synthetic inputs of an exact
// token length and prints a table and a JSON line; also times tokenizing the batch alone (part of each call). FLOPs count the GEMMs and attention of the encoder: per token and layer
// 2·(4·h² + 2·h·ffn) + 4·L·h (L the input length).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/commands.h"

namespace bge::cli {
namespace {

// At least `length` tokens (every word is one or more); truncation gives the exact length asked for. Kept
// short so that tokenizing stays a small part of the time measured.
std::string synthetic_text(int length) {
    std::string text;
    for (int i = 0; i < length; ++i) text += (i % 3 == 0 ? "Deutschland " : i % 3 == 1 ? "Россия " : "日本 ");
    return text;
}

double gflop_per_token(const ModelInfo& m, int length) {
    const double h = m.hidden_size, ffn = m.intermediate_size;
    return m.num_hidden_layers * (2.0 * (4 * h * h + 2 * h * ffn) + 4.0 * length * h) * 1e-9;
}

template <typename Model, typename Run, typename Tokenize>
int bench(const CommonOptions& o, const BenchOptions& b, Run&& run, Tokenize&& tokenize) {
    auto model = Model::open(o.model, o.engine());
    if (!model.ok()) return fail(model.status());
    const ModelInfo& info = (*model)->info();
    const int length = b.tokens > 0 ? b.tokens : 512;
    if (length > info.max_length) {
        return fail(out_of_range("--tokens " + std::to_string(length) + " exceeds the model's max length " +
                                 std::to_string(info.max_length)));
    }
    std::vector<double> ms;
    for (int i = 0; i < b.warmup + b.iterations; ++i) {
        const auto start = std::chrono::steady_clock::now();
        if (Status s = run(**model, length); !s.ok()) return fail(s);
        const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        if (i >= b.warmup) ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    const double median = ms[ms.size() / 2];
    // Tokenizing the batch alone, part of every call above (on the CPU, one thread).
    std::vector<double> tok_ms;
    for (int i = 0; i < 3; ++i) {
        const auto start = std::chrono::steady_clock::now();
        if (Status s = tokenize(**model, length); !s.ok()) return fail(s);
        tok_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(tok_ms.begin(), tok_ms.end());
    const double tokenize_ms = tok_ms[1];
    const double tokens = static_cast<double>(length) * b.batch;
    const double tokens_per_s = tokens / (median / 1000);
    const double gflops = tokens_per_s * gflop_per_token(info, length);
    std::printf("bge bench: %s (%s, %d layers, hidden %d), backend %s (%s), dtype %s\n", info.dir.c_str(),
                info.kind.c_str(), info.num_hidden_layers, info.hidden_size, info.backend.c_str(), info.device.c_str(),
                info.compute_dtype.c_str());
    std::printf("| tokens/input | batch | iterations | median ms/batch | min ms/batch | tokenize ms | tokens/s | GFLOP/s |\n");
    std::printf("|---|---|---|---|---|---|---|---|\n");
    std::printf("| %d | %d | %zu | %.2f | %.2f | %.2f | %.1f | %.1f |\n", length, b.batch, ms.size(), median,
                ms.front(), tokenize_ms, tokens_per_s, gflops);
    const nlohmann::ordered_json j = {{"model", info.dir},    {"kind", info.kind},    {"backend", info.backend}, {"dtype", info.compute_dtype},
                                      {"tokens", length},     {"batch", b.batch},     {"iterations", ms.size()},
                                      {"median_ms", median},  {"min_ms", ms.front()}, {"tokenize_ms", tokenize_ms}, {"tokens_per_s", tokens_per_s},
                                      {"gflop_per_s", gflops}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
}

}  // namespace

int run_bench(const CommonOptions& options, const BenchOptions& b) {
    auto kind = detect_model_kind(options.model);
    if (!kind.ok()) return fail(kind.status());
    const std::string text = synthetic_text(b.tokens);
    if (*kind == "embedder") {
        const std::vector<std::string> texts(b.batch, text);
        return bench<Embedder>(
            options, b,
            [&](Embedder& e, int length) {
                const EmbedOptions outputs{.dense = true, .sparse = false, .colbert = false, .max_length = length};
                return e.embed(texts, outputs).status();
            },
            [&](Embedder& e, int length) {
                for (const std::string& t : texts) BGE_RETURN_IF_ERROR(e.tokenizer().encode(t, length).status());
                return ok_status();
            });
    }
    const std::vector<TextPair> pairs(b.batch, TextPair{text, text});
    return bench<Reranker>(
        options, b, [&](Reranker& r, int length) { return r.rerank(pairs, length).status(); },
        [&](Reranker& r, int length) {
            for (const TextPair& p : pairs) {
                BGE_RETURN_IF_ERROR(r.tokenizer().encode_pair(p.query, p.passage, length).status());
            }
            return ok_status();
        });
}

}  // namespace bge::cli
