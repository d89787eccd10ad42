// `--dtype bf16|int8` on the CPU through the command line: embed, score, rerank and bench run and give outputs near
// fp32's (bounds of tests/model/cpu_dtype_test.cc, loosest: int8), `bge info --dtype` reports what computes and
// which GEMM kernels run, and dtypes the CPU lacks are one-line errors.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "cli_run.h"

namespace bge {
namespace {

using nlohmann::json;
using testing::run_bge;

const std::string kGolden = std::string(BGE_TEST_DIR) + "/golden/";
const std::string kM3 = " --model " + kGolden + "m3";
const std::string kReranker = " --model " + kGolden + "reranker";
const std::string kTexts = "\"hello world\"\n\"a second, somewhat longer text to embed\"\n";
const std::string kPairs =
    "{\"query\": \"what is it\", \"passage\": \"it is a test\"}\n"
    "{\"query\": \"hello\", \"passage\": \"hello world, again\"}\n";

std::vector<json> lines_of(const std::string& out) {
    std::vector<json> lines;
    std::stringstream s(out);
    std::string line;
    while (std::getline(s, line)) lines.push_back(json::parse(line));
    return lines;
}

double cosine(const json& a, const json& b) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        ab += a[i].get<double>() * b[i].get<double>();
        aa += a[i].get<double>() * a[i].get<double>();
        bb += b[i].get<double>() * b[i].get<double>();
    }
    return ab / std::sqrt(aa * bb);
}

class CliDtype : public ::testing::TestWithParam<std::string> {};

TEST_P(CliDtype, EmbedNearFp32) {
    const auto want = run_bge("embed --dense" + kM3, kTexts);
    const auto got = run_bge("embed --dense --dtype " + GetParam() + kM3, kTexts);
    ASSERT_EQ(want.exit_code, 0) << want.err;
    ASSERT_EQ(got.exit_code, 0) << got.err;
    const auto a = lines_of(want.out), b = lines_of(got.out);
    ASSERT_EQ(a.size(), 2u);
    ASSERT_EQ(b.size(), 2u);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_GE(cosine(a[i]["dense"], b[i]["dense"]), 1 - 2e-3);
}

TEST_P(CliDtype, ScoreNearFp32) {
    const auto want = run_bge("score" + kM3, kPairs);
    const auto got = run_bge("score --dtype " + GetParam() + kM3, kPairs);
    ASSERT_EQ(want.exit_code, 0) << want.err;
    ASSERT_EQ(got.exit_code, 0) << got.err;
    const auto a = lines_of(want.out), b = lines_of(got.out);
    ASSERT_EQ(a.size(), 2u);
    ASSERT_EQ(b.size(), 2u);
    for (size_t i = 0; i < a.size(); ++i) {
        // The fixture's std-0.2 weights amplify rounding (tests/model/cpu_dtype_test.cc); int8 of every map at
        // AVX2 moves a score by 1.0e-2.
        const double bound = GetParam() == "int8" ? 2e-2 : 4e-3;
        EXPECT_NEAR(a[i]["dense"].get<double>(), b[i]["dense"].get<double>(), bound);
        EXPECT_NEAR(a[i]["colbert"].get<double>(), b[i]["colbert"].get<double>(), bound);
    }
}

TEST_P(CliDtype, RerankNearFp32) {
    const auto want = run_bge("rerank" + kReranker, kPairs);
    const auto got = run_bge("rerank --dtype " + GetParam() + kReranker, kPairs);
    ASSERT_EQ(want.exit_code, 0) << want.err;
    ASSERT_EQ(got.exit_code, 0) << got.err;
    const auto a = lines_of(want.out), b = lines_of(got.out);
    ASSERT_EQ(a.size(), 2u);
    ASSERT_EQ(b.size(), 2u);
    // Bounds as in tests/model/cpu_dtype_test.cc (int8 of every map at AVX2 moves a logit by 0.54).
    const double bound = GetParam() == "int8" ? 8e-1 : 5e-1;
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i]["logit"].get<double>(), b[i]["logit"].get<double>(), bound);
}

