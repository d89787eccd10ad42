#include "io/hub_client.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

namespace bge::io {
namespace {

constexpr int kMaxRedirects = 10;
constexpr int kMaxAttempts = 3;     // a dropped connection is resumed this many times in one run
constexpr int kMaxTreePages = 100;  // the hub pages 1000 entries: 100k files, far more than a model has
constexpr int64_t kProgressMinBytes = 1 << 20;

struct MdCtxDeleter {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// What a blob's content must hash to: an LFS file's sha256 (its etag), or a regular file's git blob id, the
// listing's oid (sha1 of "blob <size>\0" + content). Empty `expected`: nothing to check.
class Digest {
 public:
    Digest() = default;
    Digest(const EVP_MD* md, std::string prefix, std::string expected)
        : md_(md), prefix_(std::move(prefix)), expected_(std::move(expected)) {}
    static Digest sha256(std::string expected) { return {EVP_sha256(), "", std::move(expected)}; }
    static Digest git_blob(std::string oid, int64_t size) {
        return {EVP_sha1(), "blob " + std::to_string(size) + std::string(1, '\0'), std::move(oid)};
    }
    bool enabled() const { return !expected_.empty(); }
    const std::string& expected() const { return expected_; }
    const char* name() const { return md_ == EVP_sha1() ? "git blob sha1" : "sha256"; }
    // (Re)starts the hash; false when OpenSSL fails.
    bool start() {
        if (!enabled()) return true;
        ctx_.reset(EVP_MD_CTX_new());
        if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), md_, nullptr) != 1) return false;
        update(prefix_.data(), prefix_.size());
        return true;
    }
    void update(const void* data, size_t n) {
        if (enabled()) EVP_DigestUpdate(ctx_.get(), data, n);
    }
    std::string hex() {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        EVP_DigestFinal_ex(ctx_.get(), digest, &n);
        std::string out;
        char buf[3];
        for (unsigned int i = 0; i < n; ++i) {
            std::snprintf(buf, sizeof buf, "%02x", digest[i]);
            out += buf;
        }
        return out;
    }

 private:
    const EVP_MD* md_ = nullptr;
    std::string prefix_;
    std::string expected_;
    std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx_;
};

// Feeds [0, limit) of an open file to the hash.
Status hash_file_prefix(int fd, int64_t limit, Digest& digest, const std::string& path) {
    std::vector<char> buf(1 << 20);
    int64_t done = 0;
    while (done < limit) {
        const ssize_t n = ::pread(fd, buf.data(), std::min<int64_t>(buf.size(), limit - done), done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return internal_error("cannot read " + path + ": " + (n < 0 ? std::strerror(errno) : "short file"));
        digest.update(buf.data(), static_cast<size_t>(n));
        done += n;
    }
    return ok_status();
}

// huggingface_hub's _normalize_etag: W/"x" or "x" -> x.
std::string normalize_etag(std::string etag) {
    if (etag.starts_with("W/")) etag = etag.substr(2);
    while (!etag.empty() && etag.front() == '"') etag.erase(0, 1);
    while (!etag.empty() && etag.back() == '"') etag.pop_back();
    return etag;
}

// A non-negative decimal, or -1.
int64_t parse_int(const std::string& s) {
    int64_t v = -1;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && end == s.data() + s.size() && v >= 0 ? v : -1;
}

// The rel="next" URL of a Link header, or "".
std::string next_link(const std::string& link) {
    size_t pos = 0;
    while (pos < link.size()) {
        const size_t open = link.find('<', pos);
        const size_t close = link.find('>', open);
        if (open == std::string::npos || close == std::string::npos) return "";
        const size_t end = link.find(',', close);
        const std::string params = link.substr(close + 1, end == std::string::npos ? std::string::npos : end - close);
        if (params.find("rel=\"next\"") != std::string::npos) return link.substr(open + 1, close - open - 1);
        if (end == std::string::npos) return "";
        pos = end + 1;
    }
    return "";
}

std::string human_bytes(int64_t n) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(n);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

// Progress of one file on stderr: at most one update a second, '\r'-overwritten on a terminal.
class ProgressLine {
 public:
    ProgressLine(const std::string& name, int64_t total, bool quiet)
        : name_(name), total_(total), enabled_(!quiet && total >= kProgressMinBytes), tty_(isatty(2) == 1) {}
    void update(int64_t done) {
        if (!enabled_) return;
        const auto now = std::chrono::steady_clock::now();
        if (now - last_ < std::chrono::seconds(1)) return;
        last_ = now;
        std::fprintf(stderr, "%sbge: %s %s / %s (%d%%)%s", tty_ ? "\r" : "", name_.c_str(), human_bytes(done).c_str(),
                     human_bytes(total_).c_str(),
                     total_ ? static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total_)) : 100,
                     tty_ ? "" : "\n");
        printed_ = true;
    }
    ~ProgressLine() {
        if (printed_ && tty_) std::fputc('\n', stderr);
    }

 private:
    std::string name_;
    int64_t total_;
    bool enabled_;
    bool tty_;
    bool printed_ = false;
    std::chrono::steady_clock::time_point last_{};
};

