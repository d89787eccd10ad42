// bge serve: the HTTP server (src/server) over the serving engine. Listens first (GET /health answers 503 while
// the models download and load), loads on --device and warms up, then serves; SIGTERM/SIGINT stop accepting, let
// the requests in flight finish (at most --shutdown-timeout) and exit 0.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "bge/hub.h"
#include "cli/commands.h"
#include "server/app.h"
#include "server/http_server.h"

namespace bge::cli {
namespace {

std::string env_name(const std::string& option) {
    std::string e = "BGE_";
    for (char c : option) e += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return e;
}

StatusOr<std::string> read_key_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return not_found("--api-key-file " + path + " cannot be read");
    std::string key;
    std::getline(in, key);
    while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
    if (key.empty()) return invalid_argument("--api-key-file " + path + " holds no key on its first line");
    return key;
}

std::string model_name(const std::string& dir) {
    std::filesystem::path p(dir);
    while (!p.empty() && p.filename().empty()) p = p.parent_path();
    return p.filename().string();
}

// Unset ids shown to clients become the repo id of a hub name or the folder's name.
void default_model_ids(ServeCliOptions& o) {
    for (auto [model, id] : {std::pair{&o.model, &o.model_id}, std::pair{&o.reranker, &o.reranker_id}}) {
        if (model->empty() || !id->empty()) continue;
        auto spec = parse_model_spec(*model);
        *id = spec.ok() && !spec->is_local ? spec->repo_id : model_name(*model);
    }
}

// Hub ids in --model/--reranker become snapshot folders (downloading what is missing).
Status resolve_serve_models(ServeCliOptions& o) {
    for (std::string* model : {&o.model, &o.reranker}) {
        if (!model->empty()) BGE_RETURN_IF_ERROR(resolve_model_option(*model, false));
    }
    return ok_status();
}

}  // namespace

CLI::App* add_serve_command(CLI::App& app, ServeCliOptions& o) {
    CLI::App* cmd = app.add_subcommand("serve", "HTTP server: OpenAI, TEI, Cohere/Jina and BGE-M3 APIs");
    auto opt = [&](const std::string& name, auto& value, const std::string& help) {
        return cmd->add_option("--" + name, value, help)->envname(env_name(name));
    };
    opt("model", o.model, "embedder folder (BGE-M3 layout)");
    opt("reranker", o.reranker, "reranker folder (bge-reranker-v2-m3 layout)");
    opt("model-id", o.model_id, "embedder name shown to clients (default: the folder's name)");
    opt("reranker-id", o.reranker_id, "reranker name shown to clients (default: the folder's name)");
    opt("host", o.host, "address to listen on");
    opt("port", o.port, "port (0: any free one, printed at start)")->check(CLI::Range(0, 65535));
    opt("api-key", o.api_key, "clients must send Authorization: Bearer KEY (not on /health, /metrics)");
    opt("api-key-file", o.api_key_file, "read the key from the first line of this file");
    opt("max-batch-tokens", o.max_batch_tokens, "real tokens per forward pass")->check(CLI::PositiveNumber);
    opt("max-batch-requests", o.max_batch_requests, "sequences per forward pass")->check(CLI::PositiveNumber);
    opt("max-queue", o.max_queue, "inputs queued per model before 429")->check(CLI::PositiveNumber);
    opt("max-wait-us", o.max_wait_us, "how long a batch that is not full waits for more")
        ->check(CLI::Range(0, 10'000'000));
    opt("max-input-tokens", o.max_input_tokens, "cap on tokens per input (default: the model's)")
        ->check(CLI::NonNegativeNumber);
    opt("max-client-batch", o.max_client_batch, "inputs per request")->check(CLI::PositiveNumber);
    cmd->add_flag("--auto-truncate", o.auto_truncate, "truncate long inputs unless a request says otherwise")
        ->envname("BGE_AUTO_TRUNCATE");
    opt("threads", o.threads, "CPU threads for the GEMMs, 0 = every core")->check(CLI::NonNegativeNumber);
    opt("device", o.device,
        "cpu | cuda (every GPU) | cuda:N | a list, one worker each: cuda:0,1 | cuda:0,cpu; a GPU reserves "
        "--max-batch-tokens' workspace at start");
    opt("dtype", o.dtype,
        "compute dtype, e.g. fp32 | fp16 | bf16 (default: fp32 on cpu, fp16 on cuda); with a --device list, one "
        "for all or one per device: fp16,bf16");
    opt("tokenizer-threads", o.tokenizer_threads, "tokenizer pool threads, 0 = min(4, cores)")
        ->check(CLI::NonNegativeNumber);
    opt("http-threads", o.http_threads, "I/O threads")->check(CLI::Range(1, 64));
    opt("max-body-bytes", o.max_body_bytes, "largest request body")->check(CLI::Range(1, 1 << 30));
    opt("request-timeout", o.request_timeout_s, "seconds a request may take before 504")
        ->check(CLI::Range(0.001, 86400.0));
    opt("read-timeout", o.read_timeout_s, "seconds to receive one request (slow clients are cut off)")
        ->check(CLI::Range(0.001, 3600.0));
    opt("idle-timeout", o.idle_timeout_s, "seconds a keep-alive connection may idle")
        ->check(CLI::Range(0.001, 86400.0));
    opt("shutdown-timeout", o.shutdown_timeout_s, "seconds to finish requests in flight after SIGTERM")
        ->check(CLI::Range(0.0, 3600.0));
    opt("log-format", o.log_format, "access log on stderr: text or json")->check(CLI::IsMember({"text", "json"}));
    return cmd;
}

