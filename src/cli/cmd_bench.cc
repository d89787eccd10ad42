// bge bench: times embed (dense output, as the peers measure) or rerank on synthetic inputs of an exact token
// length, for every combination of --tokens and --batch (comma lists) on one loaded model, and prints a table and a
// JSON line per shape; also times tokenizing the batch alone on one thread (each call tokenizes on several). FLOPs
// count the GEMMs and attention of the encoder: per token and layer 2·(4·h² + 2·h·ffn) + 4·L·h (L the input length).
// --random-weights NAME runs it on a random_model_dir() folder of that model's real shape instead of --model.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/random_model.h"
#include "core/memory.h"

namespace bge::cli {
namespace {

// `length` words (at least one), each at least one token: truncation gives the exact length asked for. Kept
// short so that tokenizing stays a small part of the time measured.
std::string synthetic_text(int length) {
    std::string text;
    for (int i = 0; i < std::max(length, 1); ++i)
        text += (i % 3 == 0 ? "Deutschland " : i % 3 == 1 ? "Россия " : "日本 ");
    return text;
}

// Host bytes one call holds per input: the text(s), their ids, and the output (dense only for the embedder).
uint64_t bytes_per_input(const ModelInfo& m, int length, size_t text_bytes) {
    const uint64_t ids = sizeof(std::vector<int32_t>) + 4ull * length + sizeof(size_t);
    if (m.kind == "reranker") return 2 * (sizeof(std::string) + text_bytes) + ids + sizeof(RerankScore);
    return sizeof(std::string) + text_bytes + ids + sizeof(Embedding) + 4ull * m.hidden_size;
}

// Refuses up front a call whose inputs and outputs alone cannot fit this machine's memory.
Status check_batch_fits(const ModelInfo& m, int length, int inputs, bool mixed, size_t text_bytes) {
    const std::string option = mixed ? "--mixed" : "--batch";
    const uint64_t per_input = bytes_per_input(m, length, text_bytes);
    const uint64_t memory = physical_memory_bytes();
    if (static_cast<uint64_t>(inputs) * per_input <= memory) return ok_status();
    return resource_exhausted(option + " " + std::to_string(inputs) + " of " + std::to_string(length) +
                              "-token inputs needs about " + format_bytes(static_cast<uint64_t>(inputs) * per_input) +
                              " for one call's inputs and outputs, more than this machine's " + format_bytes(memory) +
                              "; " + option + " " + std::to_string(memory / per_input) + " at most would fit");
}

double gflop_per_token(const ModelInfo& m, int length) {
    const double h = m.hidden_size, ffn = m.intermediate_size;
    return m.num_hidden_layers * (2.0 * (4 * h * h + 2 * h * ffn) + 4.0 * length * h) * 1e-9;
}

struct Row {
    int tokens = 0, inputs = 0;
    int64_t real_tokens = 0;  // per call, as the model saw them
    double median_ms = 0, min_ms = 0, tokenize_ms = 0;
};

// Times one shape: make_inputs(model, length, inputs) builds the inputs once the call is known to fit;
// run(model, length) -> tokens the model saw; tokenize(model, length) tokenizes the inputs alone, on one thread.
template <typename Model, typename MakeInputs, typename Run, typename Tokenize>
StatusOr<Row> time_shape(Model& model, const BenchOptions& b, int length, int inputs, MakeInputs& make_inputs, Run& run,
                         Tokenize& tokenize) {
    const ModelInfo& info = model.info();
    if (length > info.max_length) {
        return out_of_range("--tokens " + std::to_string(length) + " exceeds the model's max length " +
                            std::to_string(info.max_length));
    }
    BGE_RETURN_IF_ERROR(check_batch_fits(info, length, inputs, b.mixed > 0, synthetic_text(length).size()));
    BGE_RETURN_IF_ERROR(make_inputs(model, length, inputs));
    Row row{length, inputs};
    std::vector<double> ms;
    for (int i = 0; i < b.warmup + b.iterations; ++i) {
        const auto start = std::chrono::steady_clock::now();
        BGE_ASSIGN_OR_RETURN(row.real_tokens, run(model, length));
        const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        if (i >= b.warmup) ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    row.median_ms = ms[ms.size() / 2];
    row.min_ms = ms.front();
    std::vector<double> tok_ms;
    for (int i = 0; i < 3; ++i) {
        const auto start = std::chrono::steady_clock::now();
        BGE_RETURN_IF_ERROR(tokenize(model, length));
        tok_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(tok_ms.begin(), tok_ms.end());
    row.tokenize_ms = tok_ms[1];
    return row;
}

// Every shape of --tokens × --batch (or --mixed) on one loaded model: a table, then a JSON line per shape.
template <typename Model, typename MakeInputs, typename Run, typename Tokenize>
int bench(const CommonOptions& o, const BenchOptions& b, MakeInputs&& make_inputs, Run&& run, Tokenize&& tokenize) {
    auto model = Model::open(o.model, o.engine());
    if (!model.ok()) return fail(model.status());
    const ModelInfo& info = (*model)->info();
    std::vector<Row> rows;
    for (const int length : b.tokens) {
        for (const int batch : b.mixed > 0 ? std::vector<int>{b.mixed} : b.batch) {
            StatusOr<Row> row = time_shape(**model, b, length, batch, make_inputs, run, tokenize);
            if (!row.ok()) return fail(row.status());
            rows.push_back(*row);
        }
    }
    std::string out = "bge bench: " + info.dir + " (" + info.kind + ", " + std::to_string(info.num_hidden_layers) +
                      " layers, hidden " + std::to_string(info.hidden_size) + "), backend " + info.backend + " (" +
                      info.device + "), dtype " + info.compute_dtype + "\n" +
                      "| tokens/input | inputs | iterations | median ms/call | min ms/call | tokenize ms (1 thread) | "
                      "tokens/s | GFLOP/s |\n|---|---|---|---|---|---|---|---|\n";
    std::string json;
    for (const Row& r : rows) {
        const double tokens_per_s = static_cast<double>(r.real_tokens) / (r.median_ms / 1000);
        const double gflops = tokens_per_s * gflop_per_token(info, r.tokens);
        char line[256];
        std::snprintf(line, sizeof line, "| %s%d | %d | %d | %.2f | %.2f | %.2f | %.1f | %.1f |\n",
                      b.mixed > 0 ? "16-" : "", r.tokens, r.inputs, b.iterations, r.median_ms, r.min_ms, r.tokenize_ms,
                      tokens_per_s, gflops);
        out += line;
        const nlohmann::ordered_json j = {{"model", info.dir},
                                          {"kind", info.kind},
                                          {"backend", info.backend},
                                          {"dtype", info.compute_dtype},
                                          {"tokens", r.tokens},
                                          {"batch", r.inputs},
                                          {"mixed", b.mixed > 0},
                                          {"real_tokens", r.real_tokens},
                                          {"iterations", b.iterations},
                                          {"median_ms", r.median_ms},
                                          {"min_ms", r.min_ms},
                                          {"tokenize_ms", r.tokenize_ms},
                                          {"model_memory_bytes", info.model_memory_bytes},
                                          {"tokens_per_s", tokens_per_s},
                                          {"gflop_per_s", gflops}};
        json += j.dump(-1, ' ', false, kReplaceInvalidUtf8) + "\n";
    }
    if (Status s = write_stdout(out + json); !s.ok()) return fail(s);
    return 0;
}

}  // namespace

int run_bench(const CommonOptions& common, const BenchOptions& b) {
    CommonOptions options = common;
    if (!b.random_weights.empty()) {
        StatusOr<std::string> dir = random_model_dir(b.random_weights);
        if (!dir.ok()) return fail(dir.status());
        std::fprintf(stderr, "bge bench: random %s weights in %s\n", b.random_weights.c_str(), dir->c_str());
        options.model = *dir;
    } else if (options.model.empty()) {
        return fail(invalid_argument(std::string("bge bench needs --model DIR or --random-weights NAME (") +
                                     kRandomModelNames + ")"));
    }
    auto kind = detect_model_kind(options.model);
    if (!kind.ok()) return fail(kind.status());
    if (*kind == "embedder") {
        // --mixed: lengths uniform in [16, tokens] (seed 0); otherwise `batch` inputs of exactly `tokens`.
        // Words of the synthetic text take one or more tokens: the mixed lengths are scaled by the measured ratio.
        std::vector<std::string> texts;
        const auto make_texts = [&](Embedder& e, int tokens, int inputs) -> Status {
            BGE_ASSIGN_OR_RETURN(std::vector<int32_t> sample, e.tokenizer().encode(synthetic_text(40)));
            const double tokens_per_word = static_cast<double>(sample.size() - 2) / 40;
            std::mt19937 rng(0);
            std::uniform_int_distribution<int> length(std::min(16, tokens), tokens);
            texts.clear();
            for (int i = 0; i < inputs; ++i) {
                texts.push_back(b.mixed > 0 ? synthetic_text(static_cast<int>((length(rng) - 2) / tokens_per_word))
                                            : synthetic_text(tokens));
            }
            return ok_status();
        };
        return bench<Embedder>(
            options, b, make_texts,
            [&](Embedder& e, int max_length) -> StatusOr<int64_t> {
                const EmbedOptions outputs{.dense = true, .sparse = false, .colbert = false, .max_length = max_length};
                BGE_ASSIGN_OR_RETURN(std::vector<Embedding> out, e.embed(texts, outputs));
                int64_t n = 0;
                for (const Embedding& x : out) n += x.n_tokens;
                return n;
            },
            [&](Embedder& e, int max_length) {
                for (const std::string& t : texts) BGE_RETURN_IF_ERROR(e.tokenizer().encode(t, max_length).status());
                return ok_status();
            });
    }
    std::vector<TextPair> pairs;
    return bench<Reranker>(
        options, b,
        [&](Reranker&, int tokens, int inputs) {
            const std::string text = synthetic_text(tokens);
            pairs.assign(static_cast<size_t>(inputs), TextPair{text, text});
            return ok_status();
        },
        [&](Reranker& r, int max_length) -> StatusOr<int64_t> {
            BGE_ASSIGN_OR_RETURN(std::vector<RerankScore> out, r.rerank(pairs, max_length));
            int64_t n = 0;
            for (const RerankScore& x : out) n += x.n_tokens;
            return n;
        },
        [&](Reranker& r, int max_length) {
            for (const TextPair& p : pairs) {
                BGE_RETURN_IF_ERROR(r.tokenizer().encode_pair(p.query, p.passage, max_length).status());
            }
            return ok_status();
        });
}

}  // namespace bge::cli
