// bge info: loads the model and prints what was found and loaded, as JSON; --check-weights also scans
// every stored weight for NaN and Inf. A --device list loads one copy per device, as bge serve does (in
// parallel), and reports each under "workers".
#include <chrono>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/output.h"

namespace bge::cli {
namespace {

using Json = nlohmann::ordered_json;

// Where one copy of the model lives.
Json placement(const ModelInfo& i) {
    return {
        {"backend", i.backend},
        {"compute_dtype", i.compute_dtype},
        {"cpu_isa", i.cpu_isa},
        {"gemm_kernels", i.gemm_kernels},
        {"attention_kernel", i.attention_kernel},
        {"device", i.device},
        {"device_memory_total_bytes", i.device_memory_total_bytes},
        {"device_memory_free_bytes", i.device_memory_free_bytes},
        {"model_memory_bytes", i.model_memory_bytes},
    };
}

Json describe(const ModelInfo& i, const Tokenizer& tokenizer) {
    Json j = {
        {"dir", i.dir},
        {"kind", i.kind},
        {"architecture", i.architecture},
        {"hidden_size", i.hidden_size},
        {"num_hidden_layers", i.num_hidden_layers},
        {"num_attention_heads", i.num_attention_heads},
        {"intermediate_size", i.intermediate_size},
        {"vocab_size", i.vocab_size},
        {"max_length", i.max_length},
        {"weights_dtype", i.weights_dtype},
    };
    j.update(placement(i));
    j["files"] = i.files;
    j["tokenizer"] = tokenizer.description();
    if (i.kind == "embedder") {
        j["outputs"] = {"dense"};
        if (i.has_sparse) j["outputs"].push_back("sparse");
        if (i.has_colbert) j["outputs"].push_back("colbert");
        j["colbert_dim"] = i.colbert_dim;
    }
    return j;
}

template <typename Model>
StatusOr<Json> load_one(const CommonOptions& options) {
    BGE_ASSIGN_OR_RETURN(auto model, Model::open(options.model, options.engine()));
    return describe(model->info(), model->tokenizer());
}

StatusOr<Json> load_workers(const CommonOptions& options, bool reranker) {
    ServeOptions serve;
    (reranker ? serve.reranker_dir : serve.embedder_dir) = options.model;
    serve.engine = options.engine();
    BGE_ASSIGN_OR_RETURN(auto engine, Engine::open(serve));
    const std::vector<ModelInfo> infos = engine->worker_infos(reranker);
    Json j = describe(infos.front(), reranker ? engine->reranker_tokenizer() : engine->embedder_tokenizer());
    j["workers"] = Json::array();
    for (const ModelInfo& i : infos) j["workers"].push_back(placement(i));
    return j;
}

}  // namespace

int run_info(const CommonOptions& options, bool check) {
    auto kind = detect_model_kind(options.model);
    if (!kind.ok()) return fail(kind.status());
    const bool reranker = *kind == "reranker";
    const auto start = std::chrono::steady_clock::now();
    StatusOr<Json> loaded = options.device.find(',') != std::string::npos ? load_workers(options, reranker)
                            : reranker                                    ? load_one<Reranker>(options)
                                                                          : load_one<Embedder>(options);
    if (!loaded.ok()) return fail(loaded.status());
    Json& j = *loaded;
    j["load_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (check) {
        const auto scan_start = std::chrono::steady_clock::now();
        auto scan = check_weights(options.model);
        if (!scan.ok()) return fail(scan.status());
        const double scan_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - scan_start).count();
        j["weights_check"] = {{"result", "all finite"},
                              {"tensors", scan->tensors},
                              {"elements", scan->elements},
                              {"bytes", scan->bytes},
                              {"seconds", scan_seconds}};
    }
    if (Status s = write_stdout(j.dump(2, ' ', false, kReplaceInvalidUtf8) + "\n"); !s.ok()) return fail(s);
    return 0;
}

}  // namespace bge::cli
