#include "io/hub_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "io/model_dir.h"

namespace bge::io {
namespace {

namespace fs = std::filesystem;

constexpr int kTreeFormatVersion = 1;  // huggingface_hub/_tree_cache.py TREE_CACHE_FORMAT_VERSION

// huggingface_hub/_local_folder.py CACHEDIR_TAG_CONTENT, byte for byte.
constexpr const char* kCachedirTag =
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by huggingface_hub.\n"
    "# For information about cache directory tags, see:\n"
    "#\thttps://bford.info/cachedir/\n";

std::string temp_name(const std::string& path) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, ".%d.%08x.tmp", static_cast<int>(getpid()), static_cast<unsigned>(rng()));
    return path + suffix;
}

std::string os_error(const std::string& what, const std::string& path) {
    return what + " " + path + ": " + std::strerror(errno);
}

}  // namespace

bool is_hex_name(const std::string& s) {
    return !s.empty() && s.size() <= 128 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

bool is_safe_repo_path(const std::string& p) {
    if (p.empty() || p.size() > 4096 || p.front() == '/' || p.find('\\') != std::string::npos ||
        p.find('\0') != std::string::npos) {
        return false;
    }
    size_t start = 0;
    while (true) {
        const size_t slash = p.find('/', start);
        const std::string seg = p.substr(start, slash - start);
        if (seg.empty() || seg == "." || seg == "..") return false;
        if (slash == std::string::npos) return true;
        start = slash + 1;
    }
}

Status make_dirs(const std::string& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return internal_error("cannot create folder " + dir + ": " + ec.message());
    return ok_status();
}

Status write_file_atomically(const std::string& path, const std::string& text, int mode) {
    BGE_RETURN_IF_ERROR(make_dirs(fs::path(path).parent_path().string()));
    const std::string tmp = temp_name(path);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) return internal_error(os_error("cannot create", tmp));
    const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    const int write_errno = errno;
    if (::close(fd) != 0 || !written) {
        ::unlink(tmp.c_str());
        errno = write_errno;
        if (errno == ENOSPC) return resource_exhausted("disk full writing " + path);
        return internal_error(os_error("cannot write", tmp));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        Status s = internal_error(os_error("cannot rename into", path));
        ::unlink(tmp.c_str());
        return s;
    }
    return ok_status();
}

StatusOr<FileLock> FileLock::acquire(const std::string& path, const std::string& what_for, bool quiet) {
    BGE_RETURN_IF_ERROR(make_dirs(fs::path(path).parent_path().string()));
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0664);
    if (fd < 0) return internal_error(os_error("cannot open the lock file", path));
    (void)::fchmod(fd, 0664);  // group-writable whatever the umask, as huggingface_hub's WeakFileLock makes it
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) {
            Status s = internal_error(os_error("cannot lock", path));
            ::close(fd);
            return s;
        }
        if (!quiet) std::fprintf(stderr, "bge: waiting for another process downloading %s\n", what_for.c_str());
        int rc;
        while ((rc = ::flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
        }
        if (rc != 0) {
            Status s = internal_error(os_error("cannot lock", path));
            ::close(fd);
            return s;
        }
    }
    return FileLock(fd);
}

FileLock::~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

