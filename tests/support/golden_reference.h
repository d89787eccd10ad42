// The golden fixtures' reference.json (written by tools/make_test_models.py from transformers) and its "embed"
// entries grouped the way callers batch them. Header-only: the tests that use it link GoogleTest already.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace bge::test {

// BGE_TEST_DIR in the environment overrides the build's path (scripts/test-gpu runs on another machine).
inline const std::string kGoldenDir =
    std::string(std::getenv("BGE_TEST_DIR") ? std::getenv("BGE_TEST_DIR") : BGE_TEST_DIR) + "/golden/";

inline nlohmann::json read_golden_reference(const std::string& fixture) {
    std::ifstream in(kGoldenDir + fixture + "/reference.json");
    EXPECT_TRUE(in.good()) << "missing " << kGoldenDir << fixture << "/reference.json";
    return nlohmann::json::parse(in);
}

// max_length -> the "embed" entries with it: each group is embedded in one mixed-length call.
inline std::map<int, std::vector<size_t>> embed_groups(const nlohmann::json& ref) {
    std::map<int, std::vector<size_t>> groups;
    for (size_t i = 0; i < ref["embed"].size(); ++i) groups[ref["embed"][i]["max_length"].get<int>()].push_back(i);
    return groups;
}

inline std::vector<std::string> embed_texts(const nlohmann::json& ref, const std::vector<size_t>& entries) {
    std::vector<std::string> texts;
    for (size_t i : entries) texts.push_back(ref["embed"][i]["text"].get<std::string>());
    return texts;
}

}  // namespace bge::test