// The digest of a whole file, in hex; the error names it.
StatusOr<std::string> file_digest(const std::string& path, Digest& digest) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return not_found("cannot open " + path + ": " + std::strerror(errno));
    struct stat st {};
    Status s = ::fstat(fd, &st) != 0 ? internal_error("cannot stat " + path)
               : !digest.start()     ? internal_error("OpenSSL: cannot start a digest")
                                     : hash_file_prefix(fd, st.st_size, digest, path);
    ::close(fd);
    if (!s.ok()) return s;
    return digest.hex();
}

}  // namespace

HubClient::HubClient(HubEnv env, std::string repo_id, bool quiet)
    : env_(std::move(env)),
      repo_id_(std::move(repo_id)),
      quiet_(quiet),
      cache_(env_.cache_dir, repo_id_),
      hub_origin_(url_origin(env_.endpoint)) {}

std::string HubClient::token_hint() const {
    if (!env_.token.empty()) return "the token from " + env_.token_source + " was refused";
    return "pass a token: HF_TOKEN=hf_... or `hf auth login` (it writes $HF_HOME/token)";
}

Status HubClient::http_error(const HttpResponse& r, const std::string& what) const {
    const std::string code = r.header("x-error-code");
    const std::string where = repo_id_ + " at " + env_.endpoint;
    const std::string http = " (HTTP " + std::to_string(r.status) + ")";
    if (code == "GatedRepo") {
        return failed_precondition(repo_id_ + " is gated" + http + ": accept its conditions at " + env_.endpoint + "/" +
                                   repo_id_ + ", then " + token_hint());
    }
    if (code == "RevisionNotFound") return not_found(what + " not found in " + where + http);
    if (code == "EntryNotFound") return not_found(what + " not found in " + where + http);
    if (code == "RepoNotFound" || r.status == 404) {
        return not_found("repo " + where + " not found" + http +
                         (env_.token.empty() ? "; if it is private, " + token_hint() : ""));
    }
    if (r.status == 401 || r.status == 403) {
        return failed_precondition("access to " + where + " denied" + http + ": " + token_hint());
    }
    return internal_error(env_.endpoint + " answered " + what + " of " + repo_id_ + " with" + http);
}

StatusOr<HttpResponse> HubClient::request(HttpRequest req, bool stop_off_hub, const BodySink* sink,
                                          const ProgressFn* progress, TransferError* error) {
    for (int hop = 0; hop <= kMaxRedirects; ++hop) {
        req.headers.erase(std::remove_if(req.headers.begin(), req.headers.end(),
                                         [](const std::string& h) { return h.starts_with("Authorization:"); }),
                          req.headers.end());
        if (!env_.token.empty() && url_origin(req.url) == hub_origin_) {
            req.headers.push_back("Authorization: Bearer " + env_.token);
        }
        HttpResult result = http_request(req, sink, progress);
        if (error) *error = result.error;
        if (result.error == TransferError::kConnect) {
            unreachable_ = true;
            return internal_error("cannot reach the hub at " + env_.endpoint + " (" + result.status.message() + ")");
        }
        if (!result.status.ok()) return result.status;
        HttpResponse& r = result.response;
        const bool redirect =
            r.status == 301 || r.status == 302 || r.status == 303 || r.status == 307 || r.status == 308;
        if (!redirect) return std::move(r);
        if (r.redirect_url.empty())
            return internal_error(req.url + ": HTTP " + std::to_string(r.status) + " without a Location");
        if (stop_off_hub && url_origin(r.redirect_url) != hub_origin_) return std::move(r);
        req.url = r.redirect_url;
    }
    return internal_error(req.url + ": more than " + std::to_string(kMaxRedirects) + " redirects");
}

