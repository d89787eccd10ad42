#include "io/hub_http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

namespace bge::io {
namespace {

constexpr long kConnectTimeoutSeconds = 30;
constexpr long kStallSeconds = 60;  // below 1 byte/s for this long: the transfer is dead

struct Transfer {
    CURL* curl = nullptr;
    HttpResponse* response = nullptr;
    const BodySink* sink = nullptr;
    const ProgressFn* progress = nullptr;
    size_t max_body = 0;
    bool body_too_large = false;
    bool sink_refused = false;
};

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string_view line(data, size * n);
    if (line.starts_with("HTTP/")) t->response->headers.clear();  // a new response (e.g. after 100 Continue)
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
            value.remove_suffix(1);
        }
        t->response->headers[lower(std::string(line.substr(0, colon)))] = std::string(value);
    }
    return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t bytes = size * n;
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    // Only a 200/206 body is content; an error page or a redirect body is kept (bounded) for the message.
    if (t->sink && (status == 200 || status == 206)) {
        if (!(*t->sink)(status, std::string_view(data, bytes))) {
            t->sink_refused = true;
            return CURL_WRITEFUNC_ERROR;
        }
        return bytes;
    }
    if (t->response->body.size() + bytes > t->max_body) {
        t->body_too_large = true;
        return CURL_WRITEFUNC_ERROR;
    }
    t->response->body.append(data, bytes);
    return bytes;
}

int on_progress(void* user, curl_off_t, curl_off_t now, curl_off_t, curl_off_t) {
    auto* t = static_cast<Transfer*>(user);
    if (t->progress) (*t->progress)(static_cast<int64_t>(now));
    return 0;
}

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
    void operator()(curl_slist* s) const { curl_slist_free_all(s); }
};
struct UrlDeleter {
    void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

TransferError classify(CURLcode code) {
    switch (code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
            return TransferError::kConnect;
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_GOT_NOTHING:
        case CURLE_HTTP2_STREAM:
            return TransferError::kInterrupted;
        default:
            return TransferError::kOther;
    }
}

}  // namespace

std::string HttpResponse::header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

HttpResult http_request(const HttpRequest& request, const BodySink* sink, const ProgressFn* progress, size_t max_body) {
    global_init();
    HttpResult result;
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) {
        result.status = internal_error("libcurl: curl_easy_init failed");
        result.error = TransferError::kOther;
        return result;
    }
    Transfer t{curl.get(), &result.response, sink, progress, max_body};
    // Uncompressed, as huggingface_hub asks: sizes and ETags are those of the file itself.
    curl_slist* list = curl_slist_append(nullptr, "Accept-Encoding: identity");
    for (const std::string& h : request.headers) list = curl_slist_append(list, h.c_str());
    std::unique_ptr<curl_slist, SlistDeleter> headers(list);
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "bge.cpp/0.1");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, kStallSeconds);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, progress ? 0L : 1L);
    if (request.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    const std::string range = std::to_string(request.range_from) + "-";
    if (request.range_from > 0) curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());

    const CURLcode code = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &result.response.status);
    char* redirect = nullptr;
    if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &redirect) == CURLE_OK && redirect) {
        result.response.redirect_url = redirect;
    }
    if (code == CURLE_OK) return result;
    if (t.sink_refused) {
        result.error = TransferError::kAborted;
        result.status = internal_error("download of " + request.url + " stopped");
    } else if (t.body_too_large) {
        result.error = TransferError::kOther;
        result.status = out_of_range(request.url + ": response larger than " + std::to_string(max_body) + " bytes");
    } else {
        result.error = classify(code);
        result.status = internal_error(request.url + ": " + curl_easy_strerror(code));
    }
    return result;
}

std::string url_origin(const std::string& url) {
    global_init();
    std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
    if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return "";
    char* scheme = nullptr;
    char* host = nullptr;
    char* port = nullptr;
    std::string origin;
    if (curl_url_get(u.get(), CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u.get(), CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u.get(), CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        origin = lower(scheme) + "://" + lower(host) + ":" + port;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    return origin;
}

std::string url_quote(std::string_view text, bool keep_slash) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

}  // namespace bge::io
