// Hostile probes of the bge binary (issue 11), each run checked against the CLI's contract: no signal,
// no hang, bounded memory, exit 0 with one JSON line per input line, or exit 1 with exactly one
// "bge: ..." line and the output of every line before the one it names. Probes: option values at and
// past their bounds, mutated stdin bytes, special files in the model folder, NaN/Inf in every weight
// format. Randomized parts run BGE_FUZZ_SECONDS (default 3) and at least a few iterations, seeded by
// BGE_FUZZ_SEED (default 0x5eed) + iteration.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "cli_run.h"
#include "model_edit.h"
#include "support/fuzz_env.h"
#include "support/temp_dir.h"

namespace bge {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::CliRun;
using testing::run_bge;

const std::string kGolden = std::string(BGE_TEST_DIR) + "/golden/";
constexpr long kMaxRssKb = 1024 * 1024;

double fuzz_seconds() {
    return testing::fuzz_seconds(3.0);
}

std::vector<std::string> split_lines(const std::string& s) {
    std::vector<std::string> lines;
    size_t begin = 0;
    while (begin < s.size()) {
        size_t nl = s.find('\n', begin);
        if (nl == std::string::npos) nl = s.size();
        lines.push_back(s.substr(begin, nl - begin));
        begin = nl + 1;
    }
    return lines;
}

// The contract every run keeps. `input_lines` < 0: stdin is not JSON lines (bench, info).
void expect_contract(const CliResult& r, const std::string& what, int64_t input_lines) {
    ASSERT_FALSE(r.timed_out) << what;
    EXPECT_LT(r.max_rss_kb, kMaxRssKb) << what;
    ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1) << what << ": exit " << r.exit_code << "\n" << r.err;
    const auto out = split_lines(r.out);
    if (r.exit_code == 0) {
        EXPECT_EQ(r.err, "") << what;
        if (input_lines >= 0) {
            EXPECT_EQ(static_cast<int64_t>(out.size()), input_lines) << what;
        }
    } else {
        EXPECT_EQ(r.err.rfind("bge: ", 0), 0u) << what << ": " << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << what << ": " << r.err;
        const size_t at = r.err.find("stdin line ");
        if (input_lines >= 0 && at != std::string::npos) {
            const int64_t line = std::atoll(r.err.c_str() + at + 11);
            EXPECT_EQ(static_cast<int64_t>(out.size()), line - 1) << what << ": " << r.err;
        }
    }
    if (input_lines < 0) return;
    for (const std::string& line : out) {
        const auto j = nlohmann::json::parse(line, nullptr, false);
        ASSERT_FALSE(j.is_discarded()) << what << ": " << line.substr(0, 200);
        EXPECT_EQ(line.find("null"), std::string::npos) << what;
    }
}

struct OptionProbe {
    std::string command;  // "embed --model ...", without the option
    std::string option;
    std::vector<std::string> values;
};

TEST(CliFuzz, OptionValuesAtAndPastTheirBounds) {
    const std::string m3 = " --quiet --model " + kGolden + "m3";
    const std::string reranker = " --quiet --model " + kGolden + "reranker";
    const std::vector<std::string> junk = {"-1", "abc", "", "1.5", "2147483648", "99999999999999999999"};
    const std::vector<OptionProbe> probes = {
        {"tokenize --model " + kGolden + "m3", "--max-length", {"0", "1", "2", "128", "129", "8192", "2147483647"}},
        {"embed" + m3, "--max-length", {"0", "2", "3", "128", "129", "2147483647"}},
        {"embed" + m3, "--batch-size", {"0", "1", "65536", "65537", "2147483647"}},
        {"embed" + m3, "--max-line-bytes", {"0", "1", "40", "1073741824", "1073741825", "18446744073709551615"}},
        {"embed" + m3, "--max-batch-tokens", {"0", "1", "127", "128", "2147483647"}},
        {"embed" + m3, "--threads", {"0", "1", "2", "1025", "2147483647"}},
        {"rerank" + reranker, "--max-length", {"3", "4", "128", "129"}},
        {"rerank" + reranker, "--max-batch-tokens", {"1", "2147483647"}},
        {"score" + m3, "--weights", {"0,0,0", "1,0,0", "nan,1,1", "inf,1,1", "1e39,1,1", "-1,1,1", "1,1", "1,1,1,1"}},
        {"bench" + m3 + " --iterations 1 --warmup 0", "--tokens", {"0", "1", "2", "128", "129", "2147483647"}},
        {"bench" + m3 + " --iterations 1 --warmup 0 --tokens 8", "--batch", {"0", "1", "2147483647"}},
        {"bench" + m3 + " --tokens 8 --warmup 0", "--iterations", {"0", "1", "1000001"}},
        {"bench" + m3 + " --tokens 8 --iterations 1", "--warmup", {"0", "1000001"}},
        {"info --model " + kGolden + "reranker", "--threads", {"1", "1025"}},
    };
    const std::string input = "{\"text\": \"Grüße\", \"query\": \"q\", \"passage\": \"p\"}\n\"x\"\n";
    for (const OptionProbe& p : probes) {
        std::vector<std::string> values = p.values;
        values.insert(values.end(), junk.begin(), junk.end());
        for (const std::string& v : values) {
            const std::string args = p.command + " " + p.option + " " + testing::shell_quote(v);
            const auto r = run_bge(CliRun{.args = args, .input = input, .timeout_seconds = 60});
            const bool lines = p.command.rfind("bench", 0) != 0 && p.command.rfind("info", 0) != 0;
            // tokenize and embed read both lines; rerank and score refuse the second.
            expect_contract(r, args, lines ? 2 : -1);
        }
    }
}

