// Test helpers that write checkpoint bytes by hand: safetensors files, zip archives (stored
// entries, optional torch-style 64-byte alignment and ZIP64 records) and state-dict pickles, and
// read tensor values back.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bge/status.h"
#include "io/tensor_file.h"
#include "support/temp_dir.h"

namespace bge::io::test_util {

using bge::testing::read_file;
using bge::testing::TempDir;

std::string f32_bytes(const std::vector<float>& v);

// A floating tensor's elements as fp32.
std::vector<float> to_f32(const RawTensor& t);

// A tensor's elements as T, copied (the data may be unaligned); empty, with a test failure, if the sizes disagree.
template <typename T>
std::vector<T> copy_as(const RawTensor& t) {
    if (dtype_size(t.dtype) != sizeof(T) || t.nbytes != static_cast<size_t>(t.numel()) * sizeof(T)) {
        ADD_FAILURE() << dtype_name(t.dtype) << " " << t.shape_string() << " (" << t.nbytes << " bytes) read as "
                      << sizeof(T) << "-byte elements";
        return {};
    }
    std::vector<T> out(t.nbytes / sizeof(T));
    if (t.nbytes > 0) std::memcpy(out.data(), t.data, t.nbytes);
    return out;
}

// 8-byte little-endian header length, the header, the data area.
std::string safetensors_bytes(const std::string& header_json, const std::string& data);

struct ZipMember {
    std::string name;
    std::string data;
    uint16_t method = 0;  // written as is; the data is never compressed
};

struct ZipOptions {
    size_t align = 0;    // pad each local header's extra field so data starts at a multiple (torch: 64)
    bool zip64 = false;  // 32-bit fields saturated, real values in ZIP64 extras and end records
};

std::string zip_bytes(const std::vector<ZipMember>& members, const ZipOptions& options = {});

// Builds pickles opcode by opcode.
class PickleWriter {
 public:
    PickleWriter& op(uint8_t code);
    PickleWriter& raw(const std::string& bytes);
    PickleWriter& proto(int version = 2);
    PickleWriter& mark() { return op('('); }
    PickleWriter& global(const std::string& module, const std::string& name);  // GLOBAL
    PickleWriter& str(const std::string& s);                                   // BINUNICODE
    PickleWriter& integer(int64_t v);  // BININT1 / BININT2 / BININT / LONG1, as Python picks
    PickleWriter& stop() { return op('.'); }
    const std::string& bytes() const { return bytes_; }

 private:
    std::string bytes_;
};

// One tensor of a hand-written state dict pickle, in torch.save's form.
struct TensorSpec {
    std::string name;
    std::string storage_type = "FloatStorage";
    std::string key = "0";
    int64_t storage_numel = 0;
    int64_t offset = 0;
    std::vector<int64_t> size;
    std::vector<int64_t> stride;
};

// PROTO 2, a dict of name -> _rebuild_tensor_v2(persistent storage, ...), STOP: what torch.save writes.
std::string state_dict_pickle(const std::vector<TensorSpec>& tensors);

// A torch.save-style zip: <prefix>/data.pkl and <prefix>/data/<key> for each storage, 64-byte aligned.
std::string torch_zip(const std::string& prefix, const std::string& pickle,
                      const std::vector<std::pair<std::string, std::string>>& storages, bool zip64 = false);

// Passes when `s` failed with `code` and its message contains every one of `needles`.
::testing::AssertionResult failed_with(const Status& s, StatusCode code, const std::vector<std::string>& needles);

}  // namespace bge::io::test_util
