// include/bge/hub.h: model specs, resolved online through HubClient or offline from the cache alone.
#include "bge/hub.h"

#include <sys/stat.h>

#include <cstdio>
#include <set>

#include "io/hub_client.h"
#include "io/hub_select.h"

namespace bge {
namespace {

using io::HubEnv;
using io::RepoCache;
using io::TreeEntry;

bool is_dir(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_file(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);  // follows the snapshot's symlinks
}

bool is_commit(const std::string& rev) {
    return rev.size() == 40 && rev.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The hub's repo name rules (huggingface_hub validate_repo_id): [A-Za-z0-9._-], at most 96 characters,
// no "--" or "..", not starting or ending with '-' or '.'.
bool is_repo_name(const std::string& s) {
    if (s.empty() || s.size() > 96 || s.find("--") != std::string::npos || s.find("..") != std::string::npos) {
        return false;
    }
    if (s.front() == '-' || s.front() == '.' || s.back() == '-' || s.back() == '.') return false;
    return s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
           std::string::npos;
}

// A revision becomes refs/<revision>: printable, no empty, '.' or '..' segments.
bool is_revision(const std::string& rev) {
    if (rev.empty() || rev.size() > 256 || rev.front() == '/' || rev.back() == '/') return false;
    for (unsigned char c : rev) {
        if (c <= ' ' || c == 0x7f || c == '\\') return false;
    }
    size_t start = 0;
    while (true) {
        const size_t slash = rev.find('/', start);
        const std::string seg = rev.substr(start, slash - start);
        if (seg.empty() || seg == "." || seg == "..") return false;
        if (slash == std::string::npos) return true;
        start = slash + 1;
    }
}

std::string spec_name(const ModelSpec& s) {
    return s.repo_id + "@" + s.revision;
}

// The snapshot of a cached revision, without the network. `why` says why the network was not used.
StatusOr<std::string> cached_snapshot(const HubEnv& env, const ModelSpec& spec, const HubOptions& options,
                                      const std::string& why) {
    const RepoCache cache(env.cache_dir, spec.repo_id);
    std::string commit = spec.revision;
    if (!is_commit(commit)) commit = cache.read_ref(spec.revision).value_or("");
    const std::string snapshot = cache.snapshot_dir(commit);
    if (!is_commit(commit) || !is_dir(snapshot)) {  // a ref holding anything else is no commit
        return not_found(why + " and " + spec_name(spec) + " is not in the cache " + env.cache_dir +
                         "; fetch it first with network access: bge download " + spec_name(spec));
    }
    // With the commit's listing cached, every selected file must be there.
    if (auto tree = cache.read_tree(commit)) {
        std::vector<std::string> missing;
        const io::LocalFileFn local = [&](const TreeEntry& e) -> StatusOr<std::string> {
            const std::string path = cache.pointer_path(commit, e.path);
            if (!is_file(path)) return not_found(e.path);
            return path;
        };
        auto selected = io::select_files(*tree, options.include, spec.repo_id, local);
        if (!selected.ok() && selected.status().code() != StatusCode::kNotFound) return selected.status();
        if (!selected.ok()) missing.push_back(selected.status().message());
        for (const TreeEntry* e : selected.ok() ? *selected : std::vector<const TreeEntry*>{}) {
            if (!is_file(cache.pointer_path(commit, e->path))) missing.push_back(e->path);
        }
        if (!missing.empty()) {
            return not_found(why + " and the cached " + spec_name(spec) + " lacks " + missing.front() +
                             (missing.size() > 1 ? " and " + std::to_string(missing.size() - 1) + " more" : "") +
                             "; complete it with network access: bge download " + spec_name(spec));
        }
    }
    return snapshot;
}

StatusOr<std::string> fetch_snapshot(const HubEnv& env, const ModelSpec& spec, const HubOptions& options) {
    io::HubClient client(env, spec.repo_id, options.quiet);
    const RepoCache& cache = client.cache();
    std::string commit = spec.revision;
    if (!is_commit(commit)) {
        auto resolved = client.resolve_commit(spec.revision);
        if (!resolved.ok() && client.unreachable()) {
            auto cached = cached_snapshot(env, spec, options, resolved.status().message());
            if (cached.ok() && !options.quiet) {
                std::fprintf(stderr, "bge: %s; using the cached %s\n", resolved.status().message().c_str(),
                             spec_name(spec).c_str());
            }
            return cached;
        }
        BGE_ASSIGN_OR_RETURN(commit, resolved);
    }
    std::vector<TreeEntry> tree;
    if (auto cached = cache.read_tree(commit)) {
        tree = std::move(*cached);  // a commit's listing never changes
    } else {
        BGE_ASSIGN_OR_RETURN(tree, client.list_files(commit));
        BGE_RETURN_IF_ERROR(cache.write_tree(commit, tree));
    }
    BGE_RETURN_IF_ERROR(cache.write_ref(spec.revision, commit));

    std::set<std::string> done;  // config.json and a shard index are fetched while selecting
    const io::LocalFileFn fetch = [&](const TreeEntry& e) -> StatusOr<std::string> {
        if (done.insert(e.path).second) BGE_RETURN_IF_ERROR(client.fetch_file(commit, e, options.verify_cached));
        return cache.pointer_path(commit, e.path);
    };
    BGE_ASSIGN_OR_RETURN(std::vector<const TreeEntry*> files,
                         io::select_files(tree, options.include, spec.repo_id, fetch));
    for (const TreeEntry* e : files) BGE_RETURN_IF_ERROR(fetch(*e).status());
    return cache.snapshot_dir(commit);
}

}  // namespace

StatusOr<ModelSpec> parse_model_spec(const std::string& spec) {
    ModelSpec s;
    if (spec.empty()) return invalid_argument("empty model name");
    if (is_dir(spec) || spec[0] == '/' || spec[0] == '.' || spec[0] == '~') {
        if (!is_dir(spec)) return not_found("model folder " + spec + " not found (or not a folder)");
        s.is_local = true;
        s.path = spec;
        return s;
    }
    const size_t at = spec.find('@');
    s.repo_id = spec.substr(0, at);
    s.revision = at == std::string::npos ? "main" : spec.substr(at + 1);
    const size_t slash = s.repo_id.find('/');
    const bool repo_ok = slash != std::string::npos && is_repo_name(s.repo_id.substr(0, slash)) &&
                         is_repo_name(s.repo_id.substr(slash + 1));
    if (!repo_ok || !is_revision(s.revision)) {
        return not_found("'" + spec + "' is neither a model folder nor a hub repo id owner/name[@revision]");
    }
    return s;
}

StatusOr<std::string> resolve_model(const std::string& spec_text, const HubOptions& options) {
    BGE_ASSIGN_OR_RETURN(ModelSpec spec, parse_model_spec(spec_text));
    if (spec.is_local) return spec.path;
    BGE_ASSIGN_OR_RETURN(HubEnv env, io::hub_env_from_environment());
    if (env.offline) return cached_snapshot(env, spec, options, "offline (HF_HUB_OFFLINE is set)");
    return fetch_snapshot(env, spec, options);
}

}  // namespace bge
