#include "io/model_dir.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

namespace bge::io {

namespace {

namespace fs = std::filesystem;

// Text files read whole (config.json, tokenizer_config.json, shard indexes) are far smaller.
constexpr size_t kMaxTextFileSize = size_t{64} << 20;

// Whether `p` is a regular file (following symlinks, as in the Hugging Face cache layout). Anything else
// under the name (a FIFO, device, directory, dangling symlink) is an error naming it: a FIFO would block
// a reader, and skipping it would silently load another file or drop a head.
StatusOr<bool> is_file(const fs::path& p) {
    std::error_code ec;
    const fs::file_status link = fs::symlink_status(p, ec);
    if (ec || !fs::exists(link)) return false;
    const fs::file_status target = fs::status(p, ec);
    if (fs::is_regular_file(target)) return true;
    if (ec || !fs::exists(target)) return not_found(p.string() + ": a symlink to a missing file");
    const char* kind = fs::is_directory(target)        ? "a directory"
                       : fs::is_fifo(target)           ? "a FIFO"
                       : fs::is_socket(target)         ? "a socket"
                       : fs::is_character_file(target) ? "a character device"
                       : fs::is_block_file(target)     ? "a block device"
                                                       : "not a plain file";
    return invalid_argument(p.string() + ": is " + kind + ", not a regular file");
}

StatusOr<std::string> optional_file(const fs::path& dir, const char* name) {
    fs::path p = dir / name;
    BGE_ASSIGN_OR_RETURN(const bool found, is_file(p));
    return found ? p.string() : std::string();
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
        BGE_ASSIGN_OR_RETURN(const bool found, is_file(p));
        if (!found) return not_found(where + ": shard file " + p.string() + " not found");
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
    BGE_ASSIGN_OR_RETURN(files.config_json, optional_file(d, "config.json"));
    if (files.config_json.empty()) return not_found(dir + ": config.json not found");
    BGE_ASSIGN_OR_RETURN(files.sentencepiece_model, optional_file(d, "sentencepiece.bpe.model"));
    if (files.sentencepiece_model.empty()) return not_found(dir + ": sentencepiece.bpe.model not found");
    BGE_ASSIGN_OR_RETURN(files.tokenizer_config_json, optional_file(d, "tokenizer_config.json"));
    BGE_ASSIGN_OR_RETURN(files.sparse_linear, optional_file(d, "sparse_linear.pt"));
    BGE_ASSIGN_OR_RETURN(files.colbert_linear, optional_file(d, "colbert_linear.pt"));

    BGE_ASSIGN_OR_RETURN(std::string single, optional_file(d, "model.safetensors"));
    BGE_ASSIGN_OR_RETURN(std::string index, optional_file(d, "model.safetensors.index.json"));
    BGE_ASSIGN_OR_RETURN(std::string bin, optional_file(d, "pytorch_model.bin"));
    if (!single.empty()) {
        files.weight_files = {single};
    } else if (!index.empty()) {
        BGE_ASSIGN_OR_RETURN(files.weight_files, read_shard_index(d, index));
    } else if (!bin.empty()) {
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

StatusOr<std::string> find_optional_file(const std::string& dir, const char* name) {
    return optional_file(dir, name);
}

}  // namespace bge::io
