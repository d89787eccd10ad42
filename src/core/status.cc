#include "bge/status.h"

namespace bge {

const char* status_code_name(StatusCode code) {
    switch (code) {
        case StatusCode::kOk:
            return "ok";
        case StatusCode::kInvalidArgument:
            return "invalid argument";
        case StatusCode::kNotFound:
            return "not found";
        case StatusCode::kDataLoss:
            return "data loss";
        case StatusCode::kUnimplemented:
            return "unimplemented";
        case StatusCode::kFailedPrecondition:
            return "failed precondition";
        case StatusCode::kOutOfRange:
            return "out of range";
        case StatusCode::kResourceExhausted:
            return "resource exhausted";
        case StatusCode::kInternal:
            return "internal";
        case StatusCode::kUnavailable:
            return "unavailable";
        case StatusCode::kDeadlineExceeded:
            return "deadline exceeded";
        case StatusCode::kCancelled:
            return "cancelled";
    }
    return "unknown";
}

std::string Status::to_string() const {
    if (ok()) return "ok";
    return std::string(status_code_name(code_)) + ": " + message_;
}

Status Status::with_context(const std::string& context) const {
    if (ok()) return *this;
    return {code_, context + ": " + message_};
}

}  // namespace bge
