// The server's one JSON codec: bounded parsing into nlohmann::json, typed field readers whose errors
// name the field, and a writer that prints floats with std::to_chars (shortest round-trip form).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bge/status.h"

namespace bge::server {

using Json = nlohmann::json;

// Parses a request body; it must be a JSON object nested at most 32 deep. Errors are kInvalidArgument.
StatusOr<Json> parse_body(std::string_view body);

// Field readers over a request object. Absent (or null) fields give `fallback`; a wrong type or value is
// kInvalidArgument naming the field.
StatusOr<bool> get_bool(const Json& obj, const char* field, bool fallback);
StatusOr<int64_t> get_int(const Json& obj, const char* field, int64_t fallback, int64_t min, int64_t max);
StatusOr<std::string> get_string(const Json& obj, const char* field, std::string fallback);
// A required non-empty string.
StatusOr<std::string> require_text(const Json& obj, const char* field);
// A string or a list of strings (at most max_items, none empty), as a list.
StatusOr<std::vector<std::string>> get_texts(const Json& obj, const char* field, size_t max_items);
bool has(const Json& obj, const char* field);  // present and not null

// Appends JSON text. Commas between values are placed by the writer.
class JsonWriter {
 public:
    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();
    JsonWriter& key(std::string_view name);
    JsonWriter& value(std::string_view s);
    JsonWriter& value(const char* s) { return value(std::string_view(s)); }
    JsonWriter& value(float v);  // non-finite values are written as null (they are errors upstream)
    JsonWriter& value(double v);
    JsonWriter& value(int64_t v);
    JsonWriter& value(int v) { return value(static_cast<int64_t>(v)); }
    JsonWriter& value(bool v);
    JsonWriter& null();
    JsonWriter& floats(std::span<const float> values);
    std::string take() { return std::move(out_); }

 private:
    void comma();
    std::string out_;
    std::vector<bool> first_{true};  // per open container: no value written yet
    bool after_key_ = false;
};

// Base64 (RFC 4648, padded) of little-endian float32 values: OpenAI's encoding_format "base64".
std::string base64_floats(std::span<const float> values);

}  // namespace bge::server
