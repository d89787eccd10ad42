// Models by Hugging Face hub name: `owner/name[@revision]` resolves to a snapshot folder in the Hugging Face
// cache, downloading what is missing, exactly as huggingface_hub lays it out (so either reads the other's cache):
//   $HF_HUB_CACHE/models--owner--name/blobs/<etag>              file contents (etag: sha256 for LFS files)
//   $HF_HUB_CACHE/models--owner--name/snapshots/<commit>/<path> relative symlinks to ../../blobs/<etag>
//   $HF_HUB_CACHE/models--owner--name/refs/<revision>           the commit a branch or tag named
//   $HF_HUB_CACHE/models--owner--name/trees/<commit>.json       the commit's file listing
//   $HF_HUB_CACHE/.locks/models--owner--name/<etag>.lock        flock(2) held while a blob is fetched
// Environment, as huggingface_hub reads it: HF_HOME (default $XDG_CACHE_HOME/huggingface or ~/.cache/huggingface),
// HF_HUB_CACHE (default $HF_HOME/hub), HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (else the file
// HF_TOKEN_PATH, default $HF_HOME/token, that `hf auth login` writes), HF_HUB_OFFLINE=1 (cache only).
//
// Thread-safety: the functions may run concurrently, in one or several processes, on one cache.
#pragma once

#include <string>
#include <vector>

#include "bge/status.h"

namespace bge {

struct HubOptions {
    bool quiet = false;  // no progress lines on stderr
    // fnmatch(3) patterns of repo paths to fetch (huggingface_hub's allow_patterns); empty: the files the engine
    // reads (config.json, tokenizer files, one weights format, BGE-M3's sparse/colbert heads).
    std::vector<std::string> include;
    // Re-hash cached blobs against the listing (size; sha256 or git blob id) and fetch bad ones again (bge download).
    bool verify_cached = false;
};

// A model spec split: a local folder, or a hub repo id with its revision ("main" when none was given).
struct ModelSpec {
    bool is_local = false;
    std::string path;      // is_local: the folder
    std::string repo_id;   // "owner/name"
    std::string revision;  // branch, tag or 40-hex commit
};

// An existing folder, anything starting with '/', '.' or '~', is local; otherwise `owner/name[@revision]`
// (names of [A-Za-z0-9._-], as the hub allows). kNotFound for neither.
StatusOr<ModelSpec> parse_model_spec(const std::string& spec);

// Returns a folder to open: `spec` itself when it is local; else the cached snapshot of the repo at the revision,
// first fetching the files it lacks (only the cache with HF_HUB_OFFLINE, or when the hub cannot be reached and
// the revision is cached). The repo must be an XLM-R model (config.json model_type "xlm-roberta") unless
// `options.include` is given. Errors are one line naming the repo, file or variable (HF_TOKEN for 401/403).
StatusOr<std::string> resolve_model(const std::string& spec, const HubOptions& options = {});

}  // namespace bge
