// build/bge: the command-line front end (see README.md for the contract of each subcommand).
#include <CLI/CLI.hpp>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <new>
#include <sstream>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/random_model.h"

namespace bge::cli {

int fail(const Status& status) {
    std::fprintf(stderr, "bge: %s\n", status.message().c_str());
    return 1;
}

namespace {

// Largest values of the options that size memory or threads; past them is a usage error.
constexpr int kMaxBatchSize = 1 << 16;
constexpr size_t kMaxLineBytesLimit = size_t{1} << 30;
constexpr int kMaxRepeats = 1'000'000;

void add_model_options(CLI::App* cmd, CommonOptions& o, bool engine) {
    cmd->add_option("--model", o.model, "model folder, or hub repo id owner/name[@revision]")->required();
    if (!engine) return;
    cmd->add_option("--threads", o.threads, "CPU threads, 0 = every core")
        ->check(CLI::Range(0, bge::EngineOptions::kMaxThreads));
    cmd->add_option("--max-batch-tokens", o.max_batch_tokens,
                    "tokens per forward pass (default 8192); on cpu the workspace grows to the batches that come, "
                    "on cuda it is reserved at start")
        ->check(CLI::PositiveNumber);
    cmd->add_flag("--quiet", o.quiet, "no progress lines on stderr");
    cmd->add_option("--device", o.device, "cpu | cuda (GPU 0) | cuda:N (info: also a list, cuda:0,1)");
    cmd->add_option("--dtype", o.dtype,
                    "compute dtype: cpu fp32 | bf16 | int8 (default fp32); cuda fp32 | fp16 | bf16 (default fp16)")
        ->check(CLI::IsMember({"fp32", "fp16", "bf16", "int8"}));
}

void add_length_options(CLI::App* cmd, CommonOptions& o) {
    cmd->add_option("--max-length", o.max_length, "max tokens per input (default: the model's)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--batch-size", o.batch_size, "input lines per batch (default 32)")
        ->check(CLI::Range(1, kMaxBatchSize));
    cmd->add_option("--max-line-bytes", o.max_line_bytes,
                    "longest stdin line; a longer one is an error (default 67108864 = 64 MiB)")
        ->check(CLI::Range(size_t{1}, kMaxLineBytesLimit));
}

// "0.4,0.2,0.4" -> three weights.
std::string parse_weights(const std::string& text, std::array<float, 3>& weights) {
    std::stringstream in(text);
    std::string part;
    size_t n = 0;
    while (std::getline(in, part, ',')) {
        if (n == 3) return "--weights takes three numbers: dense,sparse,colbert";
        try {
            size_t used = 0;
            weights[n] = std::stof(part, &used);
            if (used != part.size()) return "--weights: '" + part + "' is not a number";
        } catch (const std::exception&) {
            return "--weights: '" + part + "' is not a number";
        }
        if (!std::isfinite(weights[n]) || weights[n] < 0)
            return "--weights: '" + part + "' is not a finite number >= 0";
        ++n;
    }
    if (n != 3) return "--weights takes three numbers: dense,sparse,colbert";
    return weights[0] + weights[1] > 0 ? "" : "--weights: dense + sparse must be positive";
}

}  // namespace
}  // namespace bge::cli

