// Ids and offsets equal tokenizers.Tokenizer's for every pipeline variant of tests/golden/tokenizer_variants
// (tools/make_tokenizer_variants.py): singles, pairs and truncation, exact equality.
#include <gtest/gtest.h>

#include <climits>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
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

Ids value_or_failure(StatusOr<Ids> ids) {
    if (ids.ok()) return std::move(ids).value();
    ADD_FAILURE() << ids.status().to_string();
    return {};
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
        whole_ = new std::vector<std::unique_ptr<XlmrTokenizer>>();
        for (const Json& name : (*meta_)["variants"]) {
            const std::string json = variant_json(base, sections[name.get<std::string>()]);
            auto tok = XlmrTokenizer::load_json(dir_->write(name.get<std::string>() + ".json", json));
            ASSERT_TRUE(tok.ok()) << tok.status().to_string();
            tokenizers_->push_back(std::move(tok).value());
            // The same pipeline plus a Replace that never matches and is not a run of spaces: nothing changes
            // but chunking, which such a Replace turns off, so this twin tokenizes every stretch whole.
            Json doc = Json::parse(json);
            Json replace = {{"type", "Replace"}, {"pattern", {{"String", "\x01\x02\x03"}}}, {"content", ""}};
            doc["normalizer"] = {{"type", "Sequence"}, {"normalizers", {doc["normalizer"], replace}}};
            auto twin = XlmrTokenizer::load_json(dir_->write(name.get<std::string>() + ".whole.json", doc.dump()));
            ASSERT_TRUE(twin.ok()) << twin.status().to_string();
            whole_->push_back(std::move(twin).value());
        }
        cases_ = new std::vector<Json>();
        while (std::getline(rin, line)) cases_->push_back(Json::parse(line));
    }
    static void TearDownTestSuite() {
        delete whole_;
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
    static std::vector<std::unique_ptr<XlmrTokenizer>>* whole_;  // chunking off
    static std::vector<Json>* cases_;
};

Json* Variants::meta_ = nullptr;
testing::TempDir* Variants::dir_ = nullptr;
std::vector<std::unique_ptr<XlmrTokenizer>>* Variants::tokenizers_ = nullptr;
std::vector<std::unique_ptr<XlmrTokenizer>>* Variants::whole_ = nullptr;
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
            std::string what =
                name + ": " +
                (pair ? "pair " + escaped(c["a"]) + " / " + escaped(c["b"]) : "text " + escaped(c["text"]));
            if (max_length != INT_MAX) what += " max_length " + std::to_string(max_length);
            StatusOr<Encoding> got =
                pair ? tok.encode_pair_with_offsets(c["a"].get<std::string>(), c["b"].get<std::string>(), max_length)
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
                    ADD_FAILURE() << what << " offsets\n  expected " << Json(expected_offsets).dump() << "\n  got      "
                                  << Json(flat(*got)).dump();
                    ++failures[name];
                }
            }
        }
    }
    EXPECT_GT(n_checks, 4 * 4000);
    EXPECT_TRUE(failures.empty()) << Json(failures).dump();
}

// Long texts are tokenized in chunks and truncation stops early; the ids and offsets must be those of tokenizing
// every stretch whole (the chunk-free twin), for singles and longest_first pairs at odd and even budgets.
TEST_F(Variants, ChunkedLongTextsMatchWholeTokenization) {
    std::mt19937 rng(7);
    std::vector<std::string> strings;
    for (const Json& c : *cases_) {
        // Strings holding added tokens ("<s>", "@@" ...) would cut the text into short stretches.
        if (c.contains("text") && c["text"].get<std::string>().find_first_of("<@z") == std::string::npos) {
            strings.push_back(c["text"]);
        }
    }
    // Mostly whitespace between the strings, so stretches run far past the chunk size; an added token now and then.
    const std::vector<std::string> separators = {" ", " ", " ", "  ", "\n", " \u200d ", "\t"};
    auto long_text = [&](size_t bytes) {
        std::string t;
        while (t.size() < bytes) {
            t += strings[rng() % strings.size()];
            t += rng() % 400 == 0 ? std::string(" <mask> ") : separators[rng() % separators.size()];
        }
        return t;
    };
    int n_checks = 0;
    for (size_t v = 0; v < tokenizers_->size(); ++v) {
        const XlmrTokenizer& chunked = *(*tokenizers_)[v];
        const XlmrTokenizer& whole = *(*whole_)[v];
        const std::string name = (*meta_)["variants"][v];
        {
            const std::string a = long_text(40000), b = long_text(36000);
            for (const int max_length : {7, 3000, INT_MAX}) {
                StatusOr<Encoding> want = whole.encode_single_with_offsets(a, max_length);
                StatusOr<Encoding> got = chunked.encode_single_with_offsets(a, max_length);
                ASSERT_TRUE(want.ok() && got.ok()) << want.status().to_string() << got.status().to_string();
                EXPECT_EQ(got->ids, want->ids) << name << " single max_length " << max_length;
                EXPECT_EQ(flat(*got), flat(*want)) << name << " single offsets max_length " << max_length;
                EXPECT_EQ(value_or_failure(chunked.encode_single(a, max_length)), want->ids) << name;
                for (const auto& [x, y] : {std::pair{a, b}, std::pair{b, a}, std::pair{a, std::string("short")}}) {
                    StatusOr<Encoding> pw = whole.encode_pair_with_offsets(x, y, max_length);
                    StatusOr<Encoding> pg = chunked.encode_pair_with_offsets(x, y, max_length);
                    ASSERT_TRUE(pw.ok() && pg.ok()) << pw.status().to_string() << pg.status().to_string();
                    EXPECT_EQ(pg->ids, pw->ids) << name << " pair max_length " << max_length;
                    EXPECT_EQ(flat(*pg), flat(*pw)) << name << " pair offsets max_length " << max_length;
                    n_checks += 2;
                }
                ++n_checks;
            }
            // Both sides past the budget, odd budget: which side is longer decides the split.
            size_t cut = 5000;
            while ((static_cast<uint8_t>(a[cut]) & 0xC0) == 0x80) --cut;
            const std::string longer = a + " " + a.substr(0, cut);
            for (const int max_length : {12, 101}) {
                EXPECT_EQ(value_or_failure(chunked.encode_pair(a, longer, max_length)),
                          value_or_failure(whole.encode_pair(a, longer, max_length)));
                EXPECT_EQ(value_or_failure(chunked.encode_pair(longer, a, max_length)),
                          value_or_failure(whole.encode_pair(longer, a, max_length)));
                EXPECT_EQ(value_or_failure(chunked.encode_pair(a, a, max_length)),
                          value_or_failure(whole.encode_pair(a, a, max_length)));
                n_checks += 3;
            }
        }
    }
    EXPECT_GT(n_checks, 50);
}

}  // namespace
}  // namespace bge
