#include "server/error_mapping.h"

#include "server/json_codec.h"

namespace bge::server {

ApiError error_from_status(const Status& status, bool healthy) {
    ApiError e;
    e.message = status.message();
    switch (status.code()) {
        case StatusCode::kInvalidArgument:
            e = {400, e.message, "invalid_request_error", "invalid_input", "validation"};
            break;
        case StatusCode::kOutOfRange:
            e = {413, e.message, "invalid_request_error", "input_too_large", "validation"};
            break;
        case StatusCode::kFailedPrecondition:
            e = {400, e.message, "invalid_request_error", "not_served", "validation"};
            break;
        case StatusCode::kNotFound:
            e = {404, e.message, "invalid_request_error", "not_found", "validation"};
            break;
        case StatusCode::kUnavailable:
            if (healthy) {
                e = {429, e.message, "rate_limit_error", "overloaded", "overloaded", 1};
            } else {
                e = {503, e.message, "server_error", "unavailable", "unhealthy", 5};
            }
            break;
        case StatusCode::kUnimplemented:  // e.g. a tokenizer.json decoder that /decode does not run
            e = {501, e.message, "invalid_request_error", "not_implemented", "validation"};
            break;
        case StatusCode::kDeadlineExceeded:
            e = {504, e.message, "timeout_error", "timeout", "backend"};
            break;
        case StatusCode::kCancelled:
            e = {499, e.message, "cancelled", "cancelled", "backend"};
            break;
        default:
            e = {500, e.message, "server_error", "internal_error", "backend"};
            break;
    }
    return e;
}

ApiError unauthorized() {
    return {401, "missing or wrong API key: send `Authorization: Bearer <key>`", "authentication_error",
            "invalid_api_key", "unauthorized"};
}

ApiError not_found_route(const std::string& target) {
    return {404, "no route " + target, "invalid_request_error", "unknown_route", "validation"};
}

ApiError method_not_allowed(const std::string& method, const std::string& path) {
    return {405, method + " is not allowed on " + path, "invalid_request_error", "method_not_allowed", "validation"};
}

ApiError body_too_large(size_t limit) {
    return {413, "the request body is larger than the limit of " + std::to_string(limit) + " bytes (--max-body-bytes)",
            "invalid_request_error", "body_too_large", "validation"};
}

ApiError bad_http(const std::string& why) {
    return {400, "malformed HTTP request: " + why, "invalid_request_error", "bad_request", "validation"};
}

ApiError not_ready(const std::string& why) {
    return {503, why, "server_error", "unavailable", "unhealthy", 5};
}

std::string error_body(const ApiError& error, ApiFamily family) {
    JsonWriter w;
    w.begin_object();
    if (family == ApiFamily::kTei) {
        w.key("error").value(error.message).key("error_type").value(error.tei_type);
    } else {
        w.key("error").begin_object();
        w.key("message").value(error.message).key("type").value(error.type).key("param").null();
        w.key("code").value(error.code).end_object();
    }
    return w.end_object().take();
}

}  // namespace bge::server
