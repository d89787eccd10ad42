// Which files of a repo to fetch: the ones the engine reads, or the caller's patterns.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "bge/status.h"
#include "io/hub_cache.h"

namespace bge::io {

// Makes one file local and returns its path (config.json and a shard index are read to decide).
using LocalFileFn = std::function<StatusOr<std::string>(const TreeEntry&)>;

// With `include` patterns: the entries matching any (fnmatch without FNM_PATHNAME, a trailing '/' matching
// everything under it: huggingface_hub's allow_patterns). Without: config.json (model_type must be
// "xlm-roberta"), the tokenizer files, sentence-transformers' modules.json and 1_Pooling/config.json, one weights
// format (model.safetensors, else the shards of model.safetensors.index.json, else pytorch_model.bin) and
// BGE-M3's sparse_linear.pt and colbert_linear.pt, in the order to fetch them (small files first).
StatusOr<std::vector<const TreeEntry*>> select_files(const std::vector<TreeEntry>& tree,
                                                     const std::vector<std::string>& include,
                                                     const std::string& repo_id, const LocalFileFn& local_file);

}  // namespace bge::io
