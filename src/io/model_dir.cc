#include "io/model_dir.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

namespace bge::io {

namespace {

namespace fs = std::filesystem;

// Text files read whole (config.json, tokenizer_config.json, shard indexes) are far smaller.
constexpr size_t kMaxTextFileSize = size_t{64} << 20;

bool is_file(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);  // follows symlinks, as in the Hugging Face cache layout
}

std::string optional_file(const fs::path& dir, const char* name) {
    fs::path p = dir / name;
    return is_file(p) ? p.string() : std::string();
}

// The unique shard files of model.safetensors.index.json ({"weight_map": {tensor: shard}}), sorted.
StatusOr<std::vector<std::string>> read_shard_index(const fs::path& dir, const fs::path& index) {
    const std::string where = index.string();
    BGE_ASSIGN_OR_RETURN(std::string text, read_text_file(where));
    nlohmann::json j = nlohmann::json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return data_loss(where + ": not valid JSON");
    auto map = j.is_object() ? j.find("weight_map") : j.end();
    if (map == j.end() || !map->is_object() || map->empty()) {
        return data_loss(where + ": no 'weight_map' object of tensor name -> shard file");
    }
    std::set<std::string> shards;
    for (const auto& [tensor, shard] : map->items()) {
        if (!shard.is_string()) return data_loss(where + ": weight_map['" + tensor + "'] is not a string");
        const std::string& name = shard.get_ref<const std::string&>();
        // Shards live next to the index; a path could point anywhere.
        if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
            return data_loss(where + ": shard '" + name + "' of tensor '" + tensor + "' is not a plain file name");
        }
        shards.insert(name);
    }
    std::vector<std::string> paths;
    for (const std::string& name : shards) {
        fs::path p = dir / name;
        if (!is_file(p)) return not_found(where + ": shard file " + p.string() + " not found");
        paths.push_back(p.string());
    }
    return paths;
}

}  // namespace

StatusOr<ModelFiles> find_model_files(const std::string& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return not_found("model folder " + dir + " not found (or not a folder)");
    const fs::path d(dir);
    ModelFiles files;
    files.dir = dir;
    files.config_json = optional_file(d, "config.json");
    if (files.config_json.empty()) return not_found(dir + ": config.json not found");
    files.sentencepiece_model = optional_file(d, "sentencepiece.bpe.model");
    if (files.sentencepiece_model.empty()) return not_found(dir + ": sentencepiece.bpe.model not found");
    files.tokenizer_config_json = optional_file(d, "tokenizer_config.json");
    files.sparse_linear = optional_file(d, "sparse_linear.pt");
    files.colbert_linear = optional_file(d, "colbert_linear.pt");

    if (std::string single = optional_file(d, "model.safetensors"); !single.empty()) {
        files.weight_files = {single};
    } else if (is_file(d / "model.safetensors.index.json")) {
        BGE_ASSIGN_OR_RETURN(files.weight_files, read_shard_index(d, d / "model.safetensors.index.json"));
    } else if (std::string bin = optional_file(d, "pytorch_model.bin"); !bin.empty()) {
        files.weight_files = {bin};
    } else {
        return not_found(dir +
                         ": no weights: looked for model.safetensors, model.safetensors.index.json and "
                         "pytorch_model.bin");
    }
    return files;
}

StatusOr<TensorMap> read_weight_files(const std::vector<std::string>& paths) {
    if (paths.empty()) return invalid_argument("no weight files given");
    TensorMap all;
    std::map<std::string, std::string> origin;  // tensor name -> file it came from
    for (const std::string& path : paths) {
        BGE_ASSIGN_OR_RETURN(TensorMap tensors, read_tensor_file(path));
        for (auto& [name, tensor] : tensors) {
            auto [it, inserted] = origin.emplace(name, path);
            if (!inserted) return data_loss("tensor '" + name + "' is in both " + it->second + " and " + path);
            all.emplace(name, std::move(tensor));
        }
    }
    return all;
}

StatusOr<std::string> read_text_file(const std::string& path) {
    BGE_ASSIGN_OR_RETURN(std::shared_ptr<const MappedFile> file, MappedFile::open(path));
    if (file->size() > kMaxTextFileSize) {
        return out_of_range(path + ": " + std::to_string(file->size()) + " bytes is too large for a text file (limit " +
                            std::to_string(kMaxTextFileSize) + ")");
    }
    return std::string(reinterpret_cast<const char*>(file->data()), file->size());
}

}  // namespace bge::io
