// The hub's HTTP API as huggingface_hub uses it: revision -> commit, a commit's file listing, and files
// fetched through the resolve endpoint into a RepoCache (locked, resumable, size- and sha256-checked).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bge/status.h"
#include "io/hub_cache.h"
#include "io/hub_env.h"
#include "io/hub_http.h"

namespace bge::io {

class HubClient {
 public:
    HubClient(HubEnv env, std::string repo_id, bool quiet);

    // GET /api/models/<repo>/revision/<revision> -> its "sha".
    StatusOr<std::string> resolve_commit(const std::string& revision);

    // GET /api/models/<repo>/tree/<commit>?recursive=true, every page (Link: rel="next"); files only.
    StatusOr<std::vector<TreeEntry>> list_files(const std::string& commit);

    // Makes snapshots/<commit>/<entry.path> point at a complete blob: HEAD on resolve (X-Repo-Commit, ETag,
    // X-Linked-Etag, X-Linked-Size), GET from the Location with a Range from what blobs/<etag>.incomplete holds,
    // size and sha256 (LFS) or git blob id checked, rename into blobs/ under the blob's lock. A blob already cached is
    // used as is unless `verify` (then it is re-hashed and fetched again when it does not match).
    Status fetch_file(const std::string& commit, const TreeEntry& entry, bool verify);

    // True when the last failed call could not reach the hub at all (the cache may stand in).
    bool unreachable() const { return unreachable_; }
    const RepoCache& cache() const { return cache_; }

 private:
    // One request, following redirects: with `stop_off_hub`, a redirect off the hub's origin is returned
    // instead (its Location is the download URL). The token goes only to the hub's origin.
    StatusOr<HttpResponse> request(HttpRequest request, bool stop_off_hub, const BodySink* sink = nullptr,
                                   const ProgressFn* progress = nullptr, TransferError* error = nullptr);
    StatusOr<HttpResponse> get_api(const std::string& url, const std::string& what);
    struct Blob {
        std::string etag;  // its name in blobs/
        int64_t size = 0;
        std::string digest_hex;  // an LFS file: the sha256 of its content (= etag)
        std::string git_oid;     // a regular file: its git blob id, from the listing
    };
    // blobs/<etag>.incomplete, resumed, checked, renamed to blobs/<etag>; `name` is the repo path, for messages.
    Status download_blob(const std::string& url, const std::string& name, const Blob& blob);
    Status http_error(const HttpResponse& response, const std::string& what) const;
    std::string token_hint() const;

    HubEnv env_;
    std::string repo_id_;
    bool quiet_;
    RepoCache cache_;
    std::string hub_origin_;
    bool unreachable_ = false;
};

}  // namespace bge::io