TEST_P(CliDtype, BenchRuns) {
    const auto r = run_bge("bench --tokens 16 --batch 2 --iterations 2 --quiet --dtype " + GetParam() + kM3, "");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto lines = lines_of(r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1));
    ASSERT_EQ(lines.size(), 1u) << r.out;
    EXPECT_GT(lines[0]["tokens_per_s"].get<double>(), 0) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CliDtype, ::testing::Values("bf16", "int8"));

// Which GEMM types each dtype uses, by layer count: the fixture has 2 layers of 4 encoder maps plus the
// sparse and colbert heads (f32 in every dtype); int8 smooths the maps that read a LayerNorm (Q/K/V, FFN up).
TEST(CliDtypeInfo, ReportsComputeDtypeAndKernels) {
    struct Case {
        std::string dtype, compute;
        std::vector<std::string> kernels;
    };
    const bool bf16 = json::parse(run_bge("info --dtype bf16" + kM3, "").out)["compute_dtype"] == "BF16";
    const std::vector<Case> cases = {
        {"fp32", "F32", {"10 x f32 "}},
        {"bf16", bf16 ? "BF16" : "F32 (bf16 asked", {bf16 ? "8 x bf16 " : "10 x f32 "}},
        {"int8", "INT8", {"4 x int8 ", "4 x int8 smoothed ", "2 x f32 "}},
    };
    for (const Case& c : cases) {
        const auto r = run_bge("info --dtype " + c.dtype + kM3, "");
        ASSERT_EQ(r.exit_code, 0) << r.err;
        const json info = json::parse(r.out);
        const std::string compute = info["compute_dtype"];
        EXPECT_EQ(compute.rfind(c.compute, 0), 0u) << c.dtype << ": " << compute;
        const std::string kernels = info["gemm_kernels"];
        for (const std::string& k : c.kernels)
            EXPECT_NE(kernels.find(k), std::string::npos) << c.dtype << ": " << kernels;
        // Each entry names oneDNN's implementation, e.g. "brg:avx512_core_vnni" or "gemm:jit".
        EXPECT_TRUE(std::regex_search(kernels, std::regex("[0-9]+ x (f32|bf16|int8) [a-z0-9_]+:[a-z0-9_]+")))
            << kernels;
        // Attention: f32 for fp32, else bf16 on oneDNN's brgemm where the CPU has bf16 instructions.
        const std::string attention = info["attention_kernel"];
        if (c.dtype == "fp32") {
            EXPECT_EQ(attention, "f32 sgemm");
        } else {
            EXPECT_TRUE(attention == "f32 sgemm" || attention.rfind("bf16 brg:", 0) == 0) << c.dtype << ": " << attention;
        }
    }
}

// Without VNNI (and below AVX-512) every dtype still runs, on the kernels oneDNN has there.
TEST(CliDtypeInfo, RunsAtSse41) {
    setenv("ONEDNN_MAX_CPU_ISA", "SSE41", 1);
    const auto info = run_bge("info --dtype int8" + kM3, "");
    const auto embed = run_bge("embed --dense --dtype int8" + kM3, kTexts);
    const auto want = run_bge("embed --dense" + kM3, kTexts);
    unsetenv("ONEDNN_MAX_CPU_ISA");
    ASSERT_EQ(info.exit_code, 0) << info.err;
    EXPECT_EQ(json::parse(info.out)["compute_dtype"], "INT8");
    ASSERT_EQ(embed.exit_code, 0) << embed.err;
    const auto a = lines_of(want.out), b = lines_of(embed.out);
    ASSERT_EQ(b.size(), 2u);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_GE(cosine(a[i]["dense"], b[i]["dense"]), 1 - 2e-3);
}

TEST(CliDtypeInfo, Fp16OnTheCpuIsAOneLineError) {
    const auto r = run_bge("embed --dtype fp16" + kM3, kTexts);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("dtype fp16: the CPU backend computes in fp32, bf16 or int8"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace
}  // namespace bge
