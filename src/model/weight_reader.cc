#include "model/weight_reader.h"

namespace bge {
namespace {

std::string shape_string(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

}  // namespace

StatusOr<F32Data> WeightReader::read(const std::string& name, const std::vector<int64_t>& shape) const {
    const std::string full = prefix_ + name;
    auto it = tensors_.find(full);
    if (it == tensors_.end()) return not_found("tensor '" + full + "' is missing from the checkpoint");
    const io::RawTensor& t = it->second;
    const std::string file = t.file ? t.file->path() : "?";
    if (t.shape != shape) {
        return invalid_argument("tensor '" + full + "' in " + file + ": expected shape " + shape_string(shape) +
                                ", found " + t.shape_string());
    }
    if (t.dtype != DType::kF32 && t.dtype != DType::kF16 && t.dtype != DType::kBF16) {
        return invalid_argument("tensor '" + full + "' in " + file + ": dtype " + dtype_name(t.dtype) +
                                " is not a floating type");
    }
    F32Data out;
    out.size_ = static_cast<size_t>(t.numel());
    if (t.dtype == DType::kF32 && reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0) {
        out.view_ = static_cast<const float*>(t.data);
    } else {
        out.owned_.resize(out.size_);
        convert_to_f32(t.dtype, t.data, out.size_, out.owned_.data());
    }
    return out;
}

StatusOr<DType> WeightReader::dtype_of(const std::string& name) const {
    auto it = tensors_.find(prefix_ + name);
    if (it == tensors_.end()) return not_found("tensor '" + prefix_ + name + "' is missing from the checkpoint");
    return it->second.dtype;
}

std::string encoder_prefix(const io::TensorMap& tensors) {
    return tensors.count("roberta.embeddings.word_embeddings.weight") ? "roberta." : "";
}

}  // namespace bge
