// The command line under hostile input and I/O faults (issue 11): every failure is one "bge: ..." line
// and exit code 1 — never an abort, a hang, unbounded memory, a lost write or a silent NaN.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_run.h"
#include "model_edit.h"
#include "support/temp_dir.h"

namespace bge {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::CliRun;
using testing::run_bge;

const std::string kGolden = std::string(BGE_TEST_DIR) + "/golden/";
const std::string kM3 = "--model " + kGolden + "m3";

size_t count_lines(const std::string& s) {
    return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

// Exit code 1 and exactly one stderr line, "bge: ..." holding `message`.
void expect_one_error(const CliResult& r, const std::string& message) {
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(r.err.rfind("bge: ", 0), 0u) << r.err;
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << "stderr: " << r.err;
}

std::string lines_of(const std::string& json_line, int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += json_line + "\n";
    return s;
}

// 1. A token budget far past what the machine holds: the workspace grows to the batches that come.
TEST(Hostile, HugeTokenBudgetIsHonouredLazily) {
    const std::string input = lines_of("\"Grüße aus Deutschland\"", 40);
    // Same batches (--batch-size 40) in both runs: only the budget differs, so the outputs are bitwise equal on
    // every ISA (oneDNN's AVX2 GEMMs round differently for batches of other sizes).
    const auto plain = run_bge("embed --batch-size 40 " + kM3, input);
    const auto huge = run_bge("embed --max-batch-tokens 100000000 --batch-size 40 " + kM3, input);
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    ASSERT_EQ(huge.exit_code, 0) << huge.err;
    EXPECT_EQ(huge.out, plain.out);
}

TEST(Hostile, BenchBatchThatCannotFitIsRefusedUpFront) {
    const auto r = run_bge("bench --tokens 8 --batch 2000000000 " + kM3, "");
    expect_one_error(r, "--batch 2000000000 of 8-token inputs needs about");
    EXPECT_NE(r.err.find("at most would fit"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
}

// 2. Read and write errors end the command with a message and exit code 1.
TEST(Hostile, FullDiskOnStdoutIsAnError) {
    for (const std::string& args :
         {"embed " + kM3, "tokenize " + kM3, "info " + kM3, "bench --tokens 8 --iterations 1 " + kM3}) {
        const auto r = run_bge(CliRun{.args = args, .input = "\"hello\"\n", .stdout_path = "/dev/full"});
        expect_one_error(r, "writing stdout failed: No space left on device");
    }
    expect_one_error(run_bge(CliRun{.args = "embed --help", .stdout_path = "/dev/full"}), "stdout failed");
}

TEST(Hostile, StdinThatIsADirectoryIsAnError) {
    testing::TempDir dir;
    expect_one_error(run_bge(CliRun{.args = "embed " + kM3, .stdin_path = dir.path()}),
                     "reading stdin failed: Is a directory");
}

// A closed pipe ends the command quietly (SIGPIPE, as Unix tools do).
TEST(Hostile, ClosedPipeEndsQuietly) {
    testing::TempDir dir;
    const std::string in = dir.write("in", lines_of("\"hello world\"", 3000));
    const std::string cmd =
        "bash -c " + testing::shell_quote(
                         "set -o pipefail; " + std::string(BGE_BINARY) + " embed " + kM3 + " < " + in + " 2> " +
                         dir.path() + "/err | head -c 10 > /dev/null; echo ${PIPESTATUS[0]} > " + dir.path() + "/rc");
    std::system(cmd.c_str());
    EXPECT_EQ(testing::read_file(dir.path() + "/rc"), "141\n");
    EXPECT_EQ(testing::read_file(dir.path() + "/err"), "");
}

// 3. Bytes after a raw NUL are not dropped: the line is an error, the lines before it are written.
TEST(Hostile, RawNulIsAnErrorNamingTheLine) {
    const auto r = run_bge("tokenize " + kM3, std::string("\"a\"\n\"a\"\0\"b\"\n\"c\"\n", 14));
    expect_one_error(r, "stdin line 2: raw NUL byte at byte 4");
    EXPECT_EQ(r.out, "{\"ids\":[0,4,8,2]}\n");  // line 1 only
    const auto escaped = run_bge("tokenize " + kM3, "\"a\\u0000b\"\n");
    EXPECT_EQ(escaped.exit_code, 0) << escaped.err;
}

// An input the engine refuses inside a chunk: the error names its line, the lines before it are written.
TEST(Hostile, EngineErrorNamesTheLineOfItsChunk) {
    const auto r = run_bge("tokenize --max-length 3 --batch-size 8 " + kM3, "\"a\"\n\"b\"\n[\"a\", \"b\"]\n\"c\"\n");
    expect_one_error(r, "stdin line 3: max_length 3 leaves no room for the text");
    EXPECT_EQ(count_lines(r.out), 2u) << r.out;
}

// 4. An endless line is refused in bounded memory; the bound is exact.
TEST(Hostile, EndlessLineIsRefusedInBoundedMemory) {
    const auto r = run_bge(CliRun{.args = "tokenize " + kM3, .stdin_path = "/dev/zero", .timeout_seconds = 60});
    expect_one_error(r, "stdin line 1 is longer than 67108864 bytes (--max-line-bytes)");
    EXPECT_LT(r.max_rss_kb, 768 * 1024) << "peak memory";
}

TEST(Hostile, LineBoundIsExact) {
    const std::string ten = "\"12345678\"";  // 10 bytes
    const auto ok = run_bge("tokenize --max-line-bytes 10 " + kM3, ten + "\n" + ten + "\n");
    EXPECT_EQ(ok.exit_code, 0) << ok.err;
    EXPECT_EQ(count_lines(ok.out), 2u);
    const auto r = run_bge("tokenize --max-line-bytes 10 " + kM3, ten + "\n\"123456789\"\n");
    expect_one_error(r, "stdin line 2 is longer than 10 bytes");
    EXPECT_EQ(count_lines(r.out), 1u);
}

// 5. A FIFO where a file belongs is refused without blocking.
TEST(Hostile, FifoInTheModelFolderIsRefused) {
    testing::TempDir dir;
    const std::string model = testing::copy_golden("m3", dir.path());
    fs::remove(model + "/config.json");
    ASSERT_EQ(mkfifo((model + "/config.json").c_str(), 0600), 0);
    for (const char* cmd : {"info", "embed", "tokenize"}) {
        const auto r =
            run_bge(CliRun{.args = std::string(cmd) + " --model " + model, .input = "\"a\"\n", .timeout_seconds = 20});
        expect_one_error(r, "config.json: is a FIFO, not a regular file");
    }
}

// 6. Non-finite weights: the output is an error naming the line, and --check-weights names the tensor.
struct Poisoned {
    std::string model;   // golden folder
    std::string file;    // within it
    std::string tensor;  // poisoned at element 0
    float value;
    std::string command;  // what reads it
};

void PrintTo(const Poisoned& p, std::ostream* os) {
    *os << p.model << "/" << p.file << " " << p.tensor << " = " << p.value << ", " << p.command;
}

class NonFinite : public ::testing::TestWithParam<Poisoned> {};

TEST_P(NonFinite, OutputIsAnErrorAndCheckWeightsNamesTheTensor) {
    const Poisoned& p = GetParam();
    testing::TempDir dir;
    const std::string model = testing::copy_golden(p.model, dir.path());
    const std::string file = model + "/" + p.file;
    const int64_t index = testing::numel_of(file, p.tensor) - 1;
    testing::poison(file, p.tensor, index, p.value);
    const std::string line = p.command == "rerank" ? R"({"query": "q", "passage": "p"})" : R"("Grüße")";
    const auto r = run_bge(p.command + " --model " + model, line + "\n" + line + "\n");
    expect_one_error(r, "stdin line 1: the ");
    EXPECT_NE(r.err.find("is not finite"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("the model's weights may be damaged"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");

    const auto check = run_bge("info --check-weights --model " + model, "");
    expect_one_error(check, "tensor '" + p.tensor + "' in " + file + ": element " + std::to_string(index));
    EXPECT_NE(check.err.find(std::isnan(p.value) ? "is NaN" : "is Inf"), std::string::npos) << check.err;
}

INSTANTIATE_TEST_SUITE_P(
    EachWeightFormat, NonFinite,
    ::testing::Values(Poisoned{"m3", "model.safetensors", "encoder.layer.1.output.dense.bias", NAN, "embed --dense"},
                      Poisoned{"m3-f16-sharded", "model-00002-of-00002.safetensors",
                               "encoder.layer.0.output.dense.weight", INFINITY, "embed --dense"},
                      Poisoned{"m3-bin", "pytorch_model.bin", "embeddings.LayerNorm.weight", NAN, "embed --colbert"},
                      Poisoned{"m3", "sparse_linear.pt", "bias", NAN, "embed --sparse"},
                      Poisoned{"m3", "sparse_linear.pt", "bias", -INFINITY, "embed --sparse"},
                      Poisoned{"m3", "colbert_linear.pt", "weight", INFINITY, "embed --colbert"},
                      Poisoned{"reranker", "model.safetensors", "classifier.out_proj.bias", INFINITY, "rerank"},
                      Poisoned{"reranker-bf16-bin", "pytorch_model.bin", "classifier.dense.weight", NAN, "rerank"}));

// json::dump throws on invalid UTF-8 by default; a folder name need not be UTF-8.
TEST(Hostile, FolderNameThatIsNotUtf8) {
    testing::TempDir dir;
    const std::string model = dir.path() + "/m3-\xff";
    fs::copy(kGolden + "m3", model, fs::copy_options::recursive);
    const auto r = run_bge("info --model " + testing::shell_quote(model), "");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("m3-\xef\xbf\xbd"), std::string::npos) << r.out;  // U+FFFD
}

TEST(Hostile, CheckWeightsOfAHealthyModel) {
    const auto r = run_bge("info --check-weights " + kM3, "");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["weights_check"]["result"], "all finite");
    EXPECT_GT(j["weights_check"]["tensors"].get<int>(), 30);
}

}  // namespace
}  // namespace bge
