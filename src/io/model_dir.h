// Finds the files of a Hugging Face model folder (BAAI/bge-m3, BAAI/bge-reranker-v2-m3 layout).
#pragma once

#include <string>
#include <vector>

#include "bge/status.h"
#include "io/tensor_file.h"

namespace bge::io {

struct ModelFiles {
    std::string dir;
    std::string config_json;                // config.json (required)
    std::string tokenizer_config_json;      // tokenizer_config.json, or empty
    std::string sentencepiece_model;        // sentencepiece.bpe.model (required)
    std::vector<std::string> weight_files;  // model.safetensors | shards from model.safetensors.index.json |
                                            // pytorch_model.bin, in that order of preference
    std::string sparse_linear;              // sparse_linear.pt, or empty
    std::string colbert_linear;             // colbert_linear.pt, or empty
};

// Errors name the folder and the missing file.
StatusOr<ModelFiles> find_model_files(const std::string& dir);

// Reads every weight file into one map. A tensor name found in two shards is kDataLoss.
StatusOr<TensorMap> read_weight_files(const std::vector<std::string>& paths);

// The path of `name` in `dir` when it is a regular file (after symlinks), "" when there is none; anything else
// under the name (a FIFO, device, directory, dangling symlink) is an error naming it.
StatusOr<std::string> find_optional_file(const std::string& dir, const char* name);

// Reads a whole small text file (config.json ...). kNotFound names the path.
StatusOr<std::string> read_text_file(const std::string& path);

}  // namespace bge::io