StatusOr<HttpResponse> HubClient::get_api(const std::string& url, const std::string& what) {
    HttpRequest req;
    req.url = url;
    BGE_ASSIGN_OR_RETURN(HttpResponse r, request(req, /*stop_off_hub=*/false));
    if (r.status != 200) return http_error(r, what);
    return r;
}

StatusOr<std::string> HubClient::resolve_commit(const std::string& revision) {
    const std::string url = env_.endpoint + "/api/models/" + repo_id_ + "/revision/" + url_quote(revision, false);
    BGE_ASSIGN_OR_RETURN(HttpResponse r, get_api(url, "revision '" + revision + "'"));
    const nlohmann::json j = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    auto sha = j.is_object() ? j.find("sha") : j.end();
    if (sha == j.end() || !sha->is_string() || sha->get_ref<const std::string&>().size() != 40 ||
        !is_hex_name(sha->get<std::string>())) {
        return data_loss(url + ": the answer has no 40-hex 'sha' (is HF_ENDPOINT=" + env_.endpoint + " a hub?)");
    }
    return sha->get<std::string>();
}

StatusOr<std::vector<TreeEntry>> HubClient::list_files(const std::string& commit) {
    std::string url = env_.endpoint + "/api/models/" + repo_id_ + "/tree/" + url_quote(commit, false) +
                      "?recursive=true&expand=false";
    std::vector<TreeEntry> entries;
    for (int page = 0; !url.empty(); ++page) {
        if (page == kMaxTreePages)
            return out_of_range(repo_id_ + ": more than " + std::to_string(kMaxTreePages) + " pages of files");
        BGE_ASSIGN_OR_RETURN(HttpResponse r, get_api(url, "the file list"));
        const nlohmann::json j = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
        if (!j.is_array()) return data_loss(url + ": the file list is not a JSON array");
        for (const auto& f : j) {
            if (!f.is_object() || f.value("type", "") != "file") continue;
            const auto path = f.find("path");
            const auto size = f.find("size");
            const auto oid = f.find("oid");
            if (path == f.end() || !path->is_string() || size == f.end() || !size->is_number_unsigned() ||
                oid == f.end() || !oid->is_string()) {
                return data_loss(url + ": a file entry lacks path, size or oid");
            }
            TreeEntry e;
            e.path = path->get<std::string>();
            e.size = size->get<int64_t>();
            e.blob_id = oid->get<std::string>();
            if (auto lfs = f.find("lfs"); lfs != f.end() && lfs->is_object()) {
                const auto lfs_oid = lfs->find("oid");
                const auto lfs_size = lfs->find("size");
                if (lfs_oid == lfs->end() || !lfs_oid->is_string() || lfs_size == lfs->end() ||
                    !lfs_size->is_number_unsigned()) {
                    return data_loss(url + ": the lfs entry of " + e.path + " lacks oid or size");
                }
                e.lfs_sha256 = lfs_oid->get<std::string>();
                e.lfs_size = lfs_size->get<int64_t>();
            }
            if (auto xet = f.find("xetHash"); xet != f.end() && xet->is_string()) e.xet_hash = xet->get<std::string>();
            if (!is_safe_repo_path(e.path)) return data_loss(url + ": '" + e.path + "' is not a safe relative path");
            if (!is_hex_name(e.etag())) return data_loss(url + ": " + e.path + " has an oid that is not hex");
            entries.push_back(std::move(e));
        }
        url = next_link(r.header("link"));
    }
    return entries;
}

