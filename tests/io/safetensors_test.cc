#include <gtest/gtest.h>

#include <cstring>

#include "io/tensor_file.h"
#include "io_test_util.h"

namespace bge::io {
namespace {

using test_util::failed_with;
using test_util::safetensors_bytes;
using test_util::TempDir;
using test_util::to_f32;

const std::string kDataDir = std::string(BGE_TEST_DIR) + "/io/data/";

StatusOr<TensorMap> read_bytes(const TempDir& dir, const std::string& bytes) {
    return read_tensor_file(dir.write("t.safetensors", bytes));
}

// A file written by the safetensors Python package reads back with exact values in all three float dtypes.
TEST(Safetensors, ReadsPythonFixture) {
    auto r = read_tensor_file(kDataDir + "dtypes.safetensors");
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_EQ(r->size(), 3u);
    const RawTensor& f32 = r->at("f32");
    EXPECT_EQ(f32.dtype, DType::kF32);
    EXPECT_EQ(f32.shape_string(), "[3, 4]");
    EXPECT_EQ(f32.nbytes, 48u);
    EXPECT_EQ(to_f32(f32), std::vector<float>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
    const RawTensor& f16 = r->at("f16");
    EXPECT_EQ(f16.dtype, DType::kF16);
    EXPECT_EQ(f16.shape_string(), "[2, 3]");
    EXPECT_EQ(to_f32(f16), std::vector<float>({-0.75f, -0.5f, -0.25f, 0, 0.25f, 0.5f}));
    const RawTensor& bf16 = r->at("bf16");
    EXPECT_EQ(bf16.dtype, DType::kBF16);
    EXPECT_EQ(bf16.shape_string(), "[5]");
    EXPECT_EQ(to_f32(bf16), std::vector<float>({-1, -0.5f, 0, 0.5f, 1}));
}

// Views point into the file's mapping (no copy) and keep it alive.
TEST(Safetensors, ViewsPointIntoTheMapping) {
    TempDir dir;
    std::string header = R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("e":{"dtype":"F16","shape":[0,3],"data_offsets":[8,8]},)"
                         R"("s":{"dtype":"BF16","shape":[],"data_offsets":[8,10]}})";
    std::string data = test_util::f32_bytes({1.5f, -2}) + std::string("\x80\x3f", 2);  // bf16 1.0
    auto r = read_bytes(dir, safetensors_bytes(header, data));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_EQ(r->size(), 3u);
    const RawTensor& a = r->at("a");
    const uint8_t* base = a.file->data();
    EXPECT_EQ(static_cast<const uint8_t*>(a.data), base + 8 + header.size());
    EXPECT_EQ(to_f32(a), std::vector<float>({1.5f, -2}));
    EXPECT_EQ(r->at("e").numel(), 0);
    EXPECT_EQ(r->at("e").nbytes, 0u);
    EXPECT_EQ(r->at("s").numel(), 1);
    EXPECT_EQ(r->at("s").shape_string(), "[]");
    EXPECT_EQ(to_f32(r->at("s")), std::vector<float>({1}));
    std::weak_ptr<const MappedFile> weak = a.file;
    TensorMap keep = std::move(*r);
    EXPECT_FALSE(weak.expired());
    keep.clear();
    EXPECT_TRUE(weak.expired());
}

// Fewer than 8 bytes: truncated, naming the file.
TEST(Safetensors, TruncatedFile) {
    TempDir dir;
    std::string path = dir.write("short.safetensors", "abc");
    EXPECT_TRUE(failed_with(read_tensor_file(path).status(), StatusCode::kDataLoss, {path, "truncated"}));
}

// A header length beyond the file is refused before any parsing.
TEST(Safetensors, HeaderSizeTooLarge) {
    TempDir dir;
    std::string bytes = safetensors_bytes("{}", "");
    bytes[0] = 100;
    EXPECT_TRUE(
        failed_with(read_bytes(dir, bytes).status(), StatusCode::kDataLoss, {"t.safetensors", "header size 100"}));
    bytes = std::string("\xff\xff\xff\xff\xff\xff\xff\xff", 8) + "{}";
    EXPECT_TRUE(failed_with(read_bytes(dir, bytes).status(), StatusCode::kDataLoss, {"header size"}));
}

// Headers that are not a JSON object.
TEST(Safetensors, BadJson) {
    TempDir dir;
    EXPECT_TRUE(failed_with(read_bytes(dir, safetensors_bytes(R"({"a":)", "")).status(), StatusCode::kDataLoss,
                            {"t.safetensors", "not valid JSON"}));
    EXPECT_TRUE(failed_with(read_bytes(dir, safetensors_bytes("[1]", "")).status(), StatusCode::kDataLoss,
                            {"not a JSON object"}));
    EXPECT_TRUE(failed_with(read_bytes(dir, safetensors_bytes(R"({"__metadata__":3})", "")).status(),
                            StatusCode::kDataLoss, {"__metadata__"}));
}

// Offsets outside the data area, reversed, or not integers.
TEST(Safetensors, OffsetsOutOfRange) {
    TempDir dir;
    auto read = [&](const std::string& offsets) {
        return read_bytes(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":)" + offsets + "}}",
                                                 std::string(8, '\0')))
            .status();
    };
    EXPECT_TRUE(failed_with(read("[4,12]"), StatusCode::kDataLoss, {"tensor 'w'", "outside the data area of 8 bytes"}));
    EXPECT_TRUE(failed_with(read("[8,0]"), StatusCode::kDataLoss, {"tensor 'w'", "outside"}));
    EXPECT_TRUE(failed_with(read("[0,18446744073709551615]"), StatusCode::kDataLoss, {"tensor 'w'", "outside"}));
    EXPECT_TRUE(failed_with(read("[-1,7]"), StatusCode::kDataLoss, {"tensor 'w'", "not integers"}));
    EXPECT_TRUE(failed_with(read("[0.0,8]"), StatusCode::kDataLoss, {"tensor 'w'", "not integers"}));
    EXPECT_TRUE(failed_with(read("[0]"), StatusCode::kDataLoss, {"tensor 'w'", "data_offsets"}));
    EXPECT_TRUE(read("[0,8]").ok());
}

// The byte span must equal numel * dtype size.
TEST(Safetensors, WrongByteCount) {
    TempDir dir;
    std::string header = R"({"w":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}})";
    EXPECT_TRUE(failed_with(read_bytes(dir, safetensors_bytes(header, std::string(8, '\0'))).status(),
                            StatusCode::kDataLoss, {"t.safetensors", "tensor 'w'", "span 8 bytes", "needs 6"}));
}

// A Python-written file with I64/I32 buffers next to a float weight: integers read back exactly
// (including one past 32 bits), F64/BOOL/U8 entries are left out.
TEST(Safetensors, ReadsIntegerBuffersAndSkipsOtherDtypes) {
    auto r = read_tensor_file(kDataDir + "int_buffers.safetensors");
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->size(), 4u);
    for (const char* skipped : {"skipped_f64", "skipped_bool", "skipped_u8"}) EXPECT_EQ(r->count(skipped), 0u);
    const RawTensor& pos = r->at("embeddings.position_ids");
    EXPECT_EQ(pos.dtype, DType::kI64);
    EXPECT_EQ(pos.shape_string(), "[1, 514]");
    std::vector<int64_t> arange(514);
    for (size_t k = 0; k < arange.size(); ++k) arange[k] = static_cast<int64_t>(k);
    EXPECT_EQ(test_util::copy_as<int64_t>(pos), arange);
    EXPECT_EQ(r->at("big_i64").dtype, DType::kI64);
    EXPECT_EQ(test_util::copy_as<int64_t>(r->at("big_i64")), std::vector<int64_t>({-1, (int64_t{1} << 40) + 3}));
    const RawTensor& types = r->at("embeddings.token_type_ids");
    EXPECT_EQ(types.dtype, DType::kI32);
    EXPECT_EQ(test_util::copy_as<int32_t>(types), std::vector<int32_t>({-7, 0, INT32_MAX}));
    EXPECT_EQ(to_f32(r->at("embeddings.word_embeddings.weight")), std::vector<float>({-2, -1, 0, 1, 2, 3}));
}

// Entries of dtypes that are left out are still checked: a bad span fails the whole file.
TEST(Safetensors, SkippedDtypesAreStillChecked) {
    TempDir dir;
    auto read = [&](const std::string& dtype, const std::string& shape, const std::string& offsets) {
        std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":{"dtype":")" + dtype +
                             R"(","shape":)" + shape + R"(,"data_offsets":)" + offsets + "}}";
        return read_bytes(dir, safetensors_bytes(header, std::string(12, '\0')));
    };
    for (const char* dtype : {"F64", "U64", "C64"}) {
        auto ok = read(dtype, "[1]", "[4,12]");
        ASSERT_TRUE(ok.ok()) << dtype << ": " << ok.status().to_string();
        EXPECT_EQ(ok->size(), 1u) << dtype;
        EXPECT_EQ(ok->count("w"), 1u) << dtype;
    }
    EXPECT_TRUE(read("BOOL", "[8]", "[4,12]").ok());
    EXPECT_TRUE(read("F4", "[2,3]", "[4,7]").ok());
    EXPECT_TRUE(failed_with(read("F64", "[2]", "[4,12]").status(), StatusCode::kDataLoss,
                            {"t.safetensors", "tensor 'x'", "span 8 bytes", "needs 16"}));
    EXPECT_TRUE(failed_with(read("U8", "[4]", "[10,14]").status(), StatusCode::kDataLoss,
                            {"tensor 'x'", "outside the data area of 12 bytes"}));
    EXPECT_TRUE(failed_with(read("I16", "[-1]", "[4,6]").status(), StatusCode::kDataLoss, {"tensor 'x'", "shape"}));
    EXPECT_TRUE(failed_with(read("F4", "[3]", "[4,6]").status(), StatusCode::kDataLoss,
                            {"tensor 'x'", "does not fill whole bytes"}));
    EXPECT_TRUE(failed_with(read("F8_E4M3", "[4611686018427387904,4]", "[4,12]").status(), StatusCode::kDataLoss,
                            {"tensor 'x'", "overflows"}));
}

