// Looks up checkpoint tensors by their Hugging Face names, checks shapes, gives their elements as fp32.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bge/status.h"
#include "io/tensor_file.h"

namespace bge {

// A tensor's elements as fp32: a view into the file mapping when stored as aligned F32 (no copy), else
// a converted copy. A view lives as long as the TensorMap it came from.
class F32Data {
 public:
    const float* data() const { return view_ ? view_ : owned_.data(); }
    size_t size() const { return size_; }
    std::vector<float> to_vector() const { return {data(), data() + size_}; }

 private:
    friend class WeightReader;
    const float* view_ = nullptr;
    std::vector<float> owned_;
    size_t size_ = 0;
};

class WeightReader {
 public:
    // `prefix` is prepended to every name asked for ("roberta." for ForSequenceClassification checkpoints).
    WeightReader(const io::TensorMap& tensors, std::string prefix) : tensors_(tensors), prefix_(std::move(prefix)) {}

    // The tensor `name` as fp32, row-major. A missing tensor, one whose shape is not `shape`, or one of a
    // non-floating dtype is an error naming the tensor, the expected and the found shape, and the file.
    StatusOr<F32Data> read(const std::string& name, const std::vector<int64_t>& shape) const;

    // The dtype of the tensor `name` (which must exist).
    StatusOr<DType> dtype_of(const std::string& name) const;

 private:
    const io::TensorMap& tensors_;
    std::string prefix_;
};

// "roberta." when the encoder's tensors carry that prefix (HF's task models), "" otherwise.
std::string encoder_prefix(const io::TensorMap& tensors);

}  // namespace bge
