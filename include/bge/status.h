// Status and StatusOr: how every expected failure travels through bge.cpp.
// No exceptions cross the public API; a failing call returns a Status whose message names the
// thing that was wrong (file, tensor, field, line).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace bge {

enum class StatusCode {
    kOk = 0,
    kInvalidArgument,     // the caller's input is malformed (bad UTF-8, bad JSON, bad option)
    kNotFound,            // a file or tensor that must exist does not
    kDataLoss,            // a file exists but is corrupt or truncated
    kUnimplemented,       // valid but unsupported (legacy checkpoint format, unknown dtype)
    kFailedPrecondition,  // wrong kind of model for the call (rerank on an embedder)
    kOutOfRange,          // a size or index beyond what the model allows
    kResourceExhausted,   // out of memory or workspace
    kInternal,            // a bug or an unexpected library failure
    kUnavailable,         // the engine cannot take the work now (queue full, shutting down, no healthy worker)
    kDeadlineExceeded,    // the request's deadline passed before its work finished
    kCancelled,           // the caller cancelled the request
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
    Status() = default;
    Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

    bool ok() const { return code_ == StatusCode::kOk; }
    StatusCode code() const { return code_; }
    const std::string& message() const { return message_; }
    // "<code name>: <message>", or "ok".
    std::string to_string() const;
    // Returns a copy whose message is "<context>: <message>"; ok stays ok.
    Status with_context(const std::string& context) const;

 private:
    StatusCode code_ = StatusCode::kOk;
    std::string message_;
};

inline Status ok_status() {
    return {};
}
inline Status invalid_argument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status not_found(std::string m) {
    return {StatusCode::kNotFound, std::move(m)};
}
inline Status data_loss(std::string m) {
    return {StatusCode::kDataLoss, std::move(m)};
}
inline Status unimplemented(std::string m) {
    return {StatusCode::kUnimplemented, std::move(m)};
}
inline Status failed_precondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status out_of_range(std::string m) {
    return {StatusCode::kOutOfRange, std::move(m)};
}
inline Status resource_exhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status internal_error(std::string m) {
    return {StatusCode::kInternal, std::move(m)};
}
inline Status unavailable(std::string m) {
    return {StatusCode::kUnavailable, std::move(m)};
}
inline Status deadline_exceeded(std::string m) {
    return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status cancelled(std::string m) {
    return {StatusCode::kCancelled, std::move(m)};
}

// Holds either a value or a non-ok Status. Accessing value() of an error aborts.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
    StatusOr(Status status) : v_(std::move(status)) { check_not_ok(); }  // NOLINT: implicit by design
    StatusOr(T value) : v_(std::move(value)) {}                          // NOLINT: implicit by design

    bool ok() const { return std::holds_alternative<T>(v_); }
    Status status() const { return ok() ? Status() : std::get<Status>(v_); }
    T& value() & { return std::get<T>(v_); }
    const T& value() const& { return std::get<T>(v_); }
    T&& value() && { return std::get<T>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

 private:
    void check_not_ok() {
        if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, "StatusOr built from an ok Status");
    }
    std::variant<Status, T> v_;
};

}  // namespace bge

#define BGE_STATUS_CONCAT_INNER(a, b) a##b
#define BGE_STATUS_CONCAT(a, b) BGE_STATUS_CONCAT_INNER(a, b)

// Returns the Status of `expr` from the enclosing function if it is not ok.
#define BGE_RETURN_IF_ERROR(expr)                  \
    do {                                           \
        ::bge::Status bge_status_ = (expr);        \
        if (!bge_status_.ok()) return bge_status_; \
    } while (0)

// `lhs = value of expr`, or returns its Status. `lhs` may declare a variable: BGE_ASSIGN_OR_RETURN(auto x, f());
#define BGE_ASSIGN_OR_RETURN(lhs, expr) BGE_ASSIGN_OR_RETURN_IMPL(BGE_STATUS_CONCAT(bge_statusor_, __LINE__), lhs, expr)
#define BGE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
    auto tmp = (expr);                            \
    if (!tmp.ok()) return tmp.status();           \
    lhs = std::move(tmp).value()
