// The CLI's subcommands. Each reads JSON lines from stdin, writes JSON lines to stdout in input
// order, and returns the process exit code (errors: one line on stderr).
#pragma once

#include <array>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bge/engine.h"

namespace CLI {
class App;
}

namespace bge::cli {

// 64 MiB: far above any text a model reads whole (8192 tokens), with room for long documents that are
// truncated; it also bounds the input bytes of one chunk (two lines' worth at most).
constexpr size_t kDefaultMaxLineBytes = size_t{64} << 20;

struct CommonOptions {
    std::string model;    // model folder or hub repo id
    int max_length = 0;   // <= 0: the model's default
    int batch_size = 32;  // input lines per engine call
    int threads = 0;      // 0 = every core
    int max_batch_tokens = 8192;
    size_t max_line_bytes = kDefaultMaxLineBytes;  // longest stdin line
    bool quiet = false;                            // no progress lines on stderr
    std::string device = "cpu";                    // cpu | cuda | cuda:N
    std::string dtype;                             // fp32 | fp16 | bf16 | int8; empty: the device's default

    EngineOptions engine() const { return {threads, max_batch_tokens, device, dtype}; }
};

int run_tokenize(const CommonOptions& options, bool offsets);
int run_embed(const CommonOptions& options, const EmbedOptions& outputs);
int run_rerank(const CommonOptions& options);
int run_score(const CommonOptions& options, std::array<float, 3> weights);
// check_weights: also scan every stored weight for NaN and Inf.
int run_info(const CommonOptions& options, bool check_weights);

struct BenchOptions {
    std::vector<int> tokens{512};  // tokens per input, one shape each
    std::vector<int> batch{1};     // inputs per call, one shape each (with every tokens value)
    int iterations = 5;            // timed calls
    int warmup = 1;                // untimed calls first
    int mixed = 0;                 // > 0: that many embedder inputs of 16..tokens tokens (uniform) in one call
    std::string random_weights;    // instead of --model: a random_model_dir() name
};
int run_bench(const CommonOptions& options, const BenchOptions& bench);

struct DownloadOptions {
    std::string repo;                  // owner/name[@revision]
    std::vector<std::string> include;  // fnmatch patterns; empty: the files the engine reads
    bool quiet = false;
};
int run_download(const DownloadOptions& options);

// Replaces a hub repo id in `model` by its snapshot folder (downloading what is missing); a folder or "" stays.
// main() calls it for --model; an option naming a second model (--reranker) needs the same call.
Status resolve_model_option(std::string& model, bool quiet);
// bge serve (every option also from an environment variable: --max-queue is BGE_MAX_QUEUE).
struct ServeCliOptions {
    std::string model, reranker, model_id, reranker_id;
    std::string host = "127.0.0.1";
    int port = 8080;
    std::string api_key, api_key_file;
    int max_batch_tokens = 8192;
    int max_batch_requests = 64;
    int max_queue = 4096;
    int max_wait_us = 2000;
    int max_input_tokens = 0;
    int max_client_batch = 256;
    bool auto_truncate = false;
    int threads = 0;
    std::string device = "cpu";  // as CommonOptions::device
    std::string dtype;           // as CommonOptions::dtype
    int tokenizer_threads = 0;
    int http_threads = 2;
    int max_body_bytes = 2 << 20;
    double request_timeout_s = 60;
    double read_timeout_s = 30;
    double idle_timeout_s = 60;
    double shutdown_timeout_s = 30;
    std::string log_format = "text";
};
CLI::App* add_serve_command(CLI::App& app, ServeCliOptions& options);
int run_serve(ServeCliOptions options);

// Prints "bge: <message>" on stderr and returns 1.
int fail(const Status& status);

// For json::dump of paths, which need not be UTF-8 (the default handler throws on them).
inline constexpr auto kReplaceInvalidUtf8 = nlohmann::json::error_handler_t::replace;

}  // namespace bge::cli
