// bge info: loads the model and prints what was found and loaded, as JSON; --check-weights also scans
// every stored weight for NaN and Inf.
#include <chrono>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/output.h"

namespace bge::cli {
namespace {

template <typename Model>
int print_info(const CommonOptions& options, bool check) {
    const auto start = std::chrono::steady_clock::now();
    auto model = Model::open(options.model, options.engine());
    if (!model.ok()) return fail(model.status());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const ModelInfo& i = (*model)->info();
    nlohmann::ordered_json j = {
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
        {"compute_dtype", i.compute_dtype},
        {"backend", i.backend},
        {"cpu_isa", i.cpu_isa},
        {"gemm_kernels", i.gemm_kernels},
        {"device", i.device},
        {"device_memory_total_bytes", i.device_memory_total_bytes},
        {"device_memory_free_bytes", i.device_memory_free_bytes},
        {"model_memory_bytes", i.model_memory_bytes},
        {"files", i.files},
        {"tokenizer", (*model)->tokenizer().description()},
        {"load_seconds", seconds},
    };
    if (i.kind == "embedder") {
        j["outputs"] = {"dense"};
        if (i.has_sparse) j["outputs"].push_back("sparse");
        if (i.has_colbert) j["outputs"].push_back("colbert");
        j["colbert_dim"] = i.colbert_dim;
    }
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

}  // namespace

int run_info(const CommonOptions& options, bool check_weights) {
    auto kind = detect_model_kind(options.model);
    if (!kind.ok()) return fail(kind.status());
    return *kind == "embedder" ? print_info<Embedder>(options, check_weights)
                               : print_info<Reranker>(options, check_weights);
}

}  // namespace bge::cli
