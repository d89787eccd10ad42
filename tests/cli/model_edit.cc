#include "model_edit.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "io/tensor_file.h"

namespace bge::testing {
namespace {

namespace fs = std::filesystem;

const io::RawTensor& find(const io::TensorMap& tensors, const std::string& path, const std::string& tensor) {
    auto it = tensors.find(tensor);
    if (it == tensors.end()) throw std::runtime_error(tensor + " not in " + path);
    return it->second;
}

io::TensorMap read(const std::string& path) {
    auto tensors = io::read_tensor_file(path);
    if (!tensors.ok()) throw std::runtime_error(tensors.status().message());
    return std::move(tensors).value();
}

}  // namespace

std::string copy_golden(const std::string& name, const std::string& dir) {
    const std::string to = dir + "/" + name;
    fs::copy(std::string(BGE_TEST_DIR) + "/golden/" + name, to, fs::copy_options::recursive);
    return to;
}

void poison(const std::string& path, const std::string& tensor, int64_t index, float value) {
    uint64_t offset = 0;
    std::string bytes;
    {
        const io::TensorMap tensors = read(path);
        const io::RawTensor& t = find(tensors, path, tensor);
        if (index < 0 || index >= t.numel()) throw std::runtime_error("index out of " + tensor);
        offset = static_cast<uint64_t>(static_cast<const uint8_t*>(t.data) - t.file->data()) +
                 static_cast<uint64_t>(index) * dtype_size(t.dtype);
        uint32_t f;
        std::memcpy(&f, &value, 4);
        if (t.dtype == DType::kF32) {
            bytes.assign(reinterpret_cast<const char*>(&f), 4);
        } else {
            uint16_t h = static_cast<uint16_t>(f >> 16);  // bf16: the top half
            if (t.dtype == DType::kF16) {
                h = static_cast<uint16_t>(((f >> 16) & 0x8000) | (std::isnan(value) ? 0x7e00 : 0x7c00));
                if (std::isfinite(value)) throw std::runtime_error("poison writes NaN or Inf only");
            }
            bytes.assign(reinterpret_cast<const char*>(&h), 2);
        }
    }
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) throw std::runtime_error("cannot write " + path);
}

std::vector<std::string> floating_tensors(const std::string& path) {
    std::vector<std::string> names;
    for (const auto& [name, t] : read(path)) {
        if ((t.dtype == DType::kF32 || t.dtype == DType::kF16 || t.dtype == DType::kBF16) && t.numel() > 0) {
            names.push_back(name);
        }
    }
    return names;
}

int64_t numel_of(const std::string& path, const std::string& tensor) {
    const io::TensorMap tensors = read(path);
    return find(tensors, path, tensor).numel();
}

}  // namespace bge::testing
