// Ids and offsets equal tokenizers.Tokenizer's for every pipeline variant of tests/golden/tokenizer_variants
// (tools/make_tokenizer_variants.py): singles, pairs and truncation, exact equality.
#include <gtest/gtest.h>

#include <climits>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/temp_dir.h"
#include "tokenizer/xlmr_tokenizer.h"

namespace bge {
namespace {

using Json = nlohmann::json;
using Ids = std::vector<int32_t>;

const std::string kDir = std::string(BGE_TEST_DIR) + "/golden/tokenizer_variants";

std::string escaped(const std::string& text) {
    return Json(text).dump(-1, ' ', true, Json::error_handler_t::replace);
}

// The variant's tokenizer.json: the base file with the variant's sections in place ("@base" = the base charsmap).
std::string variant_json(const Json& base, const Json& sections) {
    std::string charsmap;
    for (const Json& n : base["normalizer"]["normalizers"]) {
        if (n["type"] == "Precompiled") charsmap = n["precompiled_charsmap"];
    }
    Json doc = base;
    for (const auto& [key, value] : sections.items()) {
        std::string text = value.dump();
        for (size_t pos; (pos = text.find("\"@base\"")) != std::string::npos;) {
            text.replace(pos, 7, Json(charsmap).dump());
        }
        doc[key] = Json::parse(text);
    }
    return doc.dump();
}

std::vector<uint32_t> flat(const Encoding& e) {
    std::vector<uint32_t> out;
    for (const Span& s : e.offsets) {
        out.push_back(s.start);
        out.push_back(s.end);
    }
    return out;
}

class Variants : public ::testing::Test {
 protected:
    static void SetUpTestSuite() {
        std::ifstream vin(kDir + "/variants.json");
        ASSERT_TRUE(vin) << "missing fixture; run tools/make_tokenizer_variants.py";
        const Json sections = Json::parse(vin);
        std::ifstream rin(kDir + "/references.jsonl");
        std::string line;
        ASSERT_TRUE(std::getline(rin, line));
        meta_ = new Json(Json::parse(line));
        std::ifstream bin(std::string(BGE_TEST_DIR) + "/../" + (*meta_)["base"].get<std::string>());
        const Json base = Json::parse(bin);
        dir_ = new testing::TempDir();
        tokenizers_ = new std::vector<std::unique_ptr<XlmrTokenizer>>();
        for (const Json& name : (*meta_)["variants"]) {
            const std::string path =
                dir_->write(name.get<std::string>() + ".json", variant_json(base, sections[name.get<std::string>()]));
            auto tok = XlmrTokenizer::load_json(path);
            ASSERT_TRUE(tok.ok()) << tok.status().to_string();
            tokenizers_->push_back(std::move(tok).value());
        }
        cases_ = new std::vector<Json>();
        while (std::getline(rin, line)) cases_->push_back(Json::parse(line));
    }
    static void TearDownTestSuite() {
        delete tokenizers_;
        delete dir_;
        delete meta_;
        delete cases_;
    }
    // Entry v of a per-variant list, nulls meaning "as the variant before".
    static const Json& per_variant(const Json& list, size_t v) {
        while (v > 0 && list[v].is_null()) --v;
        return list[v];
    }

    static Json* meta_;
    static testing::TempDir* dir_;
    static std::vector<std::unique_ptr<XlmrTokenizer>>* tokenizers_;
    static std::vector<Json>* cases_;
};

Json* Variants::meta_ = nullptr;
testing::TempDir* Variants::dir_ = nullptr;
std::vector<std::unique_ptr<XlmrTokenizer>>* Variants::tokenizers_ = nullptr;
std::vector<Json>* Variants::cases_ = nullptr;

TEST_F(Variants, FixtureCoversWhatIssue9Asks) {
    EXPECT_GE((*meta_)["strings"].get<int>(), 2000);
    EXPECT_GE((*meta_)["scripts"].size(), 20u);
    EXPECT_GE((*meta_)["variants"].size(), 3u);
}

TEST_F(Variants, IdsAndOffsetsMatchTokenizers) {
    std::map<std::string, int> failures;
    int n_checks = 0;
    for (size_t v = 0; v < tokenizers_->size(); ++v) {
        const XlmrTokenizer& tok = *(*tokenizers_)[v];
        const std::string name = (*meta_)["variants"][v];
        for (const Json& c : *cases_) {
            const Ids expected = per_variant(c["ids"], v).get<Ids>();
            const int max_length = c.contains("max_length") ? c["max_length"].get<int>() : INT_MAX;
            const bool pair = c.contains("a");
            std::string what = name + ": " +
                               (pair ? "pair " + escaped(c["a"]) + " / " + escaped(c["b"]) : "text " + escaped(c["text"]));
            if (max_length != INT_MAX) what += " max_length " + std::to_string(max_length);
            StatusOr<Encoding> got = pair ? tok.encode_pair_with_offsets(c["a"].get<std::string>(),
                                                                         c["b"].get<std::string>(), max_length)
                                          : tok.encode_single_with_offsets(c["text"].get<std::string>(), max_length);
            StatusOr<Ids> ids = pair ? tok.encode_pair(c["a"].get<std::string>(), c["b"].get<std::string>(), max_length)
                                     : tok.encode_single(c["text"].get<std::string>(), max_length);
            ++n_checks;
            if (!got.ok() || !ids.ok()) {
                ADD_FAILURE() << what << ": " << (got.ok() ? ids.status() : got.status()).to_string();
                ++failures[name];
                continue;
            }
            if (got->ids != expected || *ids != expected) {
                ADD_FAILURE() << what << "\n  expected " << Json(expected).dump() << "\n  got      "
                              << Json(got->ids).dump() << " / " << Json(*ids).dump();
                ++failures[name];
                continue;
            }
            if (c.contains("offsets")) {
                const auto expected_offsets = per_variant(c["offsets"], v).get<std::vector<uint32_t>>();
                if (flat(*got) != expected_offsets) {
                    ADD_FAILURE() << what << " offsets\n  expected " << Json(expected_offsets).dump()
                                  << "\n  got      " << Json(flat(*got)).dump();
                    ++failures[name];
                }
            }
        }
    }
    EXPECT_GT(n_checks, 4 * 4000);
    EXPECT_TRUE(failures.empty()) << Json(failures).dump();
}

}  // namespace
}  // namespace bge