int main(int argc, char** argv) {
    using namespace bge::cli;
    CLI::App app{"bge.cpp: BGE-M3 embeddings and bge-reranker-v2-m3 scores"};
    app.require_subcommand(1);
    CommonOptions o;

    auto* tokenize =
        app.add_subcommand("tokenize", "stdin: a JSON string or [a, b] per line; stdout: {\"ids\": [...]}");
    add_model_options(tokenize, o, false);
    add_length_options(tokenize, o);
    bool offsets = false;
    tokenize->add_flag("--offsets", offsets, "also print each token's input byte range and sequence");

    bge::EmbedOptions outputs;
    bool dense = false, sparse = false, colbert = false;
    auto* embed = app.add_subcommand("embed", "stdin: a JSON string per line; stdout: dense, sparse, colbert");
    add_model_options(embed, o, true);
    add_length_options(embed, o);
    embed->add_flag("--dense", dense, "dense output (no output flag: all three)");
    embed->add_flag("--sparse", sparse, "sparse (lexical) output");
    embed->add_flag("--colbert", colbert, "ColBERT multi-vector output");

    auto* rerank = app.add_subcommand("rerank", "stdin: {\"query\", \"passage\"} per line; stdout: logit and score");
    add_model_options(rerank, o, true);
    add_length_options(rerank, o);

    std::string weights_text = "0.4,0.2,0.4";
    auto* score = app.add_subcommand("score", "stdin: {\"query\", \"passage\"} per line; stdout: BGE-M3 scores");
    add_model_options(score, o, true);
    add_length_options(score, o);
    score->add_option("--weights", weights_text, "dense,sparse,colbert weights of the combined scores");

    bool check_weights = false;
    auto* info = app.add_subcommand("info", "what was found and loaded in a model folder");
    add_model_options(info, o, true);
    info->add_flag("--check-weights", check_weights,
                   "scan every stored weight for NaN/Inf and name the first (reads every byte once)");

    BenchOptions bench_options;
    auto* bench = app.add_subcommand("bench", "times embed (or rerank) on synthetic inputs; prints a table and JSON");
    add_model_options(bench, o, true);
    bench->get_option("--model")->required(false);
    bench
        ->add_option("--random-weights", bench_options.random_weights,
                     std::string("instead of --model: random weights in the real shape of ") + kRandomModelNames +
                         " (made once, about 1.1 GB, under $BGE_RANDOM_MODELS_DIR or ~/.cache/bge/random)")
        ->excludes("--model");
    bench->add_option("--tokens", bench_options.tokens, "tokens per input (a comma list: one shape each)")
        ->delimiter(',')
        ->check(CLI::PositiveNumber);
    bench->add_option("--batch", bench_options.batch, "inputs per call (a comma list: one shape each)")
        ->delimiter(',')
        ->check(CLI::PositiveNumber);
    bench->add_option("--iterations", bench_options.iterations, "timed calls")->check(CLI::Range(1, kMaxRepeats));
    bench->add_option("--warmup", bench_options.warmup, "untimed calls first")->check(CLI::Range(0, kMaxRepeats));
    bench->add_option("--mixed", bench_options.mixed, "embedder: N inputs of 16..tokens tokens (uniform) per call")
        ->check(CLI::NonNegativeNumber);

    DownloadOptions download_options;
    auto* download =
        app.add_subcommand("download", "fetches a hub repo into the Hugging Face cache; prints its folder");
    download->add_option("repo", download_options.repo, "owner/name[@revision]")->required();
    download->add_option("--include", download_options.include, "only repo files matching these patterns");
    download->add_flag("--quiet", download_options.quiet, "no progress lines on stderr");

    ServeCliOptions serve_options;
    auto* serve = add_serve_command(app, serve_options);

    // A closed stdout pipe ends the process quietly, as Unix tools do, whatever the parent ignored.
    std::signal(SIGPIPE, SIG_DFL);
    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {  // --help, printed on std::cout
        const int code = app.exit(e);
        if (!std::cout.flush()) return fail(bge::internal_error("writing the help text to stdout failed"));
        return code;
    } catch (const CLI::ParseError& e) {
        return fail(bge::invalid_argument(std::string(e.what()) + " (see --help)"));
    }
    const auto run = [&]() -> int {
        if (*download) return run_download(download_options);
        if (bge::Status s = resolve_model_option(o.model, o.quiet); !s.ok()) return fail(s);
        if (*tokenize) return run_tokenize(o, offsets);
        if (*embed) {
            if (dense || sparse || colbert) outputs = {dense, sparse, colbert, 0};
            return run_embed(o, outputs);
        }
        if (*rerank) return run_rerank(o);
        if (*score) {
            std::array<float, 3> weights{};
            if (std::string error = parse_weights(weights_text, weights); !error.empty()) {
                return fail(bge::invalid_argument(error));
            }
            return run_score(o, weights);
        }
        if (*bench) return run_bench(o, bench_options);
        if (*serve) return run_serve(std::move(serve_options));
        return run_info(o, check_weights);
    };
    int code = 1;
    try {
        code = run();
    } catch (const std::bad_alloc&) {  // the CLI's own strings and vectors; the engine returns a Status
        return fail(bge::resource_exhausted("out of memory"));
    }
    if (bge::Status s = close_stdout(); !s.ok() && code == 0) return fail(s);
    return code;
}
