// One repo's folder in the Hugging Face cache, laid out as huggingface_hub does (see include/bge/hub.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bge/status.h"

namespace bge::io {

// One file of a commit's listing (the hub's /api/models/<repo>/tree/<commit>?recursive=true).
struct TreeEntry {
    std::string path;
    int64_t size = 0;        // bytes in git (the LFS pointer's size for LFS files)
    std::string blob_id;     // git blob sha1
    std::string lfs_sha256;  // LFS files: the content's sha256, else empty
    int64_t lfs_size = 0;    // LFS files: the content's size
    std::string xet_hash;    // empty unless the hub gave one
    // The name of the file's blob: what huggingface_hub takes from X-Linked-Etag (LFS) or ETag.
    const std::string& etag() const { return lfs_sha256.empty() ? blob_id : lfs_sha256; }
    int64_t content_size() const { return lfs_sha256.empty() ? size : lfs_size; }
};

// Holds an exclusive flock(2) on a lock file; released when destroyed (the file stays, as with filelock).
class FileLock {
 public:
    // Blocks until the lock is held; says so on stderr (unless quiet) when another process holds it.
    static StatusOr<FileLock> acquire(const std::string& path, const std::string& what_for, bool quiet);
    FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    FileLock& operator=(FileLock&&) = delete;
    ~FileLock();

 private:
    explicit FileLock(int fd) : fd_(fd) {}
    int fd_ = -1;
};

class RepoCache {
 public:
    RepoCache(const std::string& cache_dir, const std::string& repo_id);

    const std::string& cache_dir() const { return cache_dir_; }
    const std::string& dir() const { return dir_; }  // <cache>/models--owner--name
    std::string blob_path(const std::string& etag) const { return dir_ + "/blobs/" + etag; }
    std::string snapshot_dir(const std::string& commit) const { return dir_ + "/snapshots/" + commit; }
    std::string pointer_path(const std::string& commit, const std::string& file) const {
        return snapshot_dir(commit) + "/" + file;
    }
    std::string lock_path(const std::string& etag) const;

    // The commit refs/<revision> holds, or nullopt.
    std::optional<std::string> read_ref(const std::string& revision) const;
    // Writes refs/<revision> = commit (temp file + rename), only when it changes.
    Status write_ref(const std::string& revision, const std::string& commit) const;

    // trees/<commit>.json (huggingface_hub's _tree_cache format 1), or nullopt when absent, unreadable or
    // naming an unsafe path or blob.
    std::optional<std::vector<TreeEntry>> read_tree(const std::string& commit) const;
    Status write_tree(const std::string& commit, const std::vector<TreeEntry>& entries) const;

    // snapshots/<commit>/<file> -> relative symlink to blobs/<etag>, replaced atomically.
    Status link_pointer(const std::string& commit, const std::string& file, const std::string& etag) const;

    // CACHEDIR.TAG in the cache root (huggingface_hub writes one on the first download).
    void write_cachedir_tag() const;

 private:
    std::string cache_dir_;
    std::string folder_name_;  // models--owner--name
    std::string dir_;
};

// A blob or commit name becomes a file name: lower-case hex only.
bool is_hex_name(const std::string& s);
// A repo path becomes snapshots/<commit>/<path>: relative, no empty, '.' or '..' segments, no backslash.
bool is_safe_repo_path(const std::string& p);

// Creates `dir` and its parents; the error names it.
Status make_dirs(const std::string& dir);

// Writes `text` to `path` through a temporary file in the same folder and rename(2); `mode` before the umask.
Status write_file_atomically(const std::string& path, const std::string& text, int mode = 0666);

}  // namespace bge::io
