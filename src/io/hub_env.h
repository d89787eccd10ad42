// huggingface_hub's environment variables (huggingface_hub/constants.py), read once per call.
#pragma once

#include <string>

#include "bge/status.h"

namespace bge::io {

struct HubEnv {
    std::string cache_dir;     // HF_HUB_CACHE | HUGGINGFACE_HUB_CACHE | $HF_HOME/hub
    std::string endpoint;      // HF_ENDPOINT without a trailing '/', default https://huggingface.co
    std::string token;         // HF_TOKEN | HUGGING_FACE_HUB_TOKEN | the token file; empty: none
    std::string token_source;  // "HF_TOKEN", the token file's path, or empty
    bool offline = false;      // HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is 1/ON/YES/TRUE
};

// Reads the environment (and the token file when no token variable is set). A token file that exists but
// cannot be read, or is larger than 64 KiB, is an error naming it.
StatusOr<HubEnv> hub_env_from_environment();

}  // namespace bge::io
