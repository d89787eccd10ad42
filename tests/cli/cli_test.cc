// The bge command line end to end: outputs against the golden references (1e-4 absolute), the
// exact output contract, and one-line errors with exit code 1 for bad input.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "cli_run.h"

namespace bge {
namespace {

using nlohmann::json;
using testing::run_bge;

const std::string kGolden = std::string(BGE_TEST_DIR) + "/golden/";
const std::string kM3 = "--model " + kGolden + "m3";
const std::string kReranker = "--model " + kGolden + "reranker";

json reference(const std::string& model) {
    std::ifstream in(kGolden + model + "/reference.json");
    return json::parse(in);
}

std::vector<json> output_lines(const std::string& out) {
    std::vector<json> lines;
    std::stringstream s(out);
    std::string line;
    while (std::getline(s, line)) lines.push_back(json::parse(line));
    return lines;
}

void expect_near(const json& got, const json& want, const std::string& what) {
    if (want.is_number()) {
        ASSERT_TRUE(got.is_number()) << what;
        EXPECT_NEAR(got.get<double>(), want.get<double>(), 1e-4) << what;
    } else if (want.is_array()) {
        ASSERT_EQ(got.size(), want.size()) << what;
        for (size_t i = 0; i < want.size(); ++i) expect_near(got[i], want[i], what + "[" + std::to_string(i) + "]");
    } else {
        ASSERT_TRUE(want.is_object());
        ASSERT_EQ(got.size(), want.size()) << what << ": key sets differ";
        for (const auto& [k, v] : want.items()) {
            ASSERT_TRUE(got.contains(k)) << what << ": missing key " << k;
            expect_near(got[k], v, what + "." + k);
        }
    }
}

// Texts of the reference's entries with the default max length, one JSON line each.
std::string default_length_texts(const json& ref, std::vector<json>* entries) {
    std::string input;
    for (const auto& e : ref["embed"]) {
        if (e["max_length"] != ref["max_length"]) continue;
        input += json(e["text"]).dump() + "\n";
        entries->push_back(e);
    }
    return input;
}

TEST(Cli, TokenizeMatchesReferenceIds) {
    const json ref = reference("m3");
    std::vector<json> entries;
    const auto r = run_bge("tokenize " + kM3, default_length_texts(ref, &entries));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto lines = output_lines(r.out);
    ASSERT_EQ(lines.size(), entries.size());
    for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(lines[i]["ids"], entries[i]["ids"]) << entries[i]["text"];
}

TEST(Cli, EmbedMatchesReference) {
    const json ref = reference("m3");
    std::vector<json> entries;
    const auto r = run_bge("embed --batch-size 5 " + kM3, default_length_texts(ref, &entries));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto lines = output_lines(r.out);
    ASSERT_EQ(lines.size(), entries.size());
    for (size_t i = 0; i < lines.size(); ++i) {
        const std::string what = entries[i]["text"].dump();
        EXPECT_EQ(lines[i]["tokens"], entries[i]["ids"].size()) << what;
        expect_near(lines[i]["dense"], entries[i]["dense"], what + " dense");
        expect_near(lines[i]["sparse"], entries[i]["sparse"], what + " sparse");
        expect_near(lines[i]["colbert"], entries[i]["colbert"], what + " colbert");
    }
}

TEST(Cli, EmbedPrintsOnlyTheOutputsAsked) {
    const auto r = run_bge("embed --sparse " + kM3, "{\"text\": \"Deutschland\"}\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto lines = output_lines(r.out);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_TRUE(lines[0].contains("tokens"));
    EXPECT_TRUE(lines[0].contains("sparse"));
    EXPECT_FALSE(lines[0].contains("dense"));
    EXPECT_FALSE(lines[0].contains("colbert"));
}

TEST(Cli, ScoreMatchesReference) {
    const json ref = reference("m3");
    std::string input;
    for (const auto& s : ref["score"]) input += json{{"query", s["query"]}, {"passage", s["passage"]}}.dump() + "\n";
    const auto r = run_bge("score --weights 0.4,0.2,0.4 " + kM3, input);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto lines = output_lines(r.out);
    ASSERT_EQ(lines.size(), ref["score"].size());
    for (size_t i = 0; i < lines.size(); ++i) {
        for (const char* k : {"dense", "sparse", "colbert", "sparse+dense", "colbert+sparse+dense"}) {
            expect_near(lines[i][k], ref["score"][i][k], std::string("pair ") + std::to_string(i) + " " + k);
        }
    }
}

TEST(Cli, RerankMatchesReference) {
    const json ref = reference("reranker");
    std::string input;
    std::vector<json> entries;
    for (const auto& e : ref["rerank"]) {
        if (e["max_length"] != ref["max_length"]) continue;
        input += json{{"query", e["query"]}, {"passage", e["passage"]}}.dump() + "\n";
        entries.push_back(e);
    }
    const auto r = run_bge("rerank " + kReranker, input);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto lines = output_lines(r.out);
    ASSERT_EQ(lines.size(), entries.size());
    for (size_t i = 0; i < lines.size(); ++i) {
        expect_near(lines[i]["logit"], entries[i]["logit"], "logit " + std::to_string(i));
        expect_near(lines[i]["score"], entries[i]["score"], "score " + std::to_string(i));
    }
}

TEST(Cli, InfoDescribesTheModel) {
    const auto r = run_bge("info " + kM3, "");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json info = json::parse(r.out);
    EXPECT_EQ(info["kind"], "embedder");
    EXPECT_EQ(info["architecture"], "XLMRobertaModel");
    EXPECT_EQ(info["weights_dtype"], "F32");
    EXPECT_EQ(info["outputs"], json({"dense", "sparse", "colbert"}));
    EXPECT_EQ(info["backend"], "cpu");
    const std::string isa = info["cpu_isa"];
    EXPECT_TRUE(std::regex_match(isa, std::regex("oneDNN [a-z0-9_]+, loops x86-64(-v3|-v4)?"))) << isa;
}

// cpu_isa reports the instruction set oneDNN runs with, which ONEDNN_MAX_CPU_ISA lowers at run time.
TEST(Cli, InfoReportsTheIsaChosenAtRunTime) {
    const char* before = std::getenv("ONEDNN_MAX_CPU_ISA");
    const std::string saved = before ? before : "";
    setenv("ONEDNN_MAX_CPU_ISA", "SSE41", 1);
    const auto r = run_bge("info " + kM3, "");
    if (before) {
        setenv("ONEDNN_MAX_CPU_ISA", saved.c_str(), 1);
    } else {
        unsetenv("ONEDNN_MAX_CPU_ISA");
    }
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string isa = json::parse(r.out)["cpu_isa"];
    EXPECT_EQ(isa.rfind("oneDNN sse41, loops ", 0), 0u) << isa;
}

TEST(Cli, EmptyInputGivesEmptyOutput) {
    const auto r = run_bge("embed " + kM3, "");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "");
}

// Each bad input: exit code 1, nothing on stdout for the bad line, and one stderr line naming the problem.
struct BadInput {
    std::string args;
    std::string input;
    std::string message;
};

class CliErrors : public ::testing::TestWithParam<BadInput> {};

TEST_P(CliErrors, OneLineErrorAndExitCode1) {
    const BadInput& c = GetParam();
    const auto r = run_bge(c.args, c.input);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << "stderr: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr: " << r.err;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CliErrors,
    ::testing::Values(
        BadInput{"embed " + kM3, "\"ok\"\n{\"text\": 3}\n", "stdin line 2: field 'text' must be a string"},
        BadInput{"embed " + kM3, "\"ok\"\n\"a\" \"b\"\n", "stdin line 2: not valid JSON"},
        BadInput{"embed " + kM3, "\n", "stdin line 1: empty line"},
        BadInput{"embed " + kM3, "\"\xff\xfe\"\n", "stdin line 1: not valid JSON"},
        BadInput{"embed " + kM3, "[1]\n", "stdin line 1: expected a JSON string"},
        BadInput{"rerank " + kReranker, "{\"query\": \"q\"}\n", "stdin line 1: field 'passage' is missing"},
        BadInput{"score " + kM3, "\"q\"\n", "stdin line 1: expected a JSON object"},
        BadInput{"tokenize " + kM3, "[\"a\"]\n", "stdin line 1: expected a JSON string or an array"},
        BadInput{"embed " + kReranker, "\"q\"\n", "holds a reranker"},
        BadInput{"rerank " + kM3, "{}\n", "holds an embedder"},
        BadInput{"embed --model /nonexistent/bge", "\"q\"\n", "/nonexistent/bge"},
        BadInput{"embed --max-length 100000 " + kM3, "\"q\"\n", "exceeds the model's maximum"},
        BadInput{"score --weights 1,2 " + kM3, "", "--weights takes three numbers"}));

}  // namespace
}  // namespace bge
