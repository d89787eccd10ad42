#include "server/json_codec.h"

#include <bit>
#include <boost/archive/iterators/base64_from_binary.hpp>
#include <boost/archive/iterators/transform_width.hpp>
#include <charconv>
#include <cmath>
#include <cstring>

namespace bge::server {
namespace {

constexpr int kMaxDepth = 32;

// "`field` <what>" as kInvalidArgument.
Status field_error(const char* field, std::string_view what) {
    std::string m = "`";
    m += field;
    m += "` ";
    m += what;
    return invalid_argument(std::move(m));
}

}  // namespace

StatusOr<Json> parse_body(std::string_view body) {
    bool too_deep = false;
    // The callback sees every element with its depth; nothing deeper than kMaxDepth is kept.
    Json::parser_callback_t limit = [&](int depth, Json::parse_event_t, Json&) {
        if (depth > kMaxDepth) too_deep = true;
        return !too_deep;
    };
    Json j;
    try {
        j = Json::parse(body.begin(), body.end(), limit);
    } catch (const Json::exception& e) {
        return invalid_argument(std::string("the body is not valid JSON: ") + e.what());
    }
    if (too_deep) return invalid_argument("the body nests deeper than " + std::to_string(kMaxDepth) + " levels");
    if (!j.is_object()) return invalid_argument("the body must be a JSON object");
    return j;
}

bool has(const Json& obj, const char* field) {
    auto it = obj.find(field);
    return it != obj.end() && !it->is_null();
}

StatusOr<bool> get_bool(const Json& obj, const char* field, bool fallback) {
    if (!has(obj, field)) return fallback;
    const Json& v = obj[field];
    if (!v.is_boolean()) return field_error(field, "must be true or false");
    return v.get<bool>();
}

StatusOr<int64_t> get_int(const Json& obj, const char* field, int64_t fallback, int64_t min, int64_t max) {
    if (!has(obj, field)) return fallback;
    const Json& v = obj[field];
    std::string range = "must be an integer in [";
    range += std::to_string(min);
    range += ", ";
    range += std::to_string(max);
    range += "]";
    if (v.is_number_unsigned()) {
        if (v.get<uint64_t>() > static_cast<uint64_t>(max)) return field_error(field, range);
        return static_cast<int64_t>(v.get<uint64_t>());
    }
    if (!v.is_number_integer()) return field_error(field, range);
    const int64_t i = v.get<int64_t>();
    if (i < min || i > max) return field_error(field, range);
    return i;
}

StatusOr<std::string> get_string(const Json& obj, const char* field, std::string fallback) {
    if (!has(obj, field)) return fallback;
    const Json& v = obj[field];
    if (!v.is_string()) return field_error(field, "must be a string");
    return v.get<std::string>();
}

StatusOr<std::string> require_text(const Json& obj, const char* field) {
    if (!has(obj, field)) return field_error(field, "is required");
    BGE_ASSIGN_OR_RETURN(std::string s, get_string(obj, field, ""));
    if (s.empty()) return field_error(field, "must not be empty");
    return s;
}

StatusOr<std::vector<std::string>> get_texts(const Json& obj, const char* field, size_t max_items) {
    if (!has(obj, field)) return field_error(field, "is required");
    const Json& v = obj[field];
    std::vector<std::string> out;
    if (v.is_string()) {
        out.push_back(v.get<std::string>());
    } else if (v.is_array()) {
        if (v.size() > max_items) {
            std::string m = "`";
            m += field;
            m += "` has " + std::to_string(v.size()) + " items, more than the limit of " + std::to_string(max_items) +
                 " (--max-client-batch)";
            return out_of_range(std::move(m));
        }
        for (const Json& item : v) {
            if (!item.is_string()) return field_error(field, "must hold strings only");
            out.push_back(item.get<std::string>());
        }
    } else {
        return field_error(field, "must be a string or a list of strings");
    }
    if (out.empty()) return field_error(field, "must not be empty");
    for (size_t i = 0; i < out.size(); ++i) {
        if (out[i].empty()) return field_error(field, "item " + std::to_string(i) + " is an empty string");
    }
    return out;
}

void JsonWriter::comma() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!first_.back()) out_ += ',';
    first_.back() = false;
}

JsonWriter& JsonWriter::begin_object() {
    comma();
    out_ += '{';
    first_.push_back(true);
    return *this;
}
JsonWriter& JsonWriter::end_object() {
    out_ += '}';
    first_.pop_back();
    return *this;
}
JsonWriter& JsonWriter::begin_array() {
    comma();
    out_ += '[';
    first_.push_back(true);
    return *this;
}
JsonWriter& JsonWriter::end_array() {
    out_ += ']';
    first_.pop_back();
    return *this;
}
JsonWriter& JsonWriter::key(std::string_view name) {
    value(name);
    out_ += ':';
    after_key_ = true;
    return *this;
}
JsonWriter& JsonWriter::value(std::string_view s) {
    comma();
    // nlohmann escapes; invalid UTF-8 (never from parsed input) becomes U+FFFD rather than throwing.
    out_ += Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace);
    return *this;
}
namespace {

// The shortest form that reads back to the same float (or double); non-finite values as null.
template <typename F>
void append_number(std::string& out, F v) {
    if (!std::isfinite(v)) {
        out += "null";
        return;
    }
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

}  // namespace

JsonWriter& JsonWriter::value(float v) {
    comma();
    append_number(out_, v);
    return *this;
}
JsonWriter& JsonWriter::value(double v) {
    comma();
    append_number(out_, v);
    return *this;
}
JsonWriter& JsonWriter::value(int64_t v) {
    comma();
    out_ += std::to_string(v);
    return *this;
}
JsonWriter& JsonWriter::value(bool v) {
    comma();
    out_ += v ? "true" : "false";
    return *this;
}
JsonWriter& JsonWriter::null() {
    comma();
    out_ += "null";
    return *this;
}
JsonWriter& JsonWriter::floats(std::span<const float> values) {
    begin_array();
    for (float v : values) value(v);
    return end_array();
}
std::string base64_floats(std::span<const float> values) {
    static_assert(std::endian::native == std::endian::little, "base64 output assumes a little-endian host");
    using namespace boost::archive::iterators;
    using Encoder = base64_from_binary<transform_width<const char*, 6, 8>>;
    const char* bytes = reinterpret_cast<const char*>(values.data());
    const size_t n = values.size() * sizeof(float);
    std::string out(Encoder(bytes), Encoder(bytes + n));
    out.append((3 - n % 3) % 3, '=');
    return out;
}

}  // namespace bge::server