// Valid lines cut, joined, flipped and sprinkled with NUL, CR, invalid UTF-8 and long runs.
std::string mutate_stdin(std::mt19937_64& rng) {
    static const std::vector<std::string> kLines = {"\"hello world\"",
                                                    "{\"text\": \"Grüße 日本\"}",
                                                    "\"\\ud83d\\ude00\"",
                                                    "\"a\\u0000b\"",
                                                    "{\"query\": \"q\", \"passage\": \"p\"}",
                                                    "[\"a\", \"b\"]",
                                                    "\"\""};
    std::string s;
    for (int n = 1 + static_cast<int>(rng() % 6); n > 0; --n) s += kLines[rng() % kLines.size()] + "\n";
    for (int m = static_cast<int>(rng() % 4); m > 0; --m) {
        const size_t at = s.empty() ? 0 : rng() % s.size();
        switch (rng() % 6) {
            case 0:
                s.insert(at, 1, '\0');
                break;
            case 1:
                s.insert(at, 1, '\r');
                break;
            case 2:
                s.insert(at, "\xff\xfe");
                break;
            case 3:
                s.insert(at, std::string(1 + rng() % 3000, "ab \"\n"[rng() % 5]));
                break;
            case 4:
                if (!s.empty()) s[at] = static_cast<char>(rng());
                break;
            default:
                s.resize(at);
                break;
        }
    }
    return s;
}

TEST(CliFuzz, MutatedStdinKeepsTheContract) {
    const std::vector<std::string> commands = {
        "tokenize --max-line-bytes 2000 --model " + kGolden + "m3",
        "embed --quiet --batch-size 3 --max-line-bytes 2000 --model " + kGolden + "m3",
        "rerank --quiet --model " + kGolden + "reranker"};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(fuzz_seconds());
    int iterations = 0;
    while (iterations < 12 || std::chrono::steady_clock::now() < deadline) {
        std::mt19937_64 rng(testing::fuzz_seed() + static_cast<uint64_t>(iterations));
        const std::string input = mutate_stdin(rng);
        const std::string& args = commands[static_cast<size_t>(iterations) % commands.size()];
        const auto r = run_bge(CliRun{.args = args, .input = input, .timeout_seconds = 60});
        expect_contract(r, args + " (iteration " + std::to_string(iterations) + ")",
                        static_cast<int64_t>(split_lines(input).size()));
        ++iterations;
    }
}

TEST(CliFuzz, StdinThatIsNotAFile) {
    testing::TempDir dir;
    const std::string args = "embed --quiet --model " + kGolden + "m3";
    for (const std::string& path : {dir.path(), std::string("/dev/null"), std::string("/dev/zero")}) {
        const auto r = run_bge(CliRun{.args = args, .stdin_path = path, .timeout_seconds = 60});
        expect_contract(r, path, 0);
        EXPECT_EQ(r.exit_code, path == "/dev/null" ? 0 : 1) << path << ": " << r.err;
    }
    const auto full = run_bge(CliRun{.args = args, .input = "\"a\"\n", .stdout_path = "/dev/full"});
    EXPECT_EQ(full.exit_code, 1);
}

