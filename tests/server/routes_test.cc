// The route table and the OpenAPI document served at /openapi.json list the same routes, and a route
// needs no key exactly where the document says `security: []` (/, /health, /metrics).
#include <gtest/gtest.h>

#include <set>

#include "server/app.h"
#include "server/static_files.h"

namespace bge::server {
namespace {

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

TEST(RoutesTest, TheOpenApiDocumentListsExactlyTheServedRoutes) {
    App app(AppOptions{});
    add_all_routes(app);
    const Json doc = Json::parse(openapi_json());
    std::set<std::pair<std::string, std::string>> documented, served;
    std::set<std::string> documented_open, served_open;
    for (const auto& [path, methods] : doc["paths"].items()) {
        for (const auto& [method, op] : methods.items()) {
            documented.insert({method, path});
            if (op.contains("security") && op["security"].empty()) documented_open.insert(path);
        }
    }
    for (const Route& r : app.routes()) {
        served.insert({lower(r.method), r.path});
        if (!r.needs_key) served_open.insert(r.path);
    }
    EXPECT_EQ(documented, served);
    EXPECT_EQ(documented_open, served_open);
    EXPECT_EQ(served_open, (std::set<std::string>{"/", "/health", "/metrics"}));
}

TEST(RoutesTest, BearerComparison) {
    EXPECT_TRUE(bearer_matches("Bearer key", "key"));
    EXPECT_FALSE(bearer_matches("Bearer kez", "key"));
    EXPECT_FALSE(bearer_matches("Bearer key ", "key"));
    EXPECT_FALSE(bearer_matches("Bearer ke", "key"));
    EXPECT_FALSE(bearer_matches("bearer key", "key"));
    EXPECT_FALSE(bearer_matches("key", "key"));
    EXPECT_FALSE(bearer_matches("", "key"));
    EXPECT_FALSE(bearer_matches("Bearer ", ""));
}

TEST(JsonCodecTest, BoundsAndTypes) {
    EXPECT_FALSE(parse_body(std::string(40, '[') + std::string(40, ']')).ok());
    EXPECT_FALSE(parse_body("[]").ok());
    EXPECT_FALSE(parse_body("{\"a\": \"\xff\"}").ok());
    auto j = parse_body(R"({"n": 18446744073709551615, "m": -3, "b": 1, "t": ["a", ""]})");
    ASSERT_TRUE(j.ok());
    EXPECT_FALSE(get_int(*j, "n", 0, 0, 100).ok());
    EXPECT_FALSE(get_int(*j, "m", 0, 0, 100).ok());
    EXPECT_EQ(*get_int(*j, "absent", 7, 0, 100), 7);
    EXPECT_FALSE(get_bool(*j, "b", false).ok());
    EXPECT_FALSE(get_texts(*j, "t", 10).ok());
    EXPECT_EQ(get_texts(*j, "t", 1).status().code(), StatusCode::kOutOfRange);
}

TEST(JsonCodecTest, WriterAndBase64) {
    JsonWriter w;
    w.begin_object().key("a").floats(std::vector<float>{0.1f, -2.5f}).key("s").value("q\"\n").key("e");
    w.begin_array().end_array().end_object();
    EXPECT_EQ(w.take(), R"({"a":[0.1,-2.5],"s":"q\"\n","e":[]})");
    // 1.0f = 00 00 80 3f; two floats are 8 bytes (one '=' of padding).
    EXPECT_EQ(base64_floats(std::vector<float>{1.0f}), "AACAPw==");
    EXPECT_EQ(base64_floats(std::vector<float>{1.0f, 1.0f}), "AACAPwAAgD8=");
    EXPECT_EQ(base64_floats(std::vector<float>{1.0f, 1.0f, 1.0f}), "AACAPwAAgD8AAIA/");
}

}  // namespace
}  // namespace bge::server