RepoCache::RepoCache(const std::string& cache_dir, const std::string& repo_id) : cache_dir_(cache_dir) {
    // huggingface_hub's repo_folder_name: "models" + "--" + the repo id's parts.
    folder_name_ = "models";
    size_t start = 0;
    while (true) {
        const size_t slash = repo_id.find('/', start);
        folder_name_ += "--" + repo_id.substr(start, slash - start);
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
    dir_ = cache_dir_ + "/" + folder_name_;
}

std::string RepoCache::lock_path(const std::string& etag) const {
    return cache_dir_ + "/.locks/" + folder_name_ + "/" + etag + ".lock";
}

std::optional<std::string> RepoCache::read_ref(const std::string& revision) const {
    const std::string path = dir_ + "/refs/" + revision;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return std::nullopt;
    auto text = read_text_file(path);
    if (!text.ok()) return std::nullopt;
    return *text;
}

Status RepoCache::write_ref(const std::string& revision, const std::string& commit) const {
    if (revision == commit || read_ref(revision) == commit) return ok_status();
    return write_file_atomically(dir_ + "/refs/" + revision, commit);
}

std::optional<std::vector<TreeEntry>> RepoCache::read_tree(const std::string& commit) const {
    const std::string path = dir_ + "/trees/" + commit + ".json";
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return std::nullopt;
    auto text = read_text_file(path);
    if (!text.ok()) return std::nullopt;
    const nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || j.value("format_version", 0) != kTreeFormatVersion) return std::nullopt;
    auto files = j.find("files");
    if (files == j.end() || !files->is_object()) return std::nullopt;
    std::vector<TreeEntry> entries;
    for (const auto& [path_in_repo, info] : files->items()) {
        if (!info.is_object()) return std::nullopt;
        auto size = info.find("size");
        auto blob = info.find("blob_id");
        if (size == info.end() || !size->is_number_integer() || blob == info.end() || !blob->is_string()) {
            return std::nullopt;
        }
        if (!is_safe_repo_path(path_in_repo)) return std::nullopt;
        TreeEntry e;
        e.path = path_in_repo;
        e.size = size->get<int64_t>();
        e.blob_id = blob->get<std::string>();
        if (auto sha = info.find("lfs_sha256"); sha != info.end() && sha->is_string()) {
            e.lfs_sha256 = sha->get<std::string>();
            auto lfs_size = info.find("lfs_size");
            if (lfs_size == info.end() || !lfs_size->is_number_integer()) return std::nullopt;
            e.lfs_size = lfs_size->get<int64_t>();
        }
        if (auto xet = info.find("xet_hash"); xet != info.end() && xet->is_string())
            e.xet_hash = xet->get<std::string>();
        entries.push_back(std::move(e));
    }
    return entries;
}

Status RepoCache::write_tree(const std::string& commit, const std::vector<TreeEntry>& entries) const {
    std::vector<const TreeEntry*> sorted;
    for (const TreeEntry& e : entries) sorted.push_back(&e);
    std::sort(sorted.begin(), sorted.end(), [](const TreeEntry* a, const TreeEntry* b) { return a->path < b->path; });
    nlohmann::ordered_json files = nlohmann::ordered_json::object();
    for (const TreeEntry* e : sorted) {
        nlohmann::ordered_json info = {{"size", e->size}, {"blob_id", e->blob_id}};
        if (!e->lfs_sha256.empty()) {
            info["lfs_sha256"] = e->lfs_sha256;
            info["lfs_size"] = e->lfs_size;
        }
        if (!e->xet_hash.empty()) info["xet_hash"] = e->xet_hash;
        files[e->path] = std::move(info);
    }
    nlohmann::ordered_json j = {{"format_version", kTreeFormatVersion}, {"files", std::move(files)}};
    // json.dump(indent=1) with ensure_ascii, as huggingface_hub writes it.
    // 0600: huggingface_hub writes it through mkstemp.
    return write_file_atomically(dir_ + "/trees/" + commit + ".json", j.dump(1, ' ', /*ensure_ascii=*/true), 0600);
}

Status RepoCache::link_pointer(const std::string& commit, const std::string& file, const std::string& etag) const {
    const std::string pointer = pointer_path(commit, file);
    BGE_RETURN_IF_ERROR(make_dirs(fs::path(pointer).parent_path().string()));
    // From snapshots/<commit>/<dirs...>/ up to the repo folder: two levels plus one per folder in the path.
    std::string target = "../../";
    for (char c : file) {
        if (c == '/') target += "../";
    }
    target += "blobs/" + etag;
    const std::string tmp = temp_name(pointer);
    if (::symlink(target.c_str(), tmp.c_str()) != 0) return internal_error(os_error("cannot create the symlink", tmp));
    if (::rename(tmp.c_str(), pointer.c_str()) != 0) {
        Status s = internal_error(os_error("cannot rename into", pointer));
        ::unlink(tmp.c_str());
        return s;
    }
    return ok_status();
}

void RepoCache::write_cachedir_tag() const {
    const std::string path = cache_dir_ + "/CACHEDIR.TAG";
    std::error_code ec;
    if (fs::exists(path, ec)) return;
    (void)write_file_atomically(path, kCachedirTag);  // best effort, as in huggingface_hub
}

}  // namespace bge::io