// Every file the engine reads, replaced by each kind of special file.
TEST(CliFuzz, SpecialFilesInTheModelFolder) {
    const std::vector<std::pair<std::string, std::string>> files = {
        {"m3", "config.json"},
        {"m3", "tokenizer_config.json"},
        {"m3", "sentencepiece.bpe.model"},
        {"m3", "model.safetensors"},
        {"m3", "sparse_linear.pt"},
        {"m3", "colbert_linear.pt"},
        {"m3-bin", "pytorch_model.bin"},
        {"m3-f16-sharded", "model.safetensors.index.json"},
        {"m3-f16-sharded", "model-00002-of-00002.safetensors"},
    };
    for (const auto& [golden, name] : files) {
        for (const std::string kind : {"fifo", "/dev/zero", "/dev/null", "directory", "dangling"}) {
            testing::TempDir dir;
            const std::string model = testing::copy_golden(golden, dir.path());
            const std::string path = model + "/" + name;
            fs::remove(path);
            if (kind == "fifo") {
                ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
            } else if (kind == "directory") {
                fs::create_directory(path);
            } else {
                fs::create_symlink(kind == "dangling" ? model + "/missing" : kind, path);
            }
            for (const std::string cmd : {"info", "embed --quiet"}) {
                const std::string what = cmd + ": " + name + " as " + kind;
                const auto r =
                    run_bge(CliRun{.args = cmd + " --model " + model, .input = "\"a\"\n", .timeout_seconds = 20});
                expect_contract(r, what, -1);
                EXPECT_EQ(r.exit_code, 1) << what;
                EXPECT_NE(r.err.find(name), std::string::npos) << what << ": " << r.err;
            }
        }
    }
}

// A NaN or Inf at a random element of a random tensor: --check-weights names exactly that element,
// and every output is finite or an error for the input that met it.
TEST(CliFuzz, NonFiniteValuesInEveryWeightFormat) {
    struct Folder {
        std::string golden, file, command;
    };
    const std::vector<Folder> folders = {
        {"m3", "model.safetensors", "embed --quiet"},                             // F32 safetensors
        {"m3-f16-sharded", "model-00002-of-00002.safetensors", "embed --quiet"},  // F16
        {"m3-bin", "pytorch_model.bin", "embed --quiet"},                         // F32 torch zip
        {"m3-bin", "sparse_linear.pt", "embed --quiet"},
        {"m3-bin", "colbert_linear.pt", "embed --quiet"},
        {"reranker-bf16-bin", "pytorch_model.bin", "rerank --quiet"},  // BF16 torch zip
        {"reranker", "model.safetensors", "rerank --quiet"},
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(fuzz_seconds());
    int iterations = 0;
    while (iterations < static_cast<int>(folders.size()) || std::chrono::steady_clock::now() < deadline) {
        std::mt19937_64 rng(testing::fuzz_seed() + static_cast<uint64_t>(iterations));
        const Folder& f = folders[static_cast<size_t>(iterations) % folders.size()];
        testing::TempDir dir;
        const std::string model = testing::copy_golden(f.golden, dir.path());
        const std::string file = model + "/" + f.file;
        const std::vector<std::string> floating = testing::floating_tensors(file);
        const std::string tensor = floating[rng() % floating.size()];
        const int64_t index = static_cast<int64_t>(rng() % static_cast<uint64_t>(testing::numel_of(file, tensor)));
        const float value = std::array<float, 3>{NAN, INFINITY, -INFINITY}[rng() % 3];
        testing::poison(file, tensor, index, value);
        const std::string what = f.golden + "/" + f.file + " " + tensor + "[" + std::to_string(index) + "]";

        const auto check = run_bge("info --check-weights --model " + model, "");
        expect_contract(check, what, -1);
        EXPECT_EQ(check.exit_code, 1) << what;
        EXPECT_NE(check.err.find("tensor '" + tensor + "' in " + file + ": element " + std::to_string(index) + " "),
                  std::string::npos)
            << what << ": " << check.err;

        const std::string line = f.command.rfind("rerank", 0) == 0 ? R"({"query": "Grüße", "passage": "日本"})"
                                                                   : R"("Grüße aus Deutschland")";
        const auto r = run_bge(f.command + " --model " + model, line + "\n" + line + "\n");
        expect_contract(r, what, 2);
        if (r.exit_code == 1) {
            EXPECT_NE(r.err.find("weights may be damaged"), std::string::npos) << what << r.err;
        }
        ++iterations;
    }
}

}  // namespace
}  // namespace bge
