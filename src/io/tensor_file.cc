#include "io/tensor_file.h"

#include "io/file_magic.h"

namespace bge::io {

int64_t RawTensor::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::string RawTensor::shape_string() const {
    std::string s = "[";
    for (size_t k = 0; k < shape.size(); ++k) {
        if (k > 0) s += ", ";
        s += std::to_string(shape[k]);
    }
    return s + "]";
}

StatusOr<TensorMap> read_tensor_file(const std::string& path) {
    BGE_ASSIGN_OR_RETURN(std::shared_ptr<const MappedFile> file, MappedFile::open(path));
    if (is_zip(file->data(), file->size()) || is_legacy_torch_pickle(file->data(), file->size())) {
        return read_torch_checkpoint(std::move(file));
    }
    return read_safetensors(std::move(file));
}

}  // namespace bge::io
