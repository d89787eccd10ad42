#include <nlohmann/json.hpp>
#include <optional>

#include "io/le_bytes.h"
#include "io/tensor_file.h"

namespace bge::io {

namespace {

// The safetensors reference implementation refuses headers above 100 MB as well.
constexpr uint64_t kMaxHeaderSize = 100'000'000;
constexpr size_t kHeaderLengthSize = 8;

// Every dtype of the safetensors format, with its element width in bits. Those without a DType here
// are checked like the rest (offsets, byte count), then left out of the map so that extra entries do
// not fail the file; a weight stored in one of them shows up as missing.
struct DTypeInfo {
    const char* name;
    uint64_t bits;
    std::optional<DType> dtype;
};
constexpr DTypeInfo kDTypes[] = {
    {"F32", 32, DType::kF32},     {"F16", 16, DType::kF16},     {"BF16", 16, DType::kBF16},
    {"I64", 64, DType::kI64},     {"I32", 32, DType::kI32},     {"F64", 64, std::nullopt},
    {"C64", 64, std::nullopt},    {"U64", 64, std::nullopt},    {"U32", 32, std::nullopt},
    {"I16", 16, std::nullopt},    {"U16", 16, std::nullopt},    {"I8", 8, std::nullopt},
    {"U8", 8, std::nullopt},      {"BOOL", 8, std::nullopt},    {"F8_E4M3", 8, std::nullopt},
    {"F8_E5M2", 8, std::nullopt}, {"F8_E8M0", 8, std::nullopt}, {"F6_E2M3", 6, std::nullopt},
    {"F6_E3M2", 6, std::nullopt}, {"F4", 4, std::nullopt},
};

const DTypeInfo* find_dtype(const std::string& name) {
    for (const DTypeInfo& d : kDTypes) {
        if (name == d.name) return &d;
    }
    return nullptr;
}

// Reads a JSON unsigned integer; false for negatives, floats and anything else.
bool get_u64(const nlohmann::json& j, uint64_t* out) {
    if (!j.is_number_unsigned()) return false;
    *out = j.get<uint64_t>();
    return true;
}

// `data_area` holds `data_size` bytes: every tensor, back to back. A checked entry of a dtype
// without a DType yields nullopt.
StatusOr<std::optional<RawTensor>> parse_entry(const std::string& what, const nlohmann::json& entry,
                                               const uint8_t* data_area, uint64_t data_size) {
    if (!entry.is_object()) return data_loss(what + ": entry is not a JSON object");
    auto dtype_it = entry.find("dtype");
    auto shape_it = entry.find("shape");
    auto offsets_it = entry.find("data_offsets");
    if (dtype_it == entry.end() || !dtype_it->is_string()) {
        return data_loss(what + ": 'dtype' is missing or not a string");
    }
    if (shape_it == entry.end() || !shape_it->is_array()) {
        return data_loss(what + ": 'shape' is missing or not an array");
    }
    if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2) {
        return data_loss(what + ": 'data_offsets' is missing or not [begin, end]");
    }
    const std::string& dtype = dtype_it->get_ref<const std::string&>();
    const DTypeInfo* info = find_dtype(dtype);
    // Without a width its byte count cannot be checked, so an unknown name fails the file.
    if (info == nullptr) return unimplemented(what + ": dtype '" + dtype + "' is not a safetensors dtype");
    RawTensor t;
    uint64_t numel = 1;
    for (const nlohmann::json& d : *shape_it) {
        uint64_t dim = 0;
        if (!get_u64(d, &dim) || dim > static_cast<uint64_t>(INT64_MAX)) {
            return data_loss(what + ": shape " + shape_it->dump() + " has an entry that is not an integer >= 0");
        }
        if (__builtin_mul_overflow(numel, dim, &numel)) {
            return data_loss(what + ": shape " + shape_it->dump() + " overflows");
        }
        t.shape.push_back(static_cast<int64_t>(dim));
    }
    uint64_t nbits = 0;
    if (numel > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, info->bits, &nbits)) {
        return data_loss(what + ": shape " + shape_it->dump() + " overflows");
    }
    if (nbits % 8 != 0) {
        return data_loss(what + ": " + dtype + " " + shape_it->dump() + " does not fill whole bytes");
    }
    const uint64_t nbytes = nbits / 8;
    uint64_t begin = 0;
    uint64_t end = 0;
    if (!get_u64((*offsets_it)[0], &begin) || !get_u64((*offsets_it)[1], &end)) {
        return data_loss(what + ": data_offsets " + offsets_it->dump() + " are not integers >= 0");
    }
    if (begin > end || end > data_size) {
        return data_loss(what + ": data_offsets " + offsets_it->dump() + " lie outside the data area of " +
                         std::to_string(data_size) + " bytes");
    }
    if (end - begin != nbytes) {
        return data_loss(what + ": data_offsets " + offsets_it->dump() + " span " + std::to_string(end - begin) +
                         " bytes, but " + dtype + " " + shape_it->dump() + " needs " + std::to_string(nbytes));
    }
    if (!info->dtype) return std::optional<RawTensor>();
    t.dtype = *info->dtype;
    t.nbytes = static_cast<size_t>(nbytes);
    t.data = data_area + begin;
    return std::optional<RawTensor>(std::move(t));
}

}  // namespace

StatusOr<TensorMap> read_safetensors(std::shared_ptr<const MappedFile> file) {
    const std::string& path = file->path();
    const uint64_t size = file->size();
    if (size < kHeaderLengthSize) {
        return data_loss(path + ": truncated: " + std::to_string(size) + " bytes, a safetensors file needs at least 8");
    }
    const uint64_t header_size = load_le64(file->data());
    if (header_size > size - kHeaderLengthSize || header_size > kMaxHeaderSize) {
        return data_loss(path + ": header size " + std::to_string(header_size) + " is larger than the file (" +
                         std::to_string(size) + " bytes) or the 100 MB limit");
    }
    const auto* header_begin = reinterpret_cast<const char*>(file->data() + kHeaderLengthSize);
    nlohmann::json header =
        nlohmann::json::parse(header_begin, header_begin + header_size, /*cb=*/nullptr, /*allow_exceptions=*/false);
    if (header.is_discarded()) return data_loss(path + ": header is not valid JSON");
    if (!header.is_object()) return data_loss(path + ": header is not a JSON object");

    const uint8_t* data_area = file->data() + kHeaderLengthSize + header_size;
    const uint64_t data_size = size - kHeaderLengthSize - header_size;
    TensorMap tensors;
    for (const auto& [name, entry] : header.items()) {
        if (name == "__metadata__") {
            if (!entry.is_object()) return data_loss(path + ": __metadata__ is not a JSON object");
            continue;
        }
        BGE_ASSIGN_OR_RETURN(std::optional<RawTensor> t,
                             parse_entry(path + ": tensor '" + name + "'", entry, data_area, data_size));
        if (!t) continue;
        t->file = file;
        tensors.emplace(name, std::move(*t));
    }
    return tensors;
}

}  // namespace bge::io
