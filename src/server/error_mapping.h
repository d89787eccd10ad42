// The one place where failures become HTTP statuses and error bodies.
#pragma once

#include <string>

#include "bge/status.h"

namespace bge::server {

// Which error body a route answers with.
enum class ApiFamily {
    kOpenAi,  // {"error": {"message", "type", "param", "code"}}; also Cohere/Jina and /m3 routes
    kTei,     // {"error", "error_type"} (text-embeddings-inference)
};

struct ApiError {
    int http_status = 500;
    std::string message;
    std::string type;       // OpenAI-style type
    std::string code;       // OpenAI-style code
    std::string tei_type;   // TEI error_type
    int retry_after_s = 0;  // > 0: a Retry-After header
};

// From an engine Status. `healthy`: whether the engine still has workers (kUnavailable is then a full
// queue, 429, else 503).
ApiError error_from_status(const Status& status, bool healthy = true);

ApiError unauthorized();
ApiError not_found_route(const std::string& target);
ApiError method_not_allowed(const std::string& method, const std::string& path);
ApiError body_too_large(size_t limit);
ApiError bad_http(const std::string& why);
ApiError not_ready(const std::string& why);

std::string error_body(const ApiError& error, ApiFamily family);

}  // namespace bge::server