int run_serve(ServeCliOptions o) {
    if (o.model.empty() && o.reranker.empty())
        return fail(invalid_argument("bge serve needs --model, --reranker or both"));
    if (!o.api_key.empty() && !o.api_key_file.empty()) {
        return fail(invalid_argument("give --api-key or --api-key-file, not both"));
    }
    default_model_ids(o);
    server::AppOptions app_options;
    app_options.api_key = o.api_key;
    if (!o.api_key_file.empty()) {
        auto key = read_key_file(o.api_key_file);
        if (!key.ok()) return fail(key.status());
        app_options.api_key = *key;
    }
    app_options.max_client_batch = o.max_client_batch;
    app_options.auto_truncate = o.auto_truncate;
    app_options.request_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.request_timeout_s * 1000));
    app_options.embedder_id = o.model_id;
    app_options.reranker_id = o.reranker_id;
    app_options.log_json = o.log_format == "json";

    server::HttpOptions http;
    http.host = o.host;
    http.port = o.port;
    http.max_body_bytes = static_cast<size_t>(o.max_body_bytes);
    http.read_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.read_timeout_s * 1000));
    http.idle_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.idle_timeout_s * 1000));
    http.threads = o.http_threads;

    // Every connection is a file descriptor: allow as many as the hard limit does.
    if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }

    // Signals go to one waiting thread; every other thread (started below) inherits the block.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    server::App app(app_options);
    server::add_all_routes(app);
    server::HttpServer http_server(
        http, [&app](server::HttpRequest r, server::Reply reply) { app.handle(std::move(r), std::move(reply)); });
    app.set_executor([&http_server](std::function<void()> task) { http_server.post(std::move(task)); });
    auto port = http_server.listen();
    if (!port.ok()) return fail(port.status());
    std::fprintf(stderr, "bge serve: listening on http://%s:%d, loading\n", o.host.c_str(), *port);
    std::thread io([&http_server] { http_server.run(); });
    auto stop_io = [&] {
        http_server.stop();
        io.join();
    };

    // Downloads happen while listening: /health says 503 until the models are loaded.
    if (Status s = resolve_serve_models(o); !s.ok()) {
        stop_io();
        return fail(s);
    }
    ServeOptions serve;
    serve.embedder_dir = o.model;
    serve.reranker_dir = o.reranker;
    serve.engine.n_threads = o.threads;
    serve.engine.max_batch_tokens = o.max_batch_tokens;
    serve.engine.device = o.device;
    serve.engine.dtype = o.dtype;  // make_backend names the dtypes the device has
    serve.max_batch_requests = o.max_batch_requests;
    serve.max_wait_us = o.max_wait_us;
    serve.max_queue = o.max_queue;
    serve.max_input_tokens = o.max_input_tokens;
    serve.tokenizer_threads = o.tokenizer_threads;
    auto engine = Engine::open(serve);
    if (!engine.ok()) {
        stop_io();
        return fail(engine.status());
    }
    if (Status s = (*engine)->warm_up(); !s.ok()) {
        stop_io();
        return fail(s);
    }
    app.set_engine(engine->get());
    std::string backends;  // the first model's workers, e.g. "cuda:0,cuda:1"
    for (bool reranker : {false, true}) {
        if (reranker ? !(*engine)->has_reranker() : !(*engine)->has_embedder()) continue;
        const bool first_model = backends.empty();
        const std::vector<ModelInfo> infos = (*engine)->worker_infos(reranker);
        for (size_t i = 0; i < infos.size(); ++i) {
            const ModelInfo& w = infos[i];
            std::fprintf(stderr, "bge serve: %s worker %zu on %s (%s, %s, %.0f MB)\n", w.kind.c_str(), i,
                         w.backend.c_str(), w.compute_dtype.c_str(), w.device.c_str(),
                         static_cast<double>(w.model_memory_bytes) / 1e6);
            if (first_model) backends += (i ? "," : "") + w.backend;
        }
    }
    const ModelInfo& served = (*engine)->has_embedder() ? (*engine)->embedder_info() : (*engine)->reranker_info();
    std::fprintf(stderr, "bge serve: ready on http://%s:%d (%s, %s, %s)\n", o.host.c_str(), *port, backends.c_str(),
                 served.compute_dtype.c_str(), served.device.c_str());

    int sig = 0;
    sigwait(&signals, &sig);
    std::fprintf(stderr, "bge serve: %s, draining\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    app.set_draining();
    http_server.stop_accepting();
    const auto limit =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.shutdown_timeout_s * 1000));
    while (http_server.in_flight() > 0 && std::chrono::steady_clock::now() < limit) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const int left = http_server.in_flight();
    (*engine)->drain();
    stop_io();
    std::fprintf(stderr, "bge serve: stopped (%d requests unanswered)\n", left);
    return 0;
}

}  // namespace bge::cli
