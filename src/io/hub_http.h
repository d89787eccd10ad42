// One HTTP request through libcurl, redirects not followed (the hub client decides where a token may go).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "bge/status.h"

namespace bge::io {

struct HttpRequest {
    std::string method = "GET";  // GET | HEAD
    std::string url;
    std::vector<std::string> headers;  // "Name: value"
    int64_t range_from = 0;            // > 0: "Range: bytes=<range_from>-"
};

struct HttpResponse {
    long status = 0;
    std::map<std::string, std::string> headers;  // names lower-cased; the last value of a repeated header
    std::string redirect_url;                    // absolute Location of a 3xx, resolved against the request URL
    std::string body;                            // when no sink took it
    std::string header(const std::string& lower_name) const;
};

// Receives the body bytes of a 200 or 206 response; returns false to abort the transfer.
using BodySink = std::function<bool(long status, std::string_view chunk)>;
// Called during the transfer with the body bytes received so far.
using ProgressFn = std::function<void(int64_t received)>;

// Why a request failed before an HTTP status arrived.
enum class TransferError {
    kNone,
    kConnect,      // could not resolve or connect: the hub is unreachable
    kInterrupted,  // the connection dropped or stalled mid-body: resumable
    kAborted,      // the sink returned false
    kOther,
};

struct HttpResult {
    Status status;  // ok when an HTTP response (any code) arrived complete
    TransferError error = TransferError::kNone;
    HttpResponse response;
};

// Performs `request`; the body goes to `sink` (or into response.body, at most `max_body` bytes; more is an error).
// Connect timeout 30 s; a transfer slower than 1 byte/s for 60 s counts as interrupted.
HttpResult http_request(const HttpRequest& request, const BodySink* sink = nullptr,
                        const ProgressFn* progress = nullptr, size_t max_body = size_t{32} << 20);

// "scheme://host:port" of a URL, host lower-cased and the scheme's default port made explicit; "" if unparsable.
std::string url_origin(const std::string& url);

// Percent-encodes everything but unreserved characters, and '/' too when `keep_slash` (Python's quote).
std::string url_quote(std::string_view text, bool keep_slash);

}  // namespace bge::io
