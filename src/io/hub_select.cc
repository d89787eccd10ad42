#include "io/hub_select.h"

#include <fnmatch.h>

#include <nlohmann/json.hpp>
#include <set>

#include "io/model_dir.h"

namespace bge::io {
namespace {

// Small files the engine (tokenizer, pooling) reads when present.
constexpr const char* kSmallFiles[] = {
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "sentencepiece.bpe.model",
    "modules.json",   "1_Pooling/config.json", "sparse_linear.pt",        "colbert_linear.pt",
};

const TreeEntry* find(const std::vector<TreeEntry>& tree, const std::string& path) {
    for (const TreeEntry& e : tree) {
        if (e.path == path) return &e;
    }
    return nullptr;
}

StatusOr<nlohmann::json> read_json(const std::string& path) {
    BGE_ASSIGN_OR_RETURN(std::string text, read_text_file(path));
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return data_loss(path + ": not a JSON object");
    return j;
}

// The shards model.safetensors.index.json names, each checked against the listing.
StatusOr<std::vector<const TreeEntry*>> shards_of(const std::vector<TreeEntry>& tree, const std::string& index_path,
                                                  const std::string& repo_id) {
    BGE_ASSIGN_OR_RETURN(nlohmann::json index, read_json(index_path));
    auto map = index.find("weight_map");
    if (map == index.end() || !map->is_object() || map->empty()) {
        return data_loss(repo_id + ": model.safetensors.index.json has no 'weight_map' object");
    }
    std::set<std::string> names;
    for (const auto& [tensor, shard] : map->items()) {
        if (!shard.is_string()) return data_loss(repo_id + ": weight_map['" + tensor + "'] is not a string");
        names.insert(shard.get<std::string>());
    }
    std::vector<const TreeEntry*> shards;
    for (const std::string& name : names) {
        const TreeEntry* e = name.find('/') == std::string::npos ? find(tree, name) : nullptr;
        if (!e) return data_loss(repo_id + ": shard '" + name + "' of model.safetensors.index.json is not in the repo");
        shards.push_back(e);
    }
    return shards;
}

}  // namespace

StatusOr<std::vector<const TreeEntry*>> select_files(const std::vector<TreeEntry>& tree,
                                                     const std::vector<std::string>& include,
                                                     const std::string& repo_id, const LocalFileFn& local_file) {
    std::vector<const TreeEntry*> out;
    if (!include.empty()) {
        for (const TreeEntry& e : tree) {
            for (std::string pattern : include) {
                if (pattern.ends_with('/')) pattern += '*';
                if (fnmatch(pattern.c_str(), e.path.c_str(), 0) == 0) {
                    out.push_back(&e);
                    break;
                }
            }
        }
        if (out.empty()) return not_found(repo_id + ": no file matches --include");
        return out;
    }

    const TreeEntry* config = find(tree, "config.json");
    if (!config) return not_found(repo_id + " has no config.json: not a transformers model");
    BGE_ASSIGN_OR_RETURN(std::string config_path, local_file(*config));
    BGE_ASSIGN_OR_RETURN(nlohmann::json cfg, read_json(config_path));
    const std::string model_type = cfg.value("model_type", "");
    if (model_type != "xlm-roberta") {
        return failed_precondition(repo_id + " is not an XLM-R embedder or reranker: its config.json has model_type '" +
                                   model_type + "' (bge.cpp runs XLM-RoBERTa models like BAAI/bge-m3)");
    }
    out.push_back(config);
    for (const char* name : kSmallFiles) {
        if (const TreeEntry* e = find(tree, name)) out.push_back(e);
    }
    if (const TreeEntry* single = find(tree, "model.safetensors")) {
        out.push_back(single);
    } else if (const TreeEntry* index = find(tree, "model.safetensors.index.json")) {
        BGE_ASSIGN_OR_RETURN(std::string index_path, local_file(*index));
        BGE_ASSIGN_OR_RETURN(std::vector<const TreeEntry*> shards, shards_of(tree, index_path, repo_id));
        out.push_back(index);
        out.insert(out.end(), shards.begin(), shards.end());
    } else if (const TreeEntry* bin = find(tree, "pytorch_model.bin")) {
        out.push_back(bin);
    } else {
        return not_found(repo_id +
                         " has no weights the engine reads (model.safetensors, model.safetensors.index.json, "
                         "pytorch_model.bin)");
    }
    return out;
}

}  // namespace bge::io