Status HubClient::fetch_file(const std::string& commit, const TreeEntry& entry, bool verify) {
    const std::string pointer = cache_.pointer_path(commit, entry.path);
    struct stat st {};
    if (!verify && ::stat(pointer.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return ok_status();

    const std::string blob = cache_.blob_path(entry.etag());
    if (::stat(blob.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        BGE_ASSIGN_OR_RETURN(FileLock lock, FileLock::acquire(cache_.lock_path(entry.etag()), entry.path, quiet_));
        std::string bad;
        if (verify && st.st_size != entry.content_size()) {
            bad = std::to_string(st.st_size) + " bytes, the hub lists " + std::to_string(entry.content_size());
        } else if (verify) {
            Digest d = entry.lfs_sha256.empty() ? Digest::git_blob(entry.blob_id, entry.size)
                                                : Digest::sha256(entry.lfs_sha256);
            BGE_ASSIGN_OR_RETURN(std::string got, file_digest(blob, d));
            if (got != d.expected()) bad = std::string(d.name()) + " " + got + ", the hub lists " + d.expected();
        }
        if (bad.empty()) return cache_.link_pointer(commit, entry.path, entry.etag());
        if (!quiet_) {
            std::fprintf(stderr, "bge: the cached %s (%s) is corrupt: %s; fetching it again\n", entry.path.c_str(),
                         blob.c_str(), bad.c_str());
        }
        if (::unlink(blob.c_str()) != 0) return internal_error("cannot remove the corrupt " + blob);
    }

    // Metadata: HEAD on resolve, the hub's own redirects followed, a redirect elsewhere (the CDN) kept.
    HttpRequest head;
    head.method = "HEAD";
    head.url =
        env_.endpoint + "/" + repo_id_ + "/resolve/" + url_quote(commit, false) + "/" + url_quote(entry.path, true);
    BGE_ASSIGN_OR_RETURN(HttpResponse meta, request(head, /*stop_off_hub=*/true));
    const bool redirected = meta.status >= 300 && meta.status < 400;
    if (meta.status != 200 && !redirected) return http_error(meta, entry.path);
    const std::string head_commit = meta.header("x-repo-commit");
    if (head_commit.empty()) {
        return data_loss(head.url + ": no X-Repo-Commit header; is HF_ENDPOINT=" + env_.endpoint + " a hub?");
    }
    // As huggingface_hub: the blob is named by X-Linked-Etag (LFS: the sha256) or ETag, sized by X-Linked-Size
    // or, unredirected, Content-Length.
    const std::string linked = meta.header("x-linked-etag");
    Blob b;
    b.etag = normalize_etag(linked.empty() ? meta.header("etag") : linked);
    if (!is_hex_name(b.etag)) return data_loss(head.url + ": ETag '" + b.etag + "' is not a hex digest");
    const bool lfs = !linked.empty() && b.etag.size() == 64;
    if (lfs) {
        b.digest_hex = b.etag;
    } else if (entry.lfs_sha256.empty()) {
        b.git_oid = entry.blob_id;
    }
    const std::string size_text = redirected ? meta.header("x-linked-size") : meta.header("content-length");
    b.size = size_text.empty() ? entry.content_size() : parse_int(size_text);
    if (b.size < 0) return data_loss(head.url + ": size '" + size_text + "' is not a number");
    const std::string url = redirected ? meta.redirect_url : head.url;
    const std::string etag = b.etag;
    BGE_ASSIGN_OR_RETURN(FileLock lock, FileLock::acquire(cache_.lock_path(etag), entry.path, quiet_));
    if (::stat(cache_.blob_path(etag).c_str(), &st) != 0) {  // another process may have finished it meanwhile
        BGE_RETURN_IF_ERROR(make_dirs(cache_.dir() + "/blobs"));
        cache_.write_cachedir_tag();
        BGE_RETURN_IF_ERROR(download_blob(url, entry.path, b));
    }
    return cache_.link_pointer(commit, entry.path, etag);
}

Status HubClient::download_blob(const std::string& url, const std::string& name, const Blob& b) {
    const int64_t size = b.size;
    const std::string blob = cache_.blob_path(b.etag);
    const std::string incomplete = blob + ".incomplete";
    const int fd = ::open(incomplete.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return internal_error("cannot create " + incomplete + ": " + std::strerror(errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) return internal_error("cannot stat " + incomplete);
    int64_t have = st.st_size;
    if (have > size && ::ftruncate(fd, have = 0) != 0) return internal_error("cannot truncate " + incomplete);

    struct statvfs vfs {};
    if (::fstatvfs(fd, &vfs) == 0) {
        const auto avail = static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize);
        if (avail < size - have) {
            return resource_exhausted("not enough disk space for " + name + ": " + human_bytes(size - have) +
                                      " needed, " + human_bytes(avail) + " free in " + cache_.dir() + "/blobs");
        }
    }
    Digest digest = !b.digest_hex.empty() ? Digest::sha256(b.digest_hex)
                    : !b.git_oid.empty()  ? Digest::git_blob(b.git_oid, size)
                                          : Digest();
    if (!digest.start()) return internal_error("OpenSSL: cannot start a digest");
    BGE_RETURN_IF_ERROR(hash_file_prefix(fd, have, digest, incomplete));
    if (have > 0 && !quiet_) {
        std::fprintf(stderr, "bge: resuming %s at %s of %s\n", name.c_str(), human_bytes(have).c_str(),
                     human_bytes(size).c_str());
    }

    int write_errno = 0;
    bool too_long = false;   // the server sent more than `size`
    bool body_seen = false;  // in this transfer
    ProgressLine line(name, size, quiet_);
    const BodySink sink = [&](long status, std::string_view chunk) {
        if (status == 200 && have > 0 && !body_seen) {  // the server ignored the Range: start over
            if (::ftruncate(fd, 0) != 0) return write_errno = errno, false;
            have = 0;
            if (!digest.start()) return write_errno = ENOMEM, false;
        }
        body_seen = true;
        if (have + static_cast<int64_t>(chunk.size()) > size) return too_long = true, false;
        while (!chunk.empty()) {
            const ssize_t n = ::pwrite(fd, chunk.data(), chunk.size(), have);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return write_errno = (n < 0 ? errno : EIO), false;
            digest.update(chunk.data(), static_cast<size_t>(n));
            have += n;
            chunk.remove_prefix(static_cast<size_t>(n));
        }
        return true;
    };
    const ProgressFn progress = [&](int64_t) { line.update(have); };

    std::string last_error;
    for (int attempt = 0; attempt < kMaxAttempts && have < size; ++attempt) {
        HttpRequest get;
        get.url = url;
        get.range_from = have;
        body_seen = false;
        TransferError error = TransferError::kNone;
        auto r = request(get, /*stop_off_hub=*/false, &sink, &progress, &error);
        if (write_errno == ENOSPC) {
            return resource_exhausted("disk full writing " + incomplete + " (" + human_bytes(have) + " of " +
                                      human_bytes(size) + "); free some space and run again to resume");
        }
        if (too_long) {
            ::unlink(incomplete.c_str());
            return data_loss(name + ": the server sent more than the " + std::to_string(size) + " bytes listed");
        }
        if (write_errno) return internal_error("cannot write " + incomplete + ": " + std::strerror(write_errno));
        if (r.ok() && r->status == 416) {  // our partial file does not fit the server's: start over
            if (::ftruncate(fd, have = 0) != 0) return internal_error("cannot truncate " + incomplete);
            if (!digest.start()) return internal_error("OpenSSL: cannot start a digest");
            continue;
        }
        if (r.ok() && r->status != 200 && r->status != 206) return http_error(*r, name);
        if (!r.ok() && error != TransferError::kInterrupted) return r.status();
        if (!r.ok()) last_error = r.status().message();
        if (have < size && !quiet_) {
            std::fprintf(stderr, "bge: %s: the download stopped at %s of %s%s\n", name.c_str(),
                         human_bytes(have).c_str(), human_bytes(size).c_str(),
                         attempt + 1 < kMaxAttempts ? "; resuming" : "");
        }
    }
    if (have < size) {
        return internal_error("the download of " + name + " stopped at " + std::to_string(have) + " of " +
                              std::to_string(size) + " bytes (" + (last_error.empty() ? "short body" : last_error) +
                              "); run again to resume from " + incomplete);
    }
    if (digest.enabled()) {
        const std::string got = digest.hex();
        if (got != digest.expected()) {
            ::unlink(incomplete.c_str());
            return data_loss("checksum mismatch for " + name + " of " + repo_id_ + ": the hub names " + digest.name() +
                             " " + digest.expected() + ", the download has " + got + "; the bad file was removed");
        }
    }
    if (::fsync(fd) != 0) return internal_error("cannot flush " + incomplete + ": " + std::strerror(errno));
    if (::rename(incomplete.c_str(), blob.c_str()) != 0) {
        return internal_error("cannot rename " + incomplete + " into place: " + std::strerror(errno));
    }
    if (!quiet_) std::fprintf(stderr, "bge: fetched %s (%s)\n", name.c_str(), human_bytes(size).c_str());
    return ok_status();
}

}  // namespace bge::io