// A dtype name the format does not define cannot be checked and is kUnimplemented naming tensor and dtype.
TEST(Safetensors, UnknownDtype) {
    TempDir dir;
    for (const char* dtype : {"XYZ", "f32", "I128"}) {
        std::string header = std::string(R"({"ids":{"dtype":")") + dtype + R"(","shape":[1],"data_offsets":[0,8]}})";
        EXPECT_TRUE(failed_with(read_bytes(dir, safetensors_bytes(header, std::string(8, '\0'))).status(),
                                StatusCode::kUnimplemented, {"tensor 'ids'", std::string("'") + dtype + "'"}));
    }
}

// Negative, fractional, and overflowing shapes; missing or mistyped fields.
TEST(Safetensors, BadShapesAndFields) {
    TempDir dir;
    auto read = [&](const std::string& entry) {
        return read_bytes(dir, safetensors_bytes(R"({"w":)" + entry + "}", std::string(8, '\0'))).status();
    };
    EXPECT_TRUE(failed_with(read(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})"), StatusCode::kDataLoss,
                            {"tensor 'w'", "shape"}));
    EXPECT_TRUE(failed_with(read(R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})"), StatusCode::kDataLoss,
                            {"tensor 'w'", "shape"}));
    EXPECT_TRUE(failed_with(read(R"({"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]})"),
                            StatusCode::kDataLoss, {"tensor 'w'", "overflows"}));
    EXPECT_TRUE(failed_with(read(R"({"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8]})"),
                            StatusCode::kDataLoss, {"tensor 'w'", "overflows"}));
    EXPECT_TRUE(failed_with(read(R"({"shape":[2],"data_offsets":[0,8]})"), StatusCode::kDataLoss, {"'dtype'"}));
    EXPECT_TRUE(
        failed_with(read(R"({"dtype":"F32","shape":2,"data_offsets":[0,8]})"), StatusCode::kDataLoss, {"'shape'"}));
    EXPECT_TRUE(failed_with(read(R"([1,2])"), StatusCode::kDataLoss, {"tensor 'w'", "not a JSON object"}));
}

}  // namespace
}  // namespace bge::io
