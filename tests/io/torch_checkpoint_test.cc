#include <gtest/gtest.h>

#include <cstring>

#include "io/tensor_file.h"
#include "io_test_util.h"

namespace bge::io {
namespace {

using test_util::failed_with;
using test_util::PickleWriter;
using test_util::TempDir;
using test_util::TensorSpec;
using test_util::to_f32;

const std::string kDataDir = std::string(BGE_TEST_DIR) + "/io/data/";

bool inside_mapping(const RawTensor& t) {
    auto* p = static_cast<const uint8_t*>(t.data);
    return p >= t.file->data() && p + t.nbytes <= t.file->data() + t.file->size();
}

// A plain dict written by torch.save: F32/F16/BF16 values exact, a view shares its base's storage in place.
TEST(TorchCheckpoint, ReadsTorchSaveDict) {
    auto r = read_tensor_file(kDataDir + "torch_dtypes.pt");
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_EQ(r->size(), 5u);
    const RawTensor& f32 = r->at("f32");
    EXPECT_EQ(f32.dtype, DType::kF32);
    EXPECT_EQ(f32.shape_string(), "[3, 4]");
    EXPECT_EQ(to_f32(f32), std::vector<float>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
    EXPECT_EQ(r->at("f16").dtype, DType::kF16);
    EXPECT_EQ(r->at("f16").shape_string(), "[2, 3]");
    EXPECT_EQ(to_f32(r->at("f16")), std::vector<float>({-0.75f, -0.5f, -0.25f, 0, 0.25f, 0.5f}));
    EXPECT_EQ(r->at("bf16").dtype, DType::kBF16);
    EXPECT_EQ(to_f32(r->at("bf16")), std::vector<float>({-1, -0.5f, 0, 0.5f, 1}));
    const RawTensor& row = r->at("f32_row1");
    EXPECT_EQ(row.shape_string(), "[4]");
    EXPECT_EQ(row.data, static_cast<const uint8_t*>(f32.data) + 4 * sizeof(float));
    EXPECT_EQ(to_f32(row), std::vector<float>({4, 5, 6, 7}));
    EXPECT_EQ(r->at("scalar").shape_string(), "[]");
    EXPECT_EQ(to_f32(r->at("scalar")), std::vector<float>({2.5f}));
    for (const auto& [name, t] : *r) {
        EXPECT_TRUE(inside_mapping(t)) << name;
        EXPECT_EQ(t.nbytes, static_cast<size_t>(t.numel()) * dtype_size(t.dtype)) << name;
    }
}

// A module state dict (OrderedDict + BUILD of _metadata) under the archive prefix "archive/".
TEST(TorchCheckpoint, ReadsStateDictWithOtherPrefix) {
    auto r = read_tensor_file(kDataDir + "linear_archive_prefix.pt");
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ(r->at("weight").shape_string(), "[1, 4]");
    EXPECT_EQ(to_f32(r->at("weight")), std::vector<float>({0, 0.125f, 0.25f, 0.375f}));
    EXPECT_EQ(to_f32(r->at("bias")), std::vector<float>({0.5f}));
}

// A module state dict with integer buffers (LongStorage position_ids, IntStorage ids) next to a float
// weight, as older transformers saved it: all three read back exactly, in place in the mapping.
TEST(TorchCheckpoint, ReadsLongAndIntStorageBuffers) {
    auto r = read_tensor_file(kDataDir + "int_buffers.pt");
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_EQ(r->size(), 3u);
    const RawTensor& pos = r->at("embeddings.position_ids");
    EXPECT_EQ(pos.dtype, DType::kI64);
    EXPECT_EQ(pos.shape_string(), "[1, 514]");
    std::vector<int64_t> arange(514);
    for (size_t k = 0; k < arange.size(); ++k) arange[k] = static_cast<int64_t>(k);
    EXPECT_EQ(test_util::copy_as<int64_t>(pos), arange);
    const RawTensor& types = r->at("embeddings.token_type_ids");
    EXPECT_EQ(types.dtype, DType::kI32);
    EXPECT_EQ(test_util::copy_as<int32_t>(types), std::vector<int32_t>({-7, 0, INT32_MAX}));
    EXPECT_EQ(to_f32(r->at("embeddings.word_embeddings.weight")), std::vector<float>({-2, -1, 0, 1, 2, 3}));
    for (const auto& [name, t] : *r) EXPECT_TRUE(inside_mapping(t)) << name;
}

// The pre-zip format is refused with the re-save hint, by both entry points.
TEST(TorchCheckpoint, LegacyFormatIsUnimplemented) {
    const std::string path = kDataDir + "legacy.pt";
    EXPECT_TRUE(failed_with(read_tensor_file(path).status(), StatusCode::kUnimplemented,
                            {path, "legacy (non-zip) PyTorch checkpoint is not supported",
                             "_use_new_zipfile_serialization=True", "safetensors"}));
    auto file = MappedFile::open(path);
    ASSERT_TRUE(file.ok());
    EXPECT_TRUE(failed_with(read_torch_checkpoint(*file).status(), StatusCode::kUnimplemented, {"legacy"}));
    // With pickle_protocol=4 a FRAME precedes the magic number.
    TempDir dir;
    std::string p4 = dir.write(
        "p4.pt", std::string("\x80\x04\x95\x0d\0\0\0\0\0\0\0\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 24));
    EXPECT_TRUE(failed_with(read_tensor_file(p4).status(), StatusCode::kUnimplemented, {p4, "legacy"}));
}

// A data.pkl calling os.system is refused at the GLOBAL, naming it and its offset; nothing runs.
TEST(TorchCheckpoint, MaliciousPickleIsRefused) {
    EXPECT_TRUE(failed_with(read_tensor_file(kDataDir + "malicious.pt").status(), StatusCode::kUnimplemented,
                            {"malicious.pt", "malicious/data.pkl", "byte 2", "GLOBAL", "'os.system' is not allowed"}));
}

// Hand-written checkpoint: one F32 tensor of a larger storage at an element offset.
std::string one_tensor_zip(const TensorSpec& spec, const std::string& storage, bool zip64 = false) {
    return test_util::torch_zip("m", test_util::state_dict_pickle({spec}), {{"0", storage}}, zip64);
}

TensorSpec row_spec() {
    return {.name = "w", .storage_numel = 6, .offset = 2, .size = {2, 2}, .stride = {2, 1}};
}

// The hand-written form reads back, with or without ZIP64 records.
TEST(TorchCheckpoint, HandWrittenZipAndZip64) {
    TempDir dir;
    for (bool zip64 : {false, true}) {
        auto r = read_tensor_file(
            dir.write("w.pt", one_tensor_zip(row_spec(), test_util::f32_bytes({0, 1, 2, 3, 4, 5}), zip64)));
        ASSERT_TRUE(r.ok()) << r.status().to_string();
        EXPECT_EQ(to_f32(r->at("w")), std::vector<float>({2, 3, 4, 5})) << zip64;
        EXPECT_TRUE(inside_mapping(r->at("w")));
    }
}

// A storage key the zip lacks is kDataLoss naming the tensor and the entry.
TEST(TorchCheckpoint, MissingStorageEntry) {
    TempDir dir;
    TensorSpec spec = row_spec();
    spec.key = "7";
    std::string path = dir.write("w.pt", one_tensor_zip(spec, test_util::f32_bytes({0, 1, 2, 3, 4, 5})));
    EXPECT_TRUE(failed_with(read_tensor_file(path).status(), StatusCode::kDataLoss,
                            {path, "tensor 'w'", "'m/data/7' is missing"}));
}

// A storage entry smaller than the pickle's element count is kDataLoss.
TEST(TorchCheckpoint, StorageEntryTooSmall) {
    TempDir dir;
    std::string path = dir.write("w.pt", one_tensor_zip(row_spec(), test_util::f32_bytes({0, 1, 2, 3, 4})));
    EXPECT_TRUE(failed_with(read_tensor_file(path).status(), StatusCode::kDataLoss,
                            {"tensor 'w'", "has 20 bytes", "declares 6 elements"}));
}

// A tensor reaching past its storage's element count is kDataLoss.
TEST(TorchCheckpoint, TensorPastItsStorage) {
    TempDir dir;
    TensorSpec spec = row_spec();
    spec.offset = 3;
    std::string path = dir.write("w.pt", one_tensor_zip(spec, test_util::f32_bytes({0, 1, 2, 3, 4, 5})));
    EXPECT_TRUE(failed_with(read_tensor_file(path).status(), StatusCode::kDataLoss, {"runs past its storage"}));
}

// Transposed strides are refused; a size-1 dim may carry any stride, as torch allows.
TEST(TorchCheckpoint, NonContiguousStride) {
    TempDir dir;
    TensorSpec spec = row_spec();
    spec.stride = {1, 2};
    std::string path = dir.write("w.pt", one_tensor_zip(spec, test_util::f32_bytes({0, 1, 2, 3, 4, 5})));
    EXPECT_TRUE(failed_with(read_tensor_file(path).status(), StatusCode::kUnimplemented,
                            {path, "not contiguous", "dim 1 has stride 2"}));
    spec = {.name = "v", .storage_numel = 2, .size = {1, 2}, .stride = {99, 1}};
    EXPECT_TRUE(read_tensor_file(dir.write("v.pt", one_tensor_zip(spec, test_util::f32_bytes({0, 1})))).ok());
}

// Storage types other than Float/Half/BFloat16/Long/Int are still forbidden globals.
TEST(TorchCheckpoint, OtherStorageTypesAreRefused) {
    TempDir dir;
    for (const char* type : {"DoubleStorage", "BoolStorage", "ByteStorage"}) {
        TensorSpec spec = row_spec();
        spec.storage_type = type;
        std::string path = dir.write("w.pt", one_tensor_zip(spec, std::string(48, '\0')));
        EXPECT_TRUE(failed_with(read_tensor_file(path).status(), StatusCode::kUnimplemented,
                                {path, "GLOBAL", std::string("'torch.") + type + "' is not allowed"}));
    }
}

// A hand-written LongStorage tensor at an element offset reads back in place with exact 64-bit values.
TEST(TorchCheckpoint, HandWrittenLongStorage) {
    TempDir dir;
    TensorSpec spec = row_spec();
    spec.storage_type = "LongStorage";
    const std::vector<int64_t> values = {0, 1, -2, INT64_MAX, INT64_MIN, int64_t{1} << 33};
    std::string storage(values.size() * sizeof(int64_t), '\0');
    std::memcpy(storage.data(), values.data(), storage.size());
    auto r = read_tensor_file(dir.write("w.pt", one_tensor_zip(spec, storage)));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    const RawTensor& w = r->at("w");
    EXPECT_EQ(w.dtype, DType::kI64);
    EXPECT_EQ(w.shape_string(), "[2, 2]");
    EXPECT_TRUE(inside_mapping(w));
    EXPECT_EQ(test_util::copy_as<int64_t>(w), std::vector<int64_t>(values.begin() + 2, values.end()));
}

// A compressed entry is refused with a hint instead of being misread.
TEST(TorchCheckpoint, CompressedEntryIsUnimplemented) {
    TempDir dir;
    std::string pickle = test_util::state_dict_pickle({row_spec()});
    std::string zip = test_util::zip_bytes({{"m/data.pkl", pickle}, {"m/data/0", std::string(24, '\0'), 8}});
    EXPECT_TRUE(failed_with(read_tensor_file(dir.write("w.pt", zip)).status(), StatusCode::kUnimplemented,
                            {"tensor 'w'", "'m/data/0' is compressed (method 8)"}));
}

// Archives without exactly one <name>/data.pkl are not checkpoints.
TEST(TorchCheckpoint, NoOrAmbiguousDataPkl) {
    TempDir dir;
    std::string path = dir.write("x.zip", test_util::zip_bytes({{"x/other.txt", "hi"}}));
    EXPECT_TRUE(failed_with(read_tensor_file(path).status(), StatusCode::kDataLoss, {path, "no <name>/data.pkl"}));
    path = dir.write("y.zip", test_util::zip_bytes({{"a/data.pkl", "."}, {"b/data.pkl", "."}}));
    EXPECT_TRUE(failed_with(read_tensor_file(path).status(), StatusCode::kDataLoss, {"more than one"}));
}

// A truncated archive (central directory cut off) is kDataLoss naming the file.
TEST(TorchCheckpoint, TruncatedArchive) {
    TempDir dir;
    std::string zip = one_tensor_zip(row_spec(), test_util::f32_bytes({0, 1, 2, 3, 4, 5}));
    std::string path = dir.write("cut.pt", zip.substr(0, zip.size() / 2));
    EXPECT_TRUE(failed_with(read_tensor_file(path).status(), StatusCode::kDataLoss, {path, "zip"}));
}

// Non-tensor values in the top-level dict are refused naming the key (nested dicts are not flattened).
TEST(TorchCheckpoint, NestedDictIsRefused) {
    TempDir dir;
    std::string pickle = PickleWriter().proto().op('}').str("inner").op('}').op('s').stop().bytes();
    std::string path = dir.write("n.pt", test_util::torch_zip("n", pickle, {}));
    EXPECT_TRUE(
        failed_with(read_tensor_file(path).status(), StatusCode::kUnimplemented, {"'inner' is a dict, not a tensor"}));
}

}  // namespace
}  // namespace bge::io
