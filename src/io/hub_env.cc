#include "io/hub_env.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace bge::io {
namespace {

namespace fs = std::filesystem;

constexpr std::uintmax_t kMaxTokenFileSize = 64 << 10;

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

// os.path.expanduser for a leading "~" (huggingface_hub also expands $VARS; the shell did that already).
std::string expand_user(const std::string& path) {
    if (path.empty() || path[0] != '~' || (path.size() > 1 && path[1] != '/')) return path;
    return env("HOME") + path.substr(1);
}

bool is_true(std::string v) {
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::toupper(c); });
    return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

// huggingface_hub's _clean_token: drop CR/LF, trim spaces.
std::string clean_token(std::string t) {
    std::erase(t, '\r');
    std::erase(t, '\n');
    const auto first = t.find_first_not_of(" \t");
    if (first == std::string::npos) return "";
    return t.substr(first, t.find_last_not_of(" \t") - first + 1);
}

}  // namespace

StatusOr<HubEnv> hub_env_from_environment() {
    HubEnv e;
    std::string home = env("HF_HOME");
    if (home.empty()) {
        std::string xdg = env("XDG_CACHE_HOME");
        home = (xdg.empty() ? env("HOME") + "/.cache" : xdg) + "/huggingface";
    }
    home = expand_user(home);
    e.cache_dir = env("HF_HUB_CACHE");
    if (e.cache_dir.empty()) e.cache_dir = env("HUGGINGFACE_HUB_CACHE");
    e.cache_dir = e.cache_dir.empty() ? home + "/hub" : expand_user(e.cache_dir);

    e.endpoint = env("HF_ENDPOINT");
    if (e.endpoint.empty()) e.endpoint = "https://huggingface.co";
    while (!e.endpoint.empty() && e.endpoint.back() == '/') e.endpoint.pop_back();

    std::string offline = env("HF_HUB_OFFLINE");
    e.offline = is_true(offline.empty() ? env("TRANSFORMERS_OFFLINE") : offline);

    e.token = clean_token(env("HF_TOKEN"));
    e.token_source = "HF_TOKEN";
    if (e.token.empty()) {
        e.token = clean_token(env("HUGGING_FACE_HUB_TOKEN"));
        e.token_source = "HUGGING_FACE_HUB_TOKEN";
    }
    if (e.token.empty()) {
        std::string path = env("HF_TOKEN_PATH");
        path = path.empty() ? home + "/token" : expand_user(path);
        e.token_source.clear();
        std::error_code ec;
        if (fs::exists(path, ec)) {
            const std::uintmax_t size = fs::file_size(path, ec);
            if (ec || size > kMaxTokenFileSize) return invalid_argument("token file " + path + " is not a small file");
            std::ifstream in(path, std::ios::binary);
            std::stringstream text;
            text << in.rdbuf();
            if (!in.good() && !in.eof()) return invalid_argument("cannot read the token file " + path);
            e.token = clean_token(text.str());
            if (!e.token.empty()) e.token_source = path;
        }
    }
    if (e.token.empty()) e.token_source.clear();
    return e;
}

}  // namespace bge::io
