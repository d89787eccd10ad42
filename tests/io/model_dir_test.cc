#include "io/model_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>

#include "io_test_util.h"

namespace bge::io {
namespace {

using test_util::failed_with;
using test_util::safetensors_bytes;
using test_util::TempDir;

// A one-tensor F32 safetensors file: name -> [value].
std::string one_tensor(const std::string& name, float value) {
    return safetensors_bytes(R"({")" + name + R"(":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                             test_util::f32_bytes({value}));
}

void write_required(const TempDir& dir) {
    dir.write("config.json", "{}");
    dir.write("sentencepiece.bpe.model", "spm");
}

// The BGE-M3 layout: required files, the optional head files, a single safetensors file.
TEST(ModelDir, FindsBgeM3Layout) {
    TempDir dir;
    write_required(dir);
    dir.write("model.safetensors", one_tensor("a", 1));
    dir.write("pytorch_model.bin", "unused");
    dir.write("sparse_linear.pt", "x");
    dir.write("colbert_linear.pt", "x");
    dir.write("tokenizer_config.json", "{}");
    auto f = find_model_files(dir.path());
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    const std::string d = dir.path() + "/";
    EXPECT_EQ(f->config_json, d + "config.json");
    EXPECT_EQ(f->sentencepiece_model, d + "sentencepiece.bpe.model");
    EXPECT_EQ(f->tokenizer_config_json, d + "tokenizer_config.json");
    EXPECT_EQ(f->weight_files, std::vector<std::string>{d + "model.safetensors"});
    EXPECT_EQ(f->sparse_linear, d + "sparse_linear.pt");
    EXPECT_EQ(f->colbert_linear, d + "colbert_linear.pt");
}

// Optional files absent stay empty; pytorch_model.bin is the last resort.
TEST(ModelDir, FallsBackToPytorchBin) {
    TempDir dir;
    write_required(dir);
    dir.write("pytorch_model.bin", "x");
    auto f = find_model_files(dir.path());
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    EXPECT_EQ(f->weight_files, std::vector<std::string>{dir.path() + "/pytorch_model.bin"});
    EXPECT_TRUE(f->tokenizer_config_json.empty());
    EXPECT_TRUE(f->sparse_linear.empty());
    EXPECT_TRUE(f->colbert_linear.empty());
}

// Anything but a regular file under a name the folder may hold is an error naming it, for required and
// optional files alike (skipping it would load another weight file or silently drop a head).
TEST(ModelDir, SpecialFilesAreRefusedNamingThem) {
    for (const char* name : {"config.json", "sparse_linear.pt", "pytorch_model.bin", "tokenizer_config.json"}) {
        for (const char* kind : {"fifo", "device", "directory", "dangling"}) {
            TempDir dir;
            write_required(dir);
            dir.write("model.safetensors", one_tensor("a", 1));
            const std::string p = dir.path() + "/" + name;
            std::filesystem::remove(p);
            const std::string k = kind;
            if (k == "fifo") {
                ASSERT_EQ(mkfifo(p.c_str(), 0600), 0);
            }
            if (k == "device") std::filesystem::create_symlink("/dev/null", p);
            if (k == "directory") std::filesystem::create_directory(p);
            if (k == "dangling") std::filesystem::create_symlink(dir.path() + "/missing", p);
            auto f = find_model_files(dir.path());
            ASSERT_FALSE(f.ok()) << name << " as " << kind;
            const std::string want = k == "fifo"        ? ": is a FIFO, not a regular file"
                                     : k == "device"    ? ": is a character device, not a regular file"
                                     : k == "directory" ? ": is a directory, not a regular file"
                                                        : ": a symlink to a missing file";
            EXPECT_EQ(f.status().message(), p + want);
        }
    }
}

// A sharded index lists each shard once, sorted; read_weight_files merges them.
TEST(ModelDir, ShardedIndex) {
    TempDir dir;
    write_required(dir);
    dir.write("model.safetensors.index.json",
              R"({"metadata":{},"weight_map":{"b":"s2.safetensors","a":"s1.safetensors","c":"s2.safetensors"}})");
    dir.write("s1.safetensors", one_tensor("a", 1));
    dir.write("s2.safetensors", safetensors_bytes(R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                                  R"("c":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                                  test_util::f32_bytes({2, 3})));
    dir.write("pytorch_model.bin", "unused");
    auto f = find_model_files(dir.path());
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    const std::string d = dir.path() + "/";
    EXPECT_EQ(f->weight_files, (std::vector<std::string>{d + "s1.safetensors", d + "s2.safetensors"}));
    auto w = read_weight_files(f->weight_files);
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    ASSERT_EQ(w->size(), 3u);
    float c = 0;  // the view may be unaligned
    std::memcpy(&c, w->at("c").data, sizeof c);
    EXPECT_EQ(c, 3.0f);
}

// Index problems: a missing shard, bad JSON, a path instead of a file name.
TEST(ModelDir, BadShardIndex) {
    TempDir dir;
    write_required(dir);
    dir.write("model.safetensors.index.json", R"({"weight_map":{"a":"s1.safetensors"}})");
    EXPECT_TRUE(failed_with(find_model_files(dir.path()).status(), StatusCode::kNotFound,
                            {"model.safetensors.index.json", "s1.safetensors"}));
    dir.write("model.safetensors.index.json", R"({"weight_map":)");
    EXPECT_TRUE(failed_with(find_model_files(dir.path()).status(), StatusCode::kDataLoss, {"not valid JSON"}));
    dir.write("model.safetensors.index.json", R"({"weight_map":{}})");
    EXPECT_TRUE(failed_with(find_model_files(dir.path()).status(), StatusCode::kDataLoss, {"weight_map"}));
    dir.write("model.safetensors.index.json", R"({"weight_map":{"a":"../config.json"}})");
    EXPECT_TRUE(failed_with(find_model_files(dir.path()).status(), StatusCode::kDataLoss,
                            {"'../config.json'", "not a plain file name"}));
}

// Missing required files are kNotFound naming the folder and the file; no weights lists all three candidates.
TEST(ModelDir, MissingFiles) {
    TempDir dir;
    const std::string d = dir.path();
    EXPECT_TRUE(failed_with(find_model_files(d + "/nope").status(), StatusCode::kNotFound, {d + "/nope"}));
    EXPECT_TRUE(failed_with(find_model_files(d).status(), StatusCode::kNotFound, {d, "config.json"}));
    dir.write("config.json", "{}");
    EXPECT_TRUE(failed_with(find_model_files(d).status(), StatusCode::kNotFound, {"sentencepiece.bpe.model"}));
    dir.write("sentencepiece.bpe.model", "spm");
    EXPECT_TRUE(failed_with(find_model_files(d).status(), StatusCode::kNotFound,
                            {d, "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"}));
}

// A tensor in two weight files is kDataLoss naming it and both files.
TEST(ModelDir, DuplicateTensorAcrossFiles) {
    TempDir dir;
    std::string a = dir.write("a.safetensors", one_tensor("w", 1));
    std::string b = dir.write("b.safetensors", one_tensor("w", 2));
    EXPECT_TRUE(failed_with(read_weight_files({a, b}).status(), StatusCode::kDataLoss, {"'w'", a, b}));
    EXPECT_TRUE(failed_with(read_weight_files({}).status(), StatusCode::kInvalidArgument, {"no weight files"}));
}

// read_text_file returns the bytes; a missing file is kNotFound naming it.
TEST(ModelDir, ReadTextFile) {
    TempDir dir;
    auto t = read_text_file(dir.write("config.json", "{\"hidden_size\": 8}\n"));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(*t, "{\"hidden_size\": 8}\n");
    auto e = read_text_file(dir.write("empty.json", ""));
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(*e, "");
    std::string missing = dir.path() + "/missing.json";
    EXPECT_TRUE(failed_with(read_text_file(missing).status(), StatusCode::kNotFound, {missing}));
}

}  // namespace
}  // namespace bge::io
